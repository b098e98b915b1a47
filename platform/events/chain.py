"""Canonical JSON encoding and the per-stream SHA-256 hash chain.

Every event of a stream (one meeting) carries ``prev_hash`` (the ``hash`` of the
previous event of the same stream, or :data:`GENESIS_HASH` for the first one)
and ``hash``, the SHA-256 of a *canonical* JSON encoding of the event's
content together with ``prev_hash``.  Changing, removing, inserting or
reordering any event therefore changes every hash after it.

Why a canonical form, and why this one
--------------------------------------
Events are stored in PostgreSQL ``jsonb`` columns.  ``jsonb`` does not keep
the text it was given: it reorders object keys, drops insignificant whitespace
and normalises escapes.  A hash over "the JSON text we happened to send" could
never be recomputed from what the database hands back, nor by an auditor from
an exported file.  So we hash a form that is a pure function of the *value*:

* object keys sorted by code point (we only allow ASCII identifier keys, so
  code-point, UTF-16 and byte order all agree and no collation question arises);
* no whitespace at all (separators ``,`` and ``:``);
* strings escaped minimally: ``\\"``, ``\\\\``, the short forms ``\\b \\f \\n
  \\r \\t``, every other code point below U+0020 as ``\\u00xx`` (lowercase
  hex), everything else written literally; the whole text encoded as UTF-8.
  This is exactly what Python's ``json.dumps(..., ensure_ascii=False)`` writes
  and coincides with RFC 8785 (JCS) for the values we allow;
* integers only, within the IEEE-754 "safe" range ``±(2**53 - 1)`` so that
  JavaScript and other double-based parsers read them exactly.

Floats are refused on purpose: the shortest round-trip text of a binary
float differs between languages and libraries (``1e21`` vs ``1e+21``,
``0.1`` vs ``0.10000000000000001``), so a verifier written elsewhere could
disagree with us about the bytes being hashed.  Rates, scores and
percentages are stored as strings (``"87.5"``) or as an integer
numerator/denominator pair.

U+0000 is refused because PostgreSQL ``jsonb`` cannot store it, and lone
surrogates are refused because they cannot be encoded as UTF-8.

This module must stay free of Django and of any third-party import: the
same code is used by the offline verifier that auditors run on an export.
"""

from __future__ import annotations

import hashlib
import json as _json
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "EVENT_FORMAT",
    "GENESIS_HASH",
    "MAX_SAFE_INTEGER",
    "CanonicalError",
    "canonical_json",
    "event_hash",
    "event_hash_of_encoded",
    "format_recorded_at",
    "hash_input",
    "is_hex_digest",
]

#: ``prev_hash`` of the first event of every stream.
GENESIS_HASH = "0" * 64

#: Value of the ``format`` member of every hash input; bump it if the hash
#: input ever changes shape, so old and new events can never be confused.
EVENT_FORMAT = "shuping-event/1"

#: Largest integer a double-precision parser reads exactly (2**53 - 1).
MAX_SAFE_INTEGER = 2**53 - 1

# Object keys: ASCII identifiers only.  This keeps sorting unambiguous across
# languages (no UTF-16 vs code point vs collation differences).
_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_HEX64_RE = re.compile(r"[0-9a-f]{64}\Z")

# Escape table for str.translate: the two mandatory escapes, the five short
# forms, and \u00xx (lowercase hex) for the remaining C0 control characters.
_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}
_ESCAPES: dict[int, str] = {code: f"\\u{code:04x}" for code in range(0x20)}
_ESCAPES.update({ord(char): escaped for char, escaped in _SHORT_ESCAPES.items()})

# A string is acceptable unless it contains NUL or a surrogate code point.
_FORBIDDEN_CHARS_RE = re.compile("[\x00\ud800-\udfff]")


class CanonicalError(ValueError):
    """A value cannot be represented in the canonical form (and must not be stored)."""


