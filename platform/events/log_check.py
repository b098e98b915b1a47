"""Check an exported Shuping event log: the chain links, trusted heads, the report.

:func:`verify_lines` and :func:`verify_file` read a log line by line (with
:mod:`events.log_format`) and promise a :class:`VerifyReport`: ``ok`` only if
every event links to the one before it, every stored hash matches its
content, the header's count and head agree with the events, and every
trusted head given is the hash of some event.

* The file is streamed: only the header, the previous event's hash and the
  current line are held in memory, so exports of any length can be checked.
* Checks run in file order and the *first* problem is reported precisely
  (line number, log position, stream version and reason).  After the first
  broken event the chain can no longer be trusted, so the remaining lines are
  only counted; reporting every consequential mismatch would bury the cause.
* A consistent chain proves only that the file was not edited *after* it was
  exported by whoever controlled the database.  Someone with write access to
  the database can recompute every hash.  Only a head hash published outside
  the platform (a public notice, a photo of the hall screen) pins the history
  down; pass such hashes as ``trusted_heads``.

Standard library, :mod:`events.chain` and :mod:`events.log_format` only: no
Django.  The command line around this is :mod:`events.verify`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from os import PathLike
from typing import Any

from events.chain import GENESIS_HASH, is_hex_digest
from events.log_format import (
    BadLine,
    LogEvent,
    LogHeader,
    line_locator,
    parse_event,
    parse_header,
    parse_json_line,
)

__all__ = [
    "Problem",
    "TrustedHead",
    "VerifyReport",
    "normalise_heads",
    "verify_file",
    "verify_lines",
]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the log.

    ``code`` is a stable identifier meant for programs; ``message`` (English)
    and ``message_zh`` (Chinese) are for people.  ``line_no`` is 1-based (line
    1 is the header) and is ``None`` for problems that belong to no line, such
    as a trusted head that does not occur in the log.
    """

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
    """Outcome of verifying one exported log.

    ``event_count`` is the number of event lines in the file.  ``head_hash``
    and ``verified_count`` describe the longest prefix of events that passed
    every check; when ``ok`` is true that prefix is the whole file.
    """

    ok: bool
    county: str | None
    stream: str | None
    event_count: int
    head_hash: str | None
    problems: list[Problem] = field(default_factory=list)
    verified_count: int = 0
    exported_at: str | None = None
    trusted_heads: list[TrustedHead] = field(default_factory=list)

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    def to_dict(self) -> dict[str, Any]:
        result = asdict(self)
        result["first_problem"] = asdict(self.problems[0]) if self.problems else None
        return result


def _short(digest: str | None) -> str:
    return "null" if digest is None else digest[:16] + "…"


def normalise_heads(trusted_heads: Sequence[str]) -> list[str]:
    """Trusted heads in lower case without repeats; ValueError if one is not 64 hex digits."""
    if isinstance(trusted_heads, str):
        # A bare string is a Sequence[str] of characters; almost surely a mistake.
        trusted_heads = [trusted_heads]
    heads: list[str] = []
    for head in trusted_heads:
        normalised = head.strip().lower()  # people copy hashes from paper in any case
        if not is_hex_digest(normalised):
            raise ValueError(
                f"可信头哈希必须是 64 位十六进制数 / trusted head must be 64 hex digits: {head!r}"
            )
        if normalised not in heads:
            heads.append(normalised)
    return heads


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------


def _check_link(
    event: LogEvent,
    header: LogHeader,
    expected_version: int,
    previous_hash: str,
    previous_position: int | None,
) -> tuple[str, str, str] | None:
    """Check one parsed event against its predecessor; return (code, en, zh) or None.

    The order matters for how precisely the first problem is named: a missing
    event shows up as a version gap (more telling than the prev_hash mismatch
    it also causes), an edited prev_hash as prev_hash_mismatch (rather than
    the hash mismatch it also causes).
    """
    if event.stream != header.stream:
        return (
            "stream_mismatch",
            f"event belongs to stream {event.stream!r}, the header says {header.stream!r}",
            f"事件属于会议流 {event.stream!r}，与文件头 {header.stream!r} 不一致",
        )
    if previous_position is not None and event.position <= previous_position:
        return (
            "position_not_increasing",
            f"position {event.position} does not follow the previous position {previous_position}",
            f"日志位置 {event.position} 未大于上一条的位置 {previous_position}",
        )
    if event.version != expected_version:
        if event.version > expected_version:
            missing = (
                f"version {expected_version}"
                if event.version == expected_version + 1
                else f"versions {expected_version}–{event.version - 1}"
            )
            missing_zh = (
                f"第 {expected_version} 版"
                if event.version == expected_version + 1
                else f"第 {expected_version}–{event.version - 1} 版"
            )
            return (
                "version_gap",
                f"expected version {expected_version}, found {event.version}: {missing} missing",
                f"应为第 {expected_version} 版，实际为第 {event.version} 版：缺少{missing_zh}",
            )
        return (
            "version_gap",
            f"expected version {expected_version}, found {event.version}: "
            "events repeated or out of order",
            f"应为第 {expected_version} 版，实际为第 {event.version} 版：事件重复或顺序被打乱",
        )
    if expected_version == 1:
        if event.prev_hash != GENESIS_HASH:
            return (
                "bad_genesis",
                f"the first event must have prev_hash {_short(GENESIS_HASH)} (64 zeros), "
                f"found {_short(event.prev_hash)}",
                f"第一条事件的 prev_hash 必须是 64 个 0，实际为 {_short(event.prev_hash)}",
            )
    elif event.prev_hash != previous_hash:
        return (
            "prev_hash_mismatch",
            f"prev_hash {_short(event.prev_hash)} does not equal the previous event's hash "
            f"{_short(previous_hash)}: an event was removed, inserted or changed before this one",
            f"prev_hash {_short(event.prev_hash)} 与上一条事件的哈希 {_short(previous_hash)} "
            "不一致：此前有事件被删除、插入或篡改",
        )
    if event.hash != event.computed_hash:
        return (
            "hash_mismatch",
            f"stored hash {_short(event.hash)} does not match the content, which hashes to "
            f"{_short(event.computed_hash)}: this event was altered",
            f"记录的哈希 {_short(event.hash)} 与内容计算出的 {_short(event.computed_hash)} "
            "不一致：该事件内容被改动",
        )
    return None


