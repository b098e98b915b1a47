"""Read the lines of an exported Shuping event log (JSON Lines), strictly.

This module promises one thing: turn one raw line into a checked value or
raise :class:`BadLine` with the reason in English and Chinese.

* :func:`parse_header` reads line 1 (format, county, stream, counts, head).
* :func:`parse_json_line` reads any line as *strict* JSON: valid UTF-8, no
  duplicate keys, no NaN/Infinity, no ``-0``.
* :func:`parse_event` checks that a parsed line has exactly the members of an
  event, each of the right JSON type, and computes the event's hash from its
  content with :mod:`events.chain`.

Nothing here looks at how one event relates to another (versions, links,
heads): that is :mod:`events.log_check`.  The rules are written down for
auditors in ``docs/event-log-format.md``.  Standard library and
:mod:`events.chain` only: no Django, so the verifier runs anywhere.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from events.chain import (
    MAX_SAFE_INTEGER,
    CanonicalError,
    canonical_json,
    event_hash,
    is_hex_digest,
)

__all__ = [
    "EVENT_KEYS",
    "HEADER_KEYS",
    "LOG_FORMAT",
    "LOG_FORMAT_VERSION",
    "BadLine",
    "LogEvent",
    "LogHeader",
    "line_locator",
    "parse_event",
    "parse_header",
    "parse_json_line",
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


class BadLine(Exception):
    """A line cannot be read; carries both languages of the reason."""

    def __init__(self, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.message = message
        self.message_zh = message_zh


@dataclass(frozen=True)
class LogHeader:
    """The header line (line 1) of an export, checked."""

    county: str
    stream: str
    exported_at: str
    event_count: int
    head_hash: str | None


@dataclass(frozen=True)
class LogEvent:
    """What the chain check needs of one event line, with the hash of its content."""

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
            raise BadLine(f"duplicate key {key!r}", f"键 {key!r} 重复出现")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    # NaN / Infinity / -Infinity are accepted by Python's json module but are
    # not JSON.
    raise BadLine(f"{name} is not valid JSON", f"{name} 不是合法的 JSON")


def _parse_int(token: str) -> int:
    # "-0" is a legal JSON number but has no integer meaning of its own; some
    # parsers turn it into the float -0.0.  Exports never contain it.
    if token == "-0":
        raise BadLine("-0 is not an acceptable integer", "-0 不是可接受的整数")
    return int(token)


# Fractions and exponents are left to the default float parsing: the
# canonical encoder then rejects them with the path of the offending value.
_DECODER = json.JSONDecoder(
    object_pairs_hook=_object_without_duplicates,
    parse_constant=_reject_constant,
    parse_int=_parse_int,
)


def parse_json_line(raw: str | bytes) -> Any:
    """Parse one line as strict JSON; raise BadLine when it is not."""
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadLine(
                f"not valid UTF-8 (byte offset {exc.start})",
                f"不是合法的 UTF-8 编码（字节偏移 {exc.start}）",
            ) from None
    else:
        text = raw
    if not text.strip():
        raise BadLine("empty line", "空行")
    try:
        return _DECODER.decode(text)
    except BadLine:
        raise
    except json.JSONDecodeError as exc:
        raise BadLine(
            f"not valid JSON: {exc.msg} at column {exc.colno}",
            f"不是合法的 JSON：第 {exc.colno} 列附近出错（{exc.msg}）",
        ) from None
    except (ValueError, RecursionError) as exc:
        # e.g. integers longer than Python's digit limit, absurd nesting.
        raise BadLine(f"not acceptable JSON: {exc}", f"无法接受的 JSON：{exc}") from None


# --------------------------------------------------------------------------
# The shape of the header and of an event line
# --------------------------------------------------------------------------


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
        raise BadLine(
            f"{what} has the wrong set of keys ({'; '.join(parts_en)})",
            f"{what_zh}的字段不符合格式（{'；'.join(parts_zh)}）",
        )


def _wrong_type(name: str, expected: str, value: Any) -> BadLine:
    got = _json_type(value)
    return BadLine(
        f"{name} must be {'an' if expected[0] in 'aeiou' else 'a'} {expected}, got {got}",
        f"{name} 应为{_TYPE_NAMES_ZH.get(expected, expected)}，实际为{_TYPE_NAMES_ZH.get(got, got)}",
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def parse_header(raw: str | bytes) -> LogHeader:
    """Read the header line; raise BadLine when it is not a header of this format."""
    if isinstance(raw, bytes) and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a UTF-8 byte order mark changes no meaning; tolerate it
    elif isinstance(raw, str) and raw.startswith("\ufeff"):
        raw = raw[1:]
    obj = parse_json_line(raw)
    if not isinstance(obj, dict):
        raise BadLine("the header must be a JSON object", "文件头必须是 JSON 对象")
    _check_keys(obj, HEADER_KEYS, "the header", "文件头")
    if obj["format"] != LOG_FORMAT:
        raise BadLine(
            f"format must be {LOG_FORMAT!r}, got {obj['format']!r}",
            f"format 应为 {LOG_FORMAT!r}，实际为 {obj['format']!r}",
        )
    if not _is_int(obj["format_version"]) or obj["format_version"] != LOG_FORMAT_VERSION:
        raise BadLine(
            f"unsupported format_version {obj['format_version']!r} (this verifier reads {LOG_FORMAT_VERSION})",
            f"不支持的 format_version {obj['format_version']!r}（本校验器支持 {LOG_FORMAT_VERSION}）",
        )
    for name in ("county", "stream", "exported_at"):
        if not isinstance(obj[name], str):
            raise _wrong_type(name, "string", obj[name])
        if not obj[name]:
            raise BadLine(f"{name} must not be empty", f"{name} 不能为空")
    try:
        # county and stream enter every hash input; make sure they can.
        canonical_json([obj["county"], obj["stream"]])
    except CanonicalError as exc:
        raise BadLine(f"county/stream cannot be hashed: {exc}", f"county/stream 无法参与哈希：{exc}") from None
    if not _is_int(obj["event_count"]):
        raise _wrong_type("event_count", "integer", obj["event_count"])
    if obj["event_count"] < 0:
        raise BadLine("event_count must not be negative", "event_count 不能为负数")
    head = obj["head_hash"]
    if head is not None and not is_hex_digest(head):
        raise BadLine(
            "head_hash must be null or 64 lowercase hex digits",
            "head_hash 必须为 null 或 64 位小写十六进制数",
        )
    return LogHeader(
        county=obj["county"],
        stream=obj["stream"],
        exported_at=obj["exported_at"],
        event_count=obj["event_count"],
        head_hash=head,
    )


def line_locator(obj: Any) -> tuple[int | None, int | None]:
    """Best-effort (position, version) of a line that failed to parse fully."""
    if not isinstance(obj, dict):
        return None, None
    position = obj.get("position")
    version = obj.get("version")
    return (position if _is_int(position) else None, version if _is_int(version) else None)


def parse_event(obj: Any, county: str) -> LogEvent:
    """Check the shape of a parsed event line and hash its content; raise BadLine if wrong."""
    if not isinstance(obj, dict):
        raise BadLine(
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
        raise BadLine("position is outside ±(2**53-1)", "position 超出 ±(2**53-1) 范围")
    for name in ("prev_hash", "hash"):
        if not is_hex_digest(obj[name]):
            raise BadLine(
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
        raise BadLine(
            f"content is not in the canonical value set: {exc}",
            f"内容不符合规范化编码的取值规则：{exc}",
        ) from None
    return LogEvent(
        position=position,
        stream=obj["stream"],
        version=obj["version"],
        prev_hash=obj["prev_hash"],
        hash=obj["hash"],
        computed_hash=computed,
    )
