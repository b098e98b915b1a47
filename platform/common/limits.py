"""What a client may send: JSON of bounded depth, text without NUL or lone surrogates.

Hostile JSON is recursive: Python's json module raises RecursionError at
about 1,000 levels, and a document a few hundred levels deep parses but
breaks whatever walks it next (serializers, the hash of a command). So the
depth is bounded *before* parsing (`loads`). PostgreSQL refuses NUL in
text, and a lone surrogate (`"\\ud800"` in JSON) cannot be encoded as UTF-8,
so an answer that echoes one fails to render: both are refused in every key
and string of a request (`loads`, `require_clean_text`), with a message that never
repeats what was sent.

Every refusal here is a `Refusal` with a stable code; none of them echoes input.
Plain Python: the ballot fast path (meetings.api.lean) and DRF's parser
(common.api.LimitedJSONParser) share it.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from typing import Any

from common.refusal import Refusal

MAX_DEPTH = 32  # the deepest request we take (a round's rules) has 4 levels
MAX_KEY_CHARS = 128  # an object key is a field name or an id (ids are at most 64)

# A NUL, or a UTF-16 surrogate code point (only a lone one can reach a str:
# JSON's decoder joins a valid pair, and strict UTF-8 decoding refuses the rest).
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")
# Every pattern over raw bytes runs in linear time whatever a client sends:
# escapes are replaced first (one byte each, so `\"` can no longer end a
# string), after which a string is `"[^"]*"` and no match can backtrack
# into another. (A pattern like `"(?:[^"\\]|\\.)*"` is quadratic on a
# string full of escaped quotes.)
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_STRING = re.compile(rb'"[^"]*"')
# More than MAX_KEY_CHARS bytes after a quote before the next: a string (a key?) that may be too long.
_LONG_STRING = re.compile(rb'"[^"]{%d}' % (MAX_KEY_CHARS + 1))
_OPEN_AS_SQUARE = bytes.maketrans(b"{}", b"[]")
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


class InvalidCharacters(Refusal):
    code = "invalid_characters"

    def __init__(self) -> None:
        super().__init__(
            "请求中含有不允许的字符（空字符 U+0000 或不成对的代理字符 U+D800–U+DFFF），请删除后重试",
            "the request contains a character that is not allowed (NUL or an unpaired surrogate)",
        )


class MalformedJSON(Refusal):
    code = "malformed_request"

    def __init__(self) -> None:
        super().__init__("请求内容不是有效的 JSON", "malformed JSON body")


class TooDeep(Refusal):
    code = "json_too_deep"

    def __init__(self) -> None:
        super().__init__(
            f"请求内容嵌套层数过多（最多 {MAX_DEPTH} 层）", f"JSON nested too deeply (at most {MAX_DEPTH} levels)"
        )


class KeyTooLong(Refusal):
    code = "key_too_long"

    def __init__(self) -> None:
        super().__init__(
            f"字段名或编号过长（最多 {MAX_KEY_CHARS} 个字符）", f"a key is too long (at most {MAX_KEY_CHARS} characters)"
        )


class NumberOutOfRange(Refusal):
    code = "number_out_of_range"

    def __init__(self) -> None:
        super().__init__("数字超出范围", "a number is out of range")


def clean_text(value: str) -> bool:
    """Whether `value` has neither a NUL nor a lone surrogate (so it can be stored and encoded)."""
    return _BAD_CHARACTER.search(value) is None


def require_clean_text(values: Iterable[str]) -> None:
    """Raise InvalidCharacters if any of `values` holds a NUL or a lone surrogate."""
    for value in values:
        if not clean_text(value):
            raise InvalidCharacters()


def _unescaped(raw: bytes) -> bytes:
    """`raw` with each escape (a backslash and the byte after it) replaced by one byte that means nothing."""
    return _ESCAPE.sub(b"_", raw) if b"\\" in raw else raw


def depth_within(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Whether no array or object in the JSON text `raw` is nested deeper than `limit`.

    Brackets inside strings do not count. Cheap for every real request: a
    text with at most `limit` opening brackets cannot be deeper, and that is
    two counts in C. Otherwise, in C: drop the strings, keep the brackets,
    and strip innermost pairs `limit` times; a valid document within the
    limit leaves nothing. Only what is left over (too deep, or not JSON)
    is counted bracket by bracket in Python, stopping at the first level
    too deep.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return True
    brackets = _STRING.sub(b"", _unescaped(raw)).translate(_OPEN_AS_SQUARE, _NOT_A_BRACKET)
    rest = brackets
    for _ in range(limit):
        if b"[]" not in rest:
            break
        rest = rest.replace(b"[]", b"")
    if b"[" not in rest:
        return True
    depth = 0
    for byte in brackets:
        depth += 1 if byte == ord("[") else -1
        if depth > limit:
            return False
    return True  # unbalanced, not deep: json.loads refuses it as malformed


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity are not JSON


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400
        raise NumberOutOfRange()
    return value


# One decoder for every request (json.loads with hooks builds a new one per call).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite)


def loads(raw: bytes) -> Any:
    """Parse a UTF-8 JSON request body within the house limits, or raise a Refusal.

    Refused: a text nested deeper than MAX_DEPTH (checked before parsing),
    text that is not UTF-8 or not JSON, NaN/Infinity and numbers that
    overflow a float, a key longer than MAX_KEY_CHARS, a NUL or lone
    surrogate in any key or string.
    """
    if not depth_within(raw):
        raise TooDeep()
    try:
        data = _DECODER.decode(raw.decode("utf-8"))
    except RecursionError:  # cannot happen within MAX_DEPTH; never a 500 if it does
        raise TooDeep() from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, int digits beyond Python's limit
        raise MalformedJSON() from None
    # The walk costs several times the parse of a ballot, so it runs only
    # where it can find something: only an escape can put a NUL or a lone
    # surrogate into a parsed string (strict UTF-8 refuses encoded
    # surrogates, JSON refuses raw control characters), and a key of more
    # than MAX_KEY_CHARS characters takes more bytes than that between two
    # quotes (once each escape is one byte).
    if b"\\u" in raw or _LONG_STRING.search(_unescaped(raw)):
        require_clean_tree(data)
    return data


def require_clean_tree(data: Any) -> None:
    """Raise a Refusal for a key or string with a bad character, a key too long, a non-finite number.

    Walks without recursion (the depth is bounded by `loads` anyway).
    """
    pending = [data]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if not clean_text(item):
                raise InvalidCharacters()
        elif isinstance(item, dict):
            for key, value in item.items():
                if len(key) > MAX_KEY_CHARS:
                    raise KeyTooLong()
                if not clean_text(key):
                    raise InvalidCharacters()
                pending.append(value)
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise NumberOutOfRange()