def _verify(lines: Iterable[str | bytes], trusted_heads: Sequence[str]) -> VerifyReport:
    heads = normalise_heads(trusted_heads)
    iterator = iter(lines)
    problems: list[Problem] = []

    first = next(iterator, None)
    if first is None:
        problems.append(
            Problem(1, None, None, "bad_header", "the file is empty (no header line)", "文件为空（没有文件头）")
        )
        return VerifyReport(False, None, None, 0, None, problems)
    try:
        header = parse_header(first)
    except BadLine as exc:
        problems.append(Problem(1, None, None, "bad_header", exc.message, exc.message_zh))
        return VerifyReport(False, None, None, 0, None, problems)

    found: dict[str, TrustedHead] = {}
    pending = set(heads)
    line_no = 1
    event_lines = 0
    verified = 0
    previous_hash = GENESIS_HASH
    previous_position: int | None = None
    broken_at: int | None = None

    for raw in iterator:
        line_no += 1
        event_lines += 1
        if broken_at is not None:
            # Past the first break nothing can be trusted; just count lines.
            continue
        obj: Any = None
        try:
            obj = parse_json_line(raw)
            event = parse_event(obj, header.county)
        except BadLine as exc:
            position, version = line_locator(obj)
            problems.append(Problem(line_no, position, version, "bad_line", exc.message, exc.message_zh))
            broken_at = line_no
            continue
        failure = _check_link(event, header, verified + 1, previous_hash, previous_position)
        if failure is not None:
            code, message, message_zh = failure
            problems.append(Problem(line_no, event.position, event.version, code, message, message_zh))
            broken_at = line_no
            continue
        verified += 1
        previous_hash = event.hash
        previous_position = event.position
        if event.hash in pending:
            pending.discard(event.hash)
            found[event.hash] = TrustedHead(event.hash, True, event.version, event.position, line_no)

    if event_lines != header.event_count:
        problems.append(
            Problem(
                1,
                None,
                None,
                "count_mismatch",
                f"the header announces {header.event_count} events but the file has {event_lines}",
                f"文件头声明 {header.event_count} 条事件，文件中实际有 {event_lines} 条",
            )
        )
    head = previous_hash if verified else None
    # The head comparison only means something when the whole chain held.
    if broken_at is None and head != header.head_hash:
        problems.append(
            Problem(
                1,
                None,
                None,
                "head_mismatch",
                f"the header's head_hash {_short(header.head_hash)} is not the hash of the last "
                f"event {_short(head)}",
                f"文件头的 head_hash {_short(header.head_hash)} 与最后一条事件的哈希 {_short(head)} 不一致",
            )
        )

    results: list[TrustedHead] = []
    for trusted in heads:
        if trusted in found:
            results.append(found[trusted])
            continue
        results.append(TrustedHead(trusted, False))
        if broken_at is None:
            message = (
                f"trusted head {trusted} is not the hash of any event in this log: the history "
                "was rewritten or truncated after that head was published"
            )
            message_zh = f"可信头哈希 {trusted} 不是本日志中任何事件的哈希：该哈希公布之后，历史记录被改写或截断"
        else:
            message = (
                f"trusted head {trusted} is not among the events verified before the break at "
                f"line {broken_at}"
            )
            message_zh = f"在第 {broken_at} 行断链之前已校验的事件中找不到可信头哈希 {trusted}"
        problems.append(Problem(None, None, None, "trusted_head_missing", message, message_zh))

    return VerifyReport(
        ok=not problems,
        county=header.county,
        stream=header.stream,
        event_count=event_lines,
        head_hash=head,
        problems=problems,
        verified_count=verified,
        exported_at=header.exported_at,
        trusted_heads=results,
    )


def verify_lines(lines: Iterable[str], *, trusted_heads: Sequence[str] = ()) -> VerifyReport:
    """Verify an exported log given as an iterable of lines (trailing newlines allowed).

    ``trusted_heads`` are head hashes recorded outside the platform; each must
    be the ``hash`` of some event of the log.  Raises ``ValueError`` when a
    trusted head is not a 64-digit hex string (that is a usage error, not a
    property of the log).
    """
    return _verify(lines, trusted_heads)


def verify_file(path: str | PathLike[str], *, trusted_heads: Sequence[str] = ()) -> VerifyReport:
    """Verify the log stored at ``path``; ``OSError`` propagates when it cannot be read.

    The file is read as bytes so that a line that is not valid UTF-8 is reported
    with its line number instead of aborting the whole run.
    """
    with open(path, "rb") as handle:
        return _verify(handle, trusted_heads)
