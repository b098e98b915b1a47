"""The checks and the report (docs/event-log-format.md section 8): chain, heads, completeness, count."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from operator import attrgetter
from typing import Any

from .canonical import (
    AFTER_CLOSE,
    GENESIS_HASH,
    BadLine,
    LogEvent,
    LogHeader,
    is_hex_digest,
    line_locator,
    parse_event,
    parse_header,
    parse_json_line,
)
from .recount import MeetingFold, Uncountable, recount_differences
from .spelling import canonical_string, read_event


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the log; line 1 is the header, None for problems of no line."""

    line_no: int | None
    position: int | None
    version: int | None
    code: str
    message: str
    message_zh: str


@dataclass(frozen=True)
class TrustedHead:
    """Where a head hash published outside the platform was found in the log."""

    hash: str
    found: bool
    version: int | None = None
    position: int | None = None
    line_no: int | None = None


@dataclass
class VerifyReport:
    """The verdict. ``head_hash``/``verified_count`` describe the longest prefix that passed."""

    ok: bool
    county: str | None
    stream: str | None
    event_count: int
    head_hash: str | None
    problems: list[Problem] = field(default_factory=list)
    verified_count: int = 0
    exported_at: str | None = None
    trusted_heads: list[TrustedHead] = field(default_factory=list)
    results_recounted: int = 0  # ResultsAnnounced events recounted without a difference
    closed_at: int | None = None  # version of MeetingClosed, when the log has one
    prefix_only: bool = False  # trusted heads given, the latest found is not the last event
    public: bool = False  # a public log (section 14)
    redacted: int = 0  # its events whose content was redacted
    last_redacted: int | None = None  # the version of the last of them

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        result = asdict(self)
        result["first_problem"] = asdict(self.problems[0]) if self.problems else None
        return result


def _short(digest: str | None) -> str:
    return "null" if digest is None else digest[:16] + "…"


def _where(problem: Problem) -> str:
    if problem.line_no is None:
        return ""
    if problem.position is None and problem.version is None:
        return f" at line {problem.line_no}"
    position = "-" if problem.position is None else problem.position
    version = "-" if problem.version is None else problem.version
    return f" at line {problem.line_no} (position {position}, version {version})"


def normalise_heads(trusted_heads: Sequence[str]) -> list[str]:
    """Trusted heads in lower case without repeats; ValueError if one is not 64 hex digits."""
    heads: list[str] = []
    for head in [trusted_heads] if isinstance(trusted_heads, str) else trusted_heads:
        normalised = head.strip().lower()  # copied from paper in any case
        if not is_hex_digest(normalised):
            raise ValueError(f"可信头哈希必须是 64 位十六进制数 / trusted head must be 64 hex digits: {head!r}")
        if normalised not in heads:
            heads.append(normalised)
    return heads


def _check_link(event: LogEvent, header: LogHeader, expected: int, previous_hash: str,
                previous_position: int | None) -> tuple[str, str, str] | None:
    """(code, en, zh) of the first broken rule of one event, in the order of section 8; None if it holds."""
    if event.stream != header.stream:
        return ("stream_mismatch", f"event belongs to stream {event.stream!r}, the header says {header.stream!r}",
                f"事件属于会议流 {event.stream!r}，与文件头 {header.stream!r} 不一致")
    if previous_position is not None and event.position <= previous_position:
        return ("position_not_increasing", f"position {event.position} does not follow the previous position {previous_position}",
                f"日志位置 {event.position} 未大于上一条的位置 {previous_position}")
    if event.version != expected:
        if event.version < expected:
            what, what_zh = "events repeated or out of order", "事件重复或顺序被打乱"
        else:
            span = f"{expected}" if event.version == expected + 1 else f"{expected}–{event.version - 1}"
            what = f"{'version' if event.version == expected + 1 else 'versions'} {span} missing"
            what_zh = f"缺少第 {span} 版"
        return ("version_gap", f"expected version {expected}, found {event.version}: {what}",
                f"应为第 {expected} 版，实际为第 {event.version} 版：{what_zh}")
    if expected == 1 and event.prev_hash != GENESIS_HASH:
        return ("bad_genesis", f"the first event must have prev_hash {_short(GENESIS_HASH)} (64 zeros), found {_short(event.prev_hash)}",
                f"第一条事件的 prev_hash 必须是 64 个 0，实际为 {_short(event.prev_hash)}")
    if expected > 1 and event.prev_hash != previous_hash:
        return ("prev_hash_mismatch", f"prev_hash {_short(event.prev_hash)} does not equal the previous event's hash "
                f"{_short(previous_hash)}: an event was removed, inserted or changed before this one",
                f"prev_hash {_short(event.prev_hash)} 与上一条事件的哈希 {_short(previous_hash)} 不一致：此前有事件被删除、插入或篡改")
    if event.hash != event.computed_hash:
        return ("hash_mismatch", f"stored hash {_short(event.hash)} does not match the content, which hashes to "
                f"{_short(event.computed_hash)}: this event was altered",
                f"记录的哈希 {_short(event.hash)} 与内容计算出的 {_short(event.computed_hash)} 不一致：该事件内容被改动")
    return None