def is_hex_digest(value: object) -> bool:
    """True when ``value`` is a string of exactly 64 lowercase hex digits."""
    return isinstance(value, str) and _HEX64_RE.match(value) is not None


def _join_key(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _describe(path: str) -> str:
    return path or "(root)"


def _encode_string(value: str, path: str) -> str:
    bad = _FORBIDDEN_CHARS_RE.search(value)
    if bad is not None:
        char = bad.group()
        what = "U+0000 (NUL, rejected by PostgreSQL jsonb)" if char == "\x00" else (
            f"lone surrogate U+{ord(char):04X} (not encodable as UTF-8)"
        )
        raise CanonicalError(f"{_describe(path)}: string contains {what} at index {bad.start()}")
    return '"' + value.translate(_ESCAPES) + '"'


def _encode(value: Any, path: str, out: list[str]) -> None:
    # bool must be tested before int: bool is a subclass of int in Python,
    # but true/false are a different JSON type from 1/0 and hash differently.
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_encode_string(value, path))
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise CanonicalError(
                f"{_describe(path)}: integer {value} is outside ±(2**53-1); "
                "store it as a string"
            )
        # int.__repr__ avoids the str() of int subclasses such as IntEnum.
        out.append(int.__repr__(value))
    elif isinstance(value, float):
        raise CanonicalError(
            f"{_describe(path)}: floats are not allowed ({value!r}); their text form is "
            "not portable between languages. Use a string like \"87.5\" or an integer "
            "numerator/denominator"
        )
    elif isinstance(value, dict):
        keys = list(value)
        for key in keys:
            if not isinstance(key, str) or _KEY_RE.match(key) is None:
                raise CanonicalError(
                    f"{_describe(path)}: object key {key!r} is not an ASCII identifier "
                    "matching ^[A-Za-z_][A-Za-z0-9_]*$"
                )
        out.append("{")
        # Keys are ASCII, so Python's code-point sort equals byte order and
        # the UTF-16 order that RFC 8785 prescribes.
        for index, key in enumerate(sorted(keys)):
            if index:
                out.append(",")
            out.append('"')
            out.append(key)  # identifiers never need escaping
            out.append('":')
            _encode(value[key], _join_key(path, key), out)
        out.append("}")
    elif isinstance(value, list):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, f"{path}[{index}]", out)
        out.append("]")
    else:
        # Tuples, sets, Decimals, datetimes, bytes ... are refused rather than
        # silently converted: an implicit conversion is a second encoding rule
        # that a verifier in another language would have to reproduce.
        raise CanonicalError(
            f"{_describe(path)}: values of type {type(value).__name__} are not allowed; "
            "use dict, list, str, int, bool or None"
        )


# Keys and short strings already found acceptable. They repeat across events
# (a close appends hundreds of ballots, each with the same subject, criterion
# and grade ids: ~60 regex matches a ballot), so each is checked once. Bounded:
# cleared when full. Exact str only (a subclass is never plain).
_ACCEPTED: set[str] = set()
_ACCEPTED_MAX = 50_000
_ACCEPTED_LENGTH = 64


_KEYS_ACCEPTED: set[str] = set()  # keys found to be ASCII identifiers (a separate set: a value is not a key)


def _key_accepted(key: str) -> bool:
    if _KEY_RE.match(key) is None:
        return False
    if len(_KEYS_ACCEPTED) >= _ACCEPTED_MAX:
        _KEYS_ACCEPTED.clear()
    _KEYS_ACCEPTED.add(key)
    return True


def _accepted(text: str, pattern_ok: bool) -> bool:
    if pattern_ok and len(text) <= _ACCEPTED_LENGTH:
        if len(_ACCEPTED) >= _ACCEPTED_MAX:
            _ACCEPTED.clear()
        _ACCEPTED.add(text)
    return pattern_ok


