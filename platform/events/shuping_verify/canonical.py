"""The log's lines and their hashes (docs/event-log-format.md sections 2 to 6).

Constants of the format, the canonical JSON encoding each event hash is taken
over, and strict reading of the header and event lines.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

LOG_FORMAT = "shuping-log"
LOG_FORMAT_VERSION = 1
PUBLIC_FORMAT = "shuping-public-log"  # section 14: events with personal data redacted
ARCHIVE_FORMAT = "shuping-archive"  # section 15: a county's year in one tar file
EVENT_FORMAT = "shuping-event/1"
GENESIS_HASH = "0" * 64
MAX_SAFE_INTEGER = 2**53 - 1
HEADER_KEYS = frozenset({"format", "format_version", "county", "stream", "exported_at", "event_count", "head_hash"})
EVENT_KEYS = frozenset(
    {"position", "stream", "version", "type", "schema_version", "data", "metadata", "recorded_at", "prev_hash", "hash"}
)
_HASHED = ("stream", "version", "type", "schema_version", "data", "metadata", "recorded_at", "prev_hash")
_EVENT_TYPES = (("position", "integer"), ("stream", "string"), ("version", "integer"), ("type", "string"),
                ("schema_version", "integer"), ("data", "object"), ("metadata", "object"),
                ("recorded_at", "string"), ("prev_hash", "string"), ("hash", "string"))
_PY_TYPES = {"integer": int, "string": str, "object": dict}  # the types _EVENT_TYPES names
# The same as item getters and a tuple of types: one C call each per event instead of a Python loop.
_HASHED_VALUES = itemgetter(*_HASHED)
_FIELD_VALUES = itemgetter(*(name for name, _ in _EVENT_TYPES))
_FIELD_TYPES = tuple(_PY_TYPES[expected] for _, expected in _EVENT_TYPES)
_TYPE_NAMES_ZH = {"object": "对象", "array": "数组", "string": "字符串", "integer": "整数", "number": "小数",
                  "boolean": "布尔值", "null": "null"}
# Events a meeting may record after MeetingClosed: late answers to deferred
# questions, and revoking the hall screen's links (allowed in every phase).
AFTER_CLOSE = frozenset({"QuestionAnswered", "ScreenLinksRevoked"})
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_HEX64_RE = re.compile(r"[0-9a-f]{64}\Z")
_FORBIDDEN_RE = re.compile("[\x00\ud800-\udfff]")


# -- canonical JSON (section 6) ----------------------------------------------------------------


class CanonicalError(ValueError):
    """A value has no canonical form."""


def is_hex_digest(value: object) -> bool:
    return isinstance(value, str) and _HEX64_RE.match(value) is not None


# Keys already matched by _KEY_RE: a log repeats a small vocabulary of keys, and a set
# lookup costs less than the regex. Only keys that passed are kept, so the answer is the regex's.
_GOOD_KEYS: set[str] = set()


def _good_keys(value: dict[Any, Any]) -> bool:
    if _GOOD_KEYS.issuperset(value):
        return True
    for key in value:
        if key not in _GOOD_KEYS:
            if type(key) is not str or _KEY_RE.match(key) is None:
                return False
            if len(_GOOD_KEYS) < 100_000:
                _GOOD_KEYS.add(key)
    return True


def _plain(value: Any) -> bool:
    """Only exact dict/list/str/int/bool/None the canonical form accepts, strings' characters aside.

    Leaves are tested in the loop, not by a call each: this runs over every value of every event.
    """
    kind = type(value)
    if kind is dict:
        if not _good_keys(value):
            return False
        items: Iterable[Any] = value.values()
    elif kind is list:
        items = value
    else:
        items = (value,)
    for item in items:
        kind = type(item)
        if kind is str:
            continue  # its characters are checked on the encoded text (canonical_json)
        if kind is int:
            if not -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                return False
        elif kind is dict or kind is list:
            if not _plain(item):
                return False
        elif not (item is None or item is True or item is False):
            return False
    return True


def _check(value: Any, path: str) -> None:
    """Raise CanonicalError naming the first value (by its path) that has no canonical form."""
    where = path or "(root)"
    if isinstance(value, str):
        bad = _FORBIDDEN_RE.search(value)
        if bad is not None:
            char = bad.group()
            what = "U+0000 (NUL, rejected by PostgreSQL jsonb)" if char == "\x00" else (
                f"lone surrogate U+{ord(char):04X} (not encodable as UTF-8)")
            raise CanonicalError(f"{where}: string contains {what} at index {bad.start()}")
    elif isinstance(value, bool) or value is None:
        pass
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalError(f"{where}: integer {value} is outside ±(2**53-1); store it as a string")
    elif isinstance(value, float):
        raise CanonicalError(f"{where}: floats are not allowed ({value!r}); their text form is not portable "
                             "between languages. Use a string like \"87.5\" or an integer numerator/denominator")
    elif isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or _KEY_RE.match(key) is None:
                raise CanonicalError(f"{where}: object key {key!r} is not an ASCII identifier "
                                     "matching ^[A-Za-z_][A-Za-z0-9_]*$")
            _check(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, f"{path}[{index}]")
    else:
        raise CanonicalError(f"{where}: values of type {type(value).__name__} are not allowed")


_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"))  # what json.dumps would build per call


def canonical_json(value: Any) -> bytes:
    """The canonical UTF-8 bytes of a value: sorted keys, no whitespace, minimal escapes."""
    try:
        if not _plain(value):
            _check(value, "")
        text = _ENCODER.encode(value)
        # U+0000 becomes the escape \u0000 in the text (found by a substring search, or a harmless
        # literal "\\u0000"), and a lone surrogate stops the UTF-8 encoding: _check then names the string.
        if "\\u0000" in text:
            _check(value, "")
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            _check(value, "")
            raise
    except RecursionError:
        raise CanonicalError("value is nested too deeply to encode") from None


def event_hash(county: str, line: dict[str, Any]) -> str:
    """SHA-256 (hex) of an event line's hash input (section 5)."""
    for name, minimum in (("version", 1), ("schema_version", 0)):
        if line[name] < minimum:
            raise CanonicalError(f"{name} must be >= {minimum}, got {line[name]}")
    hash_input = dict(zip(_HASHED, _HASHED_VALUES(line), strict=True), format=EVENT_FORMAT, county=county)
    return hashlib.sha256(canonical_json(hash_input)).hexdigest()