# A LogEvent's fields in order, as read_event gives them.
_EVENT_FIELDS = attrgetter("position", "stream", "version", "prev_hash", "hash", "computed_hash", "type", "data", "redacted")
# The only types _meeting_problems looks at while the meeting is not closed.
_MEETING_CHECKED = frozenset({"MeetingClosed", "ResultsAnnounced"})


def _meeting_problems(kind: str, data: dict[str, Any], fold: MeetingFold, closed_at: int | None) -> list[tuple[str, str, str]]:
    """Completeness and recount of one chained event (section 13)."""
    if closed_at is not None and kind not in AFTER_CLOSE:
        return [("events_after_close", f"{kind} after the meeting was closed at version {closed_at}: "
                 "a closed meeting's log ends at its close", f"会议已在第 {closed_at} 版结束，之后不应再有 {kind}")]
    if kind == "MeetingClosed" and not fold.announced:
        return [("close_without_results", "the meeting is closed but no results were announced before",
                 "会议已结束，但此前没有公布结果")]
    if kind != "ResultsAnnounced":
        return []
    try:
        found = recount_differences(fold, data)
    except (Uncountable, KeyError, TypeError, AttributeError, ZeroDivisionError, ValueError) as exc:
        return [("recount_impossible", f"the announced results cannot be recounted from this log: {exc}",
                 f"无法根据本日志重新计票：{exc}")]
    out = []
    for path, announced, recounted in found:
        where, where_zh = path, path
        match = re.match(r"subjects\[([^\]]+)\]\.?(.*)", path)
        if match:
            name = next((s.get("name") for s in fold.subjects if s.get("subject_id") == match[1]), match[1])
            where, where_zh = f"subject {name} ({match[1]}): {match[2]}", f"述评对象 {name}（{match[1]}）：{match[2]}"
        out.append(("recount_mismatch", f"{where}: announced {announced!r}, recounted {recounted!r}",
                    f"{where_zh}：公布为 {announced!r}，重新计票为 {recounted!r}"))
    return out


