"""Offline verifier for an exported Shuping event log (one stream, JSON Lines).

Usage::

    python -m events.verify meeting.jsonl [--head HASH ...] [--json]

The file layout and every rule checked here are described for auditors in
``docs/event-log-format.md``; that document, not this module, is the
specification.  The verifier needs nothing but the Python standard library
and :mod:`events.chain`, so it can be handed to a discipline commission
together with the export.

Design notes:

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
  down; pass such hashes with ``--head``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from os import PathLike
from typing import Any, TextIO

from events.chain import (
    GENESIS_HASH,
    MAX_SAFE_INTEGER,
    CanonicalError,
    canonical_json,
    event_hash,
    is_hex_digest,
)

__all__ = [
    "LOG_FORMAT",
    "LOG_FORMAT_VERSION",
    "Problem",
    "TrustedHead",
    "VerifyReport",
    "main",
    "verify_file",
    "verify_lines",
]

LOG_FORMAT = "shuping-log"
LOG_FORMAT_VERSION = 1

HEADER_KEYS = frozenset(
    {"format", "format_version", "county", "stream", "exported_at", "event_count", "head_hash"}
)
EVENT_KEYS = frozenset(
    {
        "position",
        "stream",
        "version",
        "type",
        "schema_version",
        "data",
        "metadata",
        "recorded_at",
        "prev_hash",
        "hash",
    }
)

# Expected JSON type of every event member, in the order they are reported.
_EVENT_TYPES: tuple[tuple[str, str], ...] = (
    ("position", "integer"),
    ("stream", "string"),
    ("version", "integer"),
    ("type", "string"),
    ("schema_version", "integer"),
    ("data", "object"),
    ("metadata", "object"),
    ("recorded_at", "string"),
    ("prev_hash", "string"),
    ("hash", "string"),
)

_TYPE_NAMES_ZH = {
    "object": "对象",
    "array": "数组",
    "string": "字符串",
    "integer": "整数",
    "number": "小数",
    "boolean": "布尔值",
    "null": "null",
}


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


class _BadLine(Exception):
    """Internal: a line cannot be parsed; carries both languages of the reason."""

    def __init__(self, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh


@dataclass(frozen=True)
class _Header:
    county: str
    stream: str
    exported_at: str
    event_count: int
    head_hash: str | None


@dataclass(frozen=True)
class _Event:
    position: int
    stream: str
    version: int
    prev_hash: str
    hash: str
    computed_hash: str


# --------------------------------------------------------------------------
# Strict JSON parsing
# --------------------------------------------------------------------------


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Python keeps the last of duplicate keys, other parsers keep the first.
    # A line with a duplicated "data" could thus verify here while showing
    # different content to another tool, so duplicates are an error.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _BadLine(f"duplicate key {key!r}", f"键 {key!r} 重复出现")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    # NaN / Infinity / -Infinity are accepted by Python's json module but are
    # not JSON.
    raise _BadLine(f"{name} is not valid JSON", f"{name} 不是合法的 JSON")


def _parse_int(token: str) -> int:
    # "-0" is a legal JSON number but has no integer meaning of its own; some
    # parsers turn it into the float -0.0.  Exports never contain it.
    if token == "-0":
        raise _BadLine("-0 is not an acceptable integer", "-0 不是可接受的整数")
    return int(token)


# Fractions and exponents are left to the default float parsing: the
# canonical encoder then rejects them with the path of the offending value.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicates,
    parse_constant=_reject_constant,
    parse_int=_parse_int,
)


def _parse_json_line(raw: str | bytes) -> Any:
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _BadLine(
                f"not valid UTF-8 (byte offset {exc.start})",
                f"不是合法的 UTF-8 编码（字节偏移 {exc.start}）",
            ) from None
    else:
        text = raw
    if not text.strip():
        raise _BadLine("empty line", "空行")
    try:
        return _DECODER.decode(text)
    except _BadLine:
        raise
    except json.JSONDecodeError as exc:
        raise _BadLine(
            f"not valid JSON: {exc.msg} at column {exc.colno}",
            f"不是合法的 JSON：第 {exc.colno} 列附近出错（{exc.msg}）",
        ) from None
    except (ValueError, RecursionError) as exc:
        # e.g. integers longer than Python's digit limit, absurd nesting.
        raise _BadLine(f"not acceptable JSON: {exc}", f"无法接受的 JSON：{exc}") from None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__  # pragma: no cover - json never produces others


def _check_keys(obj: dict[str, Any], expected: frozenset[str], what: str, what_zh: str) -> None:
    missing = sorted(expected - obj.keys())
    unknown = sorted(obj.keys() - expected)
    if missing or unknown:
        parts_en: list[str] = []
        parts_zh: list[str] = []
        if missing:
            parts_en.append("missing " + ", ".join(missing))
            parts_zh.append("缺少 " + "、".join(missing))
        if unknown:
            parts_en.append("unknown " + ", ".join(unknown))
            parts_zh.append("多出 " + "、".join(unknown))
        raise _BadLine(
            f"{what} has the wrong set of keys ({'; '.join(parts_en)})",
            f"{what_zh}的字段不符合格式（{'；'.join(parts_zh)}）",
        )


def _wrong_type(name: str, expected: str, value: Any) -> _BadLine:
    got = _json_type(value)
    return _BadLine(
        f"{name} must be {'an' if expected[0] in 'aeiou' else 'a'} {expected}, got {got}",
        f"{name} 应为{_TYPE_NAMES_ZH.get(expected, expected)}，实际为{_TYPE_NAMES_ZH.get(got, got)}",
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_header(raw: str | bytes) -> _Header:
    if isinstance(raw, bytes) and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte order mark changes no meaning; tolerate it
    elif isinstance(raw, str) and raw.startswith("\ufeff"):
        raw = raw[1:]
    obj = _parse_json_line(raw)
    if not isinstance(obj, dict):
        raise _BadLine("the header must be a JSON object", "文件头必须是 JSON 对象")
    _check_keys(obj, HEADER_KEYS, "the header", "文件头")
    if obj["format"] != LOG_FORMAT:
        raise _BadLine(
            f"format must be {LOG_FORMAT!r}, got {obj['format']!r}",
            f"format 应为 {LOG_FORMAT!r}，实际为 {obj['format']!r}",
        )
    if not _is_int(obj["format_version"]) or obj["format_version"] != LOG_FORMAT_VERSION:
        raise _BadLine(
            f"unsupported format_version {obj['format_version']!r} (this verifier reads {LOG_FORMAT_VERSION})",
            f"不支持的 format_version {obj['format_version']!r}（本校验器支持 {LOG_FORMAT_VERSION}）",
        )
    for name in ("county", "stream", "exported_at"):
        if not isinstance(obj[name], str):
            raise _wrong_type(name, "string", obj[name])
        if not obj[name]:
            raise _BadLine(f"{name} must not be empty", f"{name} 不能为空")
    try:
        # county and stream enter every hash input; make sure they can.
        canonical_json([obj["county"], obj["stream"]])
    except CanonicalError as exc:
        raise _BadLine(f"county/stream cannot be hashed: {exc}", f"county/stream 无法参与哈希：{exc}") from None
    if not _is_int(obj["event_count"]):
        raise _wrong_type("event_count", "integer", obj["event_count"])
    if obj["event_count"] < 0:
        raise _BadLine("event_count must not be negative", "event_count 不能为负数")
    head = obj["head_hash"]
    if head is not None and not is_hex_digest(head):
        raise _BadLine(
            "head_hash must be null or 64 lowercase hex digits",
            "head_hash 必须为 null 或 64 位小写十六进制数",
        )
    return _Header(
        county=obj["county"],
        stream=obj["stream"],
        exported_at=obj["exported_at"],
        event_count=obj["event_count"],
        head_hash=head,
    )


def _locator(obj: Any) -> tuple[int | None, int | None]:
    """Best-effort (position, version) of a line that failed to parse fully."""
    if not isinstance(obj, dict):
        return None, None
    position = obj.get("position")
    version = obj.get("version")
    return (position if _is_int(position) else None, version if _is_int(version) else None)


def _parse_event(obj: Any, county: str) -> _Event:
    if not isinstance(obj, dict):
        raise _BadLine(
            f"an event line must be a JSON object, got {_json_type(obj)}",
            f"事件行必须是 JSON 对象，实际为{_TYPE_NAMES_ZH.get(_json_type(obj), _json_type(obj))}",
        )
    _check_keys(obj, EVENT_KEYS, "the event", "事件")
    for name, expected in _EVENT_TYPES:
        value = obj[name]
        ok = _is_int(value) if expected == "integer" else _json_type(value) == expected
        if not ok:
            raise _wrong_type(name, expected, value)
    position = obj["position"]
    if not -MAX_SAFE_INTEGER <= position <= MAX_SAFE_INTEGER:
        raise _BadLine("position is outside ±(2**53-1)", "position 超出 ±(2**53-1) 范围")
    for name in ("prev_hash", "hash"):
        if not is_hex_digest(obj[name]):
            raise _BadLine(
                f"{name} must be 64 lowercase hex digits",
                f"{name} 必须是 64 位小写十六进制数",
            )
    try:
        computed = event_hash(
            county=county,
            stream=obj["stream"],
            version=obj["version"],
            type=obj["type"],
            schema_version=obj["schema_version"],
            data=obj["data"],
            metadata=obj["metadata"],
            recorded_at=obj["recorded_at"],
            prev_hash=obj["prev_hash"],
        )
    except CanonicalError as exc:
        raise _BadLine(
            f"content is not in the canonical value set: {exc}",
            f"内容不符合规范化编码的取值规则：{exc}",
        ) from None
    return _Event(
        position=position,
        stream=obj["stream"],
        version=obj["version"],
        prev_hash=obj["prev_hash"],
        hash=obj["hash"],
        computed_hash=computed,
    )


def _short(digest: str | None) -> str:
    return "null" if digest is None else digest[:16] + "…"


def _normalise_heads(trusted_heads: Sequence[str]) -> list[str]:
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
    event: _Event,
    header: _Header,
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
    heads = _normalise_heads(trusted_heads)
    iterator = iter(lines)
    problems: list[Problem] = []

    first = next(iterator, None)
    if first is None:
        problems.append(
            Problem(1, None, None, "bad_header", "the file is empty (no header line)", "文件为空（没有文件头）")
        )
        return VerifyReport(False, None, None, 0, None, problems)
    try:
        header = _parse_header(first)
    except _BadLine as exc:
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
            obj = _parse_json_line(raw)
            event = _parse_event(obj, header.county)
        except _BadLine as exc:
            position, version = _locator(obj)
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


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def _emit(text: str, stream: TextIO) -> None:
    try:
        print(text, file=stream)
    except UnicodeEncodeError:
        # A console that cannot show Chinese must still show the verdict.
        encoding = getattr(stream, "encoding", None) or "ascii"
        print(text.encode(encoding, "backslashreplace").decode(encoding), file=stream)


def _where(problem: Problem) -> str:
    if problem.line_no is None:
        return ""
    if problem.position is None and problem.version is None:
        return f" at line {problem.line_no}"
    position = "-" if problem.position is None else str(problem.position)
    version = "-" if problem.version is None else str(problem.version)
    return f" at line {problem.line_no} (position {position}, version {version})"


def _summary(report: VerifyReport) -> list[str]:
    lines: list[str] = []
    if report.ok:
        head = report.head_hash or "(无 / none)"
        lines.append(f"校验通过 / verified: {report.event_count} events, head {head}")
    else:
        problem = report.problems[0]
        lines.append(f"校验失败 / FAILED{_where(problem)}: {problem.message_zh} / {problem.message}")
    if report.county is not None:
        lines.append(
            f"  县 / county: {report.county}; 会议流 / stream: {report.stream}; "
            f"导出时间 / exported at: {report.exported_at}"
        )
    for trusted in report.trusted_heads:
        if trusted.found:
            lines.append(
                f"  可信头哈希位于第 {trusted.version} 版 / trusted head found at version "
                f"{trusted.version} (position {trusted.position}, line {trusted.line_no}): {trusted.hash}"
            )
        else:
            lines.append(f"  未找到可信头哈希 / trusted head NOT found: {trusted.hash}")
    if not report.ok:
        if report.verified_count:
            lines.append(
                f"  前 {report.verified_count} 条事件校验无误 / events 1–{report.verified_count} "
                f"are intact, up to head {report.head_hash}"
            )
        for problem in report.problems[1:]:
            lines.append(f"  另有问题 / also{_where(problem)}: {problem.message_zh} / {problem.message}")
    elif not report.trusted_heads:
        lines.append(
            "  注意：未提供可信头哈希，仅能证明文件自洽，不能证明历史未被整体改写 / "
            "note: no trusted head given; this proves the file is self-consistent, not that "
            "the history was never rewritten as a whole"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns 0 (verified), 1 (tampered/invalid) or 2 (unreadable)."""
    parser = argparse.ArgumentParser(
        prog="python -m events.verify",
        description="校验述评事件日志导出文件 / Verify an exported Shuping event log.",
    )
    parser.add_argument("file", help="导出的 JSON Lines 文件 / the exported JSON Lines file")
    parser.add_argument(
        "--head",
        dest="heads",
        action="extend",
        nargs="+",
        default=[],
        metavar="HASH",
        help="在平台之外公布的头哈希（可多次给出） / a head hash published outside the platform "
        "(repeatable)",
    )
    parser.add_argument(
        "--json", action="store_true", help="以 JSON 输出报告 / print the report as JSON"
    )
    args = parser.parse_args(argv)
    try:
        heads = _normalise_heads(args.heads)
    except ValueError as exc:
        parser.error(str(exc))  # exits with status 2
    try:
        report = verify_file(args.file, trusted_heads=heads)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        _emit(f"无法读取文件 / cannot read file {args.file}: {reason}", sys.stderr)
        return 2
    if args.json:
        _emit(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), sys.stdout)
    else:
        for line in _summary(report):
            _emit(line, sys.stdout)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