# -- reading lines (sections 2 to 4) -----------------------------------------------------------


class BadLine(Exception):
    """A line cannot be read; carries both languages of the reason."""

    def __init__(self, message: str, message_zh: str) -> None:
        super().__init__(message)
        self.message, self.message_zh = message, message_zh


@dataclass(frozen=True)
class LogHeader:
    county: str
    stream: str
    exported_at: str
    event_count: int
    head_hash: str | None
    public: bool = False


@dataclass(frozen=True)
class LogEvent:
    position: int
    stream: str
    version: int
    prev_hash: str
    hash: str
    computed_hash: str
    type: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    redacted: bool = False  # a public log's redacted event: its hash is taken as published


def new_event(position: int, stream: str, version: int, prev_hash: str, hash: str, computed_hash: str,  # noqa: A002
              type: str, data: dict[str, Any], redacted: bool) -> LogEvent:  # noqa: A002
    """A LogEvent equal to LogEvent(...) with these fields, without the frozen dataclass's slow __init__."""
    event = object.__new__(LogEvent)
    event.__dict__.update(position=position, stream=stream, version=version, prev_hash=prev_hash, hash=hash,
                          computed_hash=computed_hash, type=type, data=data, redacted=redacted)
    return event


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Parsers disagree on which of two equal keys wins: a file with one could show two contents.
    result = dict(pairs)
    if len(result) < len(pairs):  # rare: find the first key seen twice, by a loop
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise BadLine(f"duplicate key {key!r}", f"键 {key!r} 重复出现")
            seen.add(key)
    return result


def _no_constant(name: str) -> Any:
    raise BadLine(f"{name} is not valid JSON", f"{name} 不是合法的 JSON")


def _integer(token: str) -> int:
    if token == "-0":
        raise BadLine("-0 is not an acceptable integer", "-0 不是可接受的整数")
    return int(token)


# Fractions and exponents parse as floats, which the canonical check refuses with their path.
_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates, parse_constant=_no_constant, parse_int=_integer)


def parse_json_line(raw: str | bytes) -> Any:
    """Parse one line as strict JSON; raise BadLine when it is not."""
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadLine(f"not valid UTF-8 (byte offset {exc.start})", f"不是合法的 UTF-8 编码（字节偏移 {exc.start}）") from None
    if not raw.strip():
        raise BadLine("empty line", "空行")
    try:
        return _DECODER.decode(raw)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not valid JSON: {exc.msg} at column {exc.colno}",
                      f"不是合法的 JSON：第 {exc.colno} 列附近出错（{exc.msg}）") from None
    except (ValueError, RecursionError) as exc:
        raise BadLine(f"not acceptable JSON: {exc}", f"无法接受的 JSON：{exc}") from None


def _json_type(value: Any) -> str:
    for kind, name in ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"),
                       (list, "array"), (dict, "object")):
        if isinstance(value, kind):
            return name
    return "null" if value is None else type(value).__name__


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_keys(obj: dict[str, Any], expected: frozenset[str], what: str, what_zh: str) -> None:
    if obj.keys() == expected:
        return
    missing, unknown = sorted(expected - obj.keys()), sorted(obj.keys() - expected)
    if missing or unknown:
        en = "; ".join(([f"missing {', '.join(missing)}"] if missing else []) + ([f"unknown {', '.join(unknown)}"] if unknown else []))
        zh = "；".join(([f"缺少 {'、'.join(missing)}"] if missing else []) + ([f"多出 {'、'.join(unknown)}"] if unknown else []))
        raise BadLine(f"{what} has the wrong set of keys ({en})", f"{what_zh}的字段不符合格式（{zh}）")