def verify_lines(lines: Iterable[str | bytes], *, trusted_heads: Sequence[str] = ()) -> VerifyReport:
    """Verify an exported log given as lines; ValueError if a trusted head is not 64 hex digits."""
    heads = normalise_heads(trusted_heads)
    iterator = iter(lines)
    first = next(iterator, None)
    try:
        if first is None:
            raise BadLine("the file is empty (no header line)", "文件为空（没有文件头）")
        header = parse_header(first)
    except BadLine as exc:
        return VerifyReport(False, None, None, 0, None, [Problem(1, None, None, "bad_header", exc.message, exc.message_zh)])
    problems: list[Problem] = []
    found: dict[str, TrustedHead] = {}
    fold, closed_at, recounted = MeetingFold(), None, 0
    redacted, last_redacted = 0, None
    line_no = event_lines = verified = 0
    previous_hash, previous_position, broken_at = GENESIS_HASH, None, None
    county_json, public, stream = canonical_string(header.county), header.public, header.stream
    folded = MeetingFold.FOLDED
    quick = strict = 0  # lines read by the export's spelling, and by the strict path although they were fine
    for line_no, raw in enumerate(iterator, start=2):
        event_lines += 1
        if broken_at is not None:
            continue  # past the first break nothing can be trusted: count the lines only
        # The export's own spelling is read quickly; any other line (or any doubt) strictly. A file
        # spelled otherwise (an older export, another tool) stops trying after a few lines.
        fields = read_event(raw, county_json, public) if strict <= quick + 8 else None
        if fields is None:
            obj: Any = None
            try:
                obj = parse_json_line(raw)
                fields = _EVENT_FIELDS(parse_event(obj, header.county, public=public))
            except BadLine as exc:
                problems.append(Problem(line_no, *line_locator(obj), "bad_line", exc.message, exc.message_zh))
                broken_at = line_no
                continue
            strict += 1
        else:
            quick += 1
        position, event_stream, version, prev_hash, digest, computed, kind, data, is_redacted = fields
        # The links of section 8 (checks 3 to 8): when all hold, one expression; else the first broken.
        if not (event_stream == stream and (previous_position is None or position > previous_position)
                and version == verified + 1 and prev_hash == previous_hash and digest == computed):
            failure = _check_link(LogEvent(*fields), header, verified + 1, previous_hash, previous_position)
            if failure is not None:
                problems.append(Problem(line_no, position, version, *failure))
                broken_at = line_no
                continue
        verified, previous_hash, previous_position = verified + 1, digest, position
        if is_redacted:
            redacted, last_redacted = redacted + 1, version
        if digest in heads and digest not in found:
            found[digest] = TrustedHead(digest, True, version, position, line_no)
        if closed_at is not None or kind in _MEETING_CHECKED:
            meeting = _meeting_problems(kind, data, fold, closed_at)
            problems += [Problem(line_no, position, version, *p) for p in meeting]
            recounted += kind == "ResultsAnnounced" and not meeting
            if kind == "MeetingClosed" and closed_at is None:
                closed_at = version
        if kind in folded:
            try:
                fold.apply(kind, data)
            except (KeyError, TypeError, AttributeError):
                pass  # a malformed meeting event: the recount that needs it says so
    if event_lines != header.event_count:
        problems.append(Problem(1, None, None, "count_mismatch", f"the header announces {header.event_count} events but the file has {event_lines}",
                                f"文件头声明 {header.event_count} 条事件，文件中实际有 {event_lines} 条"))
    head = previous_hash if verified else None
    if broken_at is None and head != header.head_hash:  # only meaningful when the whole chain held
        problems.append(Problem(1, None, None, "head_mismatch", f"the header's head_hash {_short(header.head_hash)} is not the hash of the last event {_short(head)}",
                                f"文件头的 head_hash {_short(header.head_hash)} 与最后一条事件的哈希 {_short(head)} 不一致"))
    results = []
    for trusted in heads:
        results.append(found.get(trusted, TrustedHead(trusted, False)))
        if trusted in found:
            continue
        if broken_at is None:
            message = (f"trusted head {trusted} is not the hash of any event in this log: the history "
                       "was rewritten or truncated after that head was published")
            message_zh = f"可信头哈希 {trusted} 不是本日志中任何事件的哈希：该哈希公布之后，历史记录被改写或截断"
        else:
            message = f"trusted head {trusted} is not among the events verified before the break at line {broken_at}"
            message_zh = f"在第 {broken_at} 行断链之前已校验的事件中找不到可信头哈希 {trusted}"
        problems.append(Problem(None, None, None, "trusted_head_missing", message, message_zh))
    pinned = max((t.version or 0 for t in results if t.found), default=None)
    return VerifyReport(ok=not problems, county=header.county, stream=header.stream, event_count=event_lines,
                        head_hash=head, problems=problems, verified_count=verified, exported_at=header.exported_at,
                        trusted_heads=results, results_recounted=recounted, closed_at=closed_at,
                        prefix_only=pinned is not None and pinned < event_lines, public=header.public,
                        redacted=redacted, last_redacted=last_redacted)


def verify_file(path: Any, *, trusted_heads: Sequence[str] = ()) -> VerifyReport:
    """Verify the log at ``path`` (read as bytes, so a bad byte is named by its line); OSError propagates."""
    with open(path, "rb") as handle:
        return verify_lines(handle, trusted_heads=trusted_heads)