def _plain(value: Any) -> bool:
    """True when ``value`` is built only of exact dict/list/str/int/bool/None
    that the canonical form accepts (no subclasses, no floats, no bad keys)."""
    kind = type(value)
    if kind is str:
        return value in _ACCEPTED or _accepted(value, _FORBIDDEN_CHARS_RE.search(value) is None)
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                return False
            if key not in _KEYS_ACCEPTED and not _key_accepted(key):
                return False
            if not _plain(item):
                return False
        return True
    if kind is list:
        return all(_plain(item) for item in value)
    if kind is int:
        return -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER
    return value is None or value is True or value is False


def canonical_json(obj: Any) -> bytes:
    """Return the canonical JSON encoding of ``obj`` as UTF-8 bytes.

    Allowed values: ``dict`` (ASCII identifier keys), ``list``, ``str``
    (no U+0000, no lone surrogates), ``int`` within ``±(2**53 - 1)``,
    ``True``, ``False`` and ``None``.  Anything else raises
    :class:`CanonicalError` whose message names the offending path, e.g.
    ``data.marks[3].grade``.  See the module docstring for the rationale.

    For values made only of the plain built-in types (every event the store
    writes) the standard library's C encoder produces exactly the canonical
    text: keys are ASCII identifiers, so its code-point sort is the canonical
    order, and its escapes (the short forms, ``\\u00xx`` in lowercase for the
    other C0 controls, nothing else) are the canonical escapes. Anything else
    (subclasses, or a value to be refused with a precise message) goes through
    the reference encoder below; a property test holds the two equal.
    """
    try:
        plain = _plain(obj)
    except RecursionError:
        plain = False
    if plain:
        return _json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return canonical_json_reference(obj)


def canonical_json_reference(obj: Any) -> bytes:
    """The canonical encoder written out rule by rule (slow; the specification in code)."""
    out: list[str] = []
    try:
        _encode(obj, "", out)
    except RecursionError:
        raise CanonicalError("value is nested too deeply to encode") from None
    return "".join(out).encode("utf-8")


def format_recorded_at(dt: datetime) -> str:
    """Format an aware datetime as UTC ``YYYY-MM-DDTHH:MM:SS.ffffffZ``.

    Always six fractional digits and a literal ``Z``, so that the string (which
    is part of the hash input) has exactly one spelling per instant.  A naive
    datetime is refused: guessing its zone would make the hash depend on the
    server's configuration.
    """
    if not isinstance(dt, datetime):
        raise TypeError(f"expected a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("recorded_at must be timezone-aware; naive datetimes are ambiguous")
    utc = dt.astimezone(UTC)
    # Built by hand: strftime("%Y") does not zero-pad years below 1000 on every platform.
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}Z"
    )


def _type_name(value: object) -> str:
    # Module-level helper because hash_input's ``type`` parameter shadows the builtin.
    return type(value).__name__


def _require_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise CanonicalError(f"{name} must be a string, got {type(value).__name__}")
    return value