def _wrong_type(name: str, expected: str, value: Any) -> BadLine:
    got = _json_type(value)
    return BadLine(f"{name} must be {'an' if expected[0] in 'aeiou' else 'a'} {expected}, got {got}",
                   f"{name} 应为{_TYPE_NAMES_ZH.get(expected, expected)}，实际为{_TYPE_NAMES_ZH.get(got, got)}")


def parse_header(raw: str | bytes) -> LogHeader:
    """Read the header line; raise BadLine when it is not a header of this format."""
    if isinstance(raw, bytes) and raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # a byte order mark carries no meaning
    elif isinstance(raw, str) and raw.startswith("\ufeff"):
        raw = raw[1:]
    obj = parse_json_line(raw)
    if not isinstance(obj, dict):
        raise BadLine("the header must be a JSON object", "文件头必须是 JSON 对象")
    _check_keys(obj, HEADER_KEYS, "the header", "文件头")
    if obj["format"] not in (LOG_FORMAT, PUBLIC_FORMAT):
        raise BadLine(f"format must be {LOG_FORMAT!r}, got {obj['format']!r}", f"format 应为 {LOG_FORMAT!r}，实际为 {obj['format']!r}")
    if not _is_int(obj["format_version"]) or obj["format_version"] != LOG_FORMAT_VERSION:
        raise BadLine(f"unsupported format_version {obj['format_version']!r} (this verifier reads {LOG_FORMAT_VERSION})",
                      f"不支持的 format_version {obj['format_version']!r}（本校验器支持 {LOG_FORMAT_VERSION}）")
    for name in ("county", "stream", "exported_at"):
        if not isinstance(obj[name], str):
            raise _wrong_type(name, "string", obj[name])
        if not obj[name]:
            raise BadLine(f"{name} must not be empty", f"{name} 不能为空")
    try:
        canonical_json([obj["county"], obj["stream"]])  # both enter every hash input
    except CanonicalError as exc:
        raise BadLine(f"county/stream cannot be hashed: {exc}", f"county/stream 无法参与哈希：{exc}") from None
    if not _is_int(obj["event_count"]):
        raise _wrong_type("event_count", "integer", obj["event_count"])
    if obj["event_count"] < 0:
        raise BadLine("event_count must not be negative", "event_count 不能为负数")
    if obj["head_hash"] is not None and not is_hex_digest(obj["head_hash"]):
        raise BadLine("head_hash must be null or 64 lowercase hex digits", "head_hash 必须为 null 或 64 位小写十六进制数")
    return LogHeader(obj["county"], obj["stream"], obj["exported_at"], obj["event_count"], obj["head_hash"],
                     obj["format"] == PUBLIC_FORMAT)


def line_locator(obj: Any) -> tuple[int | None, int | None]:
    """Best-effort (position, version) of a line that failed to parse fully."""
    if not isinstance(obj, dict):
        return None, None
    position, version = obj.get("position"), obj.get("version")
    return (position if _is_int(position) else None, version if _is_int(version) else None)


def parse_event(obj: Any, county: str, *, public: bool = False) -> LogEvent:
    """Check the shape of a parsed event line and hash its content; raise BadLine if wrong."""
    if not isinstance(obj, dict):
        kind = _json_type(obj)
        raise BadLine(f"an event line must be a JSON object, got {kind}", f"事件行必须是 JSON 对象，实际为{_TYPE_NAMES_ZH.get(kind, kind)}")
    _check_keys(obj, EVENT_KEYS | {"redacted"} if public else EVENT_KEYS, "the event", "事件")
    if public and not isinstance(obj["redacted"], bool):
        raise _wrong_type("redacted", "boolean", obj["redacted"])
    # Parsed JSON holds exact types (bool is the one int subclass), so comparing types decides.
    if tuple(map(type, _FIELD_VALUES(obj))) != _FIELD_TYPES:
        for name, expected in _EVENT_TYPES:
            if type(obj[name]) is not _PY_TYPES[expected]:
                raise _wrong_type(name, expected, obj[name])
    if not -MAX_SAFE_INTEGER <= obj["position"] <= MAX_SAFE_INTEGER:
        raise BadLine("position is outside ±(2**53-1)", "position 超出 ±(2**53-1) 范围")
    for name in ("prev_hash", "hash"):
        if not is_hex_digest(obj[name]):
            raise BadLine(f"{name} must be 64 lowercase hex digits", f"{name} 必须是 64 位小写十六进制数")
    try:
        computed = event_hash(county, obj)
    except CanonicalError as exc:
        raise BadLine(f"content is not in the canonical value set: {exc}", f"内容不符合规范化编码的取值规则：{exc}") from None
    redacted = public and obj["redacted"]
    # A redacted event's content is not what was hashed: its hash stands as published (section 14).
    return new_event(obj["position"], obj["stream"], obj["version"], obj["prev_hash"], obj["hash"],
                     obj["hash"] if redacted else computed, obj["type"], obj["data"], redacted)