def _require_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise CanonicalError(f"{name} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise CanonicalError(f"{name} must be >= {minimum}, got {value}")
    return value


def hash_input(
    *,
    county: str,
    stream: str,
    version: int,
    type: str,
    schema_version: int,
    data: Mapping[str, Any],
    metadata: Mapping[str, Any],
    recorded_at: str | datetime,
    prev_hash: str,
) -> dict[str, Any]:
    """Build the object whose canonical JSON is hashed for one event.

    ``recorded_at`` may be given as an aware datetime (it is then formatted
    with :func:`format_recorded_at`) or as the already formatted string read
    back from storage or from an export.  ``data`` and ``metadata`` must be
    JSON objects; their contents are validated when the result is encoded.
    """
    if isinstance(recorded_at, datetime):
        recorded_at = format_recorded_at(recorded_at)
    if not isinstance(data, Mapping):
        raise CanonicalError(f"data must be an object, got {_type_name(data)}")
    if not isinstance(metadata, Mapping):
        raise CanonicalError(f"metadata must be an object, got {_type_name(metadata)}")
    if not is_hex_digest(prev_hash):
        raise CanonicalError("prev_hash must be 64 lowercase hexadecimal digits")
    return {
        "format": EVENT_FORMAT,
        "county": _require_str("county", county),
        "stream": _require_str("stream", stream),
        "version": _require_int("version", version, 1),
        "type": _require_str("type", type),
        "schema_version": _require_int("schema_version", schema_version, 0),
        # Copied into plain dicts so that Mapping subclasses encode like dicts.
        "data": dict(data),
        "metadata": dict(metadata),
        "recorded_at": _require_str("recorded_at", recorded_at),
        "prev_hash": prev_hash,
    }


def event_hash(
    *,
    county: str,
    stream: str,
    version: int,
    type: str,
    schema_version: int,
    data: Mapping[str, Any],
    metadata: Mapping[str, Any],
    recorded_at: str | datetime,
    prev_hash: str,
) -> str:
    """Lowercase hex SHA-256 of ``canonical_json(hash_input(...))``."""
    payload = canonical_json(
        hash_input(
            county=county,
            stream=stream,
            version=version,
            type=type,
            schema_version=schema_version,
            data=data,
            metadata=metadata,
            recorded_at=recorded_at,
            prev_hash=prev_hash,
        )
    )
    return hashlib.sha256(payload).hexdigest()


def event_hash_of_encoded(
    *,
    county: str,
    stream: str,
    version: int,
    type: str,
    schema_version: int,
    data_json: bytes,
    metadata_json: bytes,
    recorded_at: str,
    prev_hash: str,
) -> str:
    """:func:`event_hash` for data and metadata already in canonical form.

    The store encodes each event's data once (it must, to refuse what has no
    canonical form) and hashes those bytes here instead of encoding the data a
    second time inside the whole hash input. The hash input's members are
    written in their canonical (sorted) order around the given bytes, so the
    result is the same digest as ``event_hash`` (a property test holds the two
    equal). ``data_json`` and ``metadata_json`` must be ``canonical_json`` of
    objects; this is not checked again.
    """
    if not is_hex_digest(prev_hash):
        raise CanonicalError("prev_hash must be 64 lowercase hexadecimal digits")
    payload = b"".join(
        (
            b'{"county":', _canonical_name(_require_str("county", county)),
            b',"data":', data_json,
            b',"format":', _CANONICAL_FORMAT,
            b',"metadata":', metadata_json,
            b',"prev_hash":"', prev_hash.encode("ascii"),
            b'","recorded_at":', canonical_json(_require_str("recorded_at", recorded_at)),
            b',"schema_version":', _canonical_int(_require_int("schema_version", schema_version, 0)),
            b',"stream":', _canonical_name(_require_str("stream", stream)),
            b',"type":', _canonical_name(_require_str("type", type)),
            b',"version":', _canonical_int(_require_int("version", version, 1)),
            b"}",
        )
    )
    return hashlib.sha256(payload).hexdigest()


# The members of an event's hash input other than its data, metadata and time
# repeat from event to event (the county, the stream, the type) or are small
# integers: their canonical bytes are taken from here rather than by running
# the whole encoder six times an event (that was most of the hash's cost).
# The same bytes as canonical_json (a property test holds event_hash_of_encoded
# equal to event_hash).
_CANONICAL_FORMAT = canonical_json(EVENT_FORMAT)
_NAMES: dict[str, bytes] = {}
_NAMES_MAX = 10_000


def _canonical_name(text: str) -> bytes:
    """canonical_json(text), remembered for exact str (a subclass always goes through the encoder)."""
    if type(text) is not str:
        return canonical_json(text)
    encoded = _NAMES.get(text)
    if encoded is None:
        encoded = canonical_json(text)
        if len(_NAMES) >= _NAMES_MAX:
            _NAMES.clear()
        _NAMES[text] = encoded
    return encoded


def _canonical_int(value: int) -> bytes:
    """canonical_json(value) of an int: its decimal digits when it is an exact int in range."""
    if type(value) is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
        return b"%d" % value
    return canonical_json(value)
