"""The export's own spelling of an event line, and the quick reading that relies on it.

The format lets a line be spelled any way (docs/event-log-format.md section 2):
the hash is over a canonical re-encoding of the parsed values, so a verifier
must parse strictly (duplicate keys, NaN, ``-0``) and then encode. Shuping's
exporter always writes an event line in one fixed spelling (:func:`event_line`):
the members in the order of section 4, no whitespace, and ``data`` and
``metadata`` each written exactly as their canonical JSON (section 6).

:func:`read_event` reads such a line with the standard library's C parser (no
Python hooks), encodes ``data`` and ``metadata`` canonically once, and accepts
the line only if spelling the parsed line again gives the line's very text
back. Equal text means the text has the structure of the re-spelling, which
has no duplicate key, no whitespace, no odd escape and no ``-0``; floats and
``NaN`` stop the parser; the value set is checked as the strict path checks
it. The canonical bytes of the hash input are then assembled from the pieces
already encoded, without building its dict. Anything else (another spelling,
any doubt, any error) returns None and the caller takes the strict path, so
every verdict and report is the strict path's: only the speed depends on the
spelling (a property test holds the two equal on mutated lines).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .canonical import (
    _ENCODER,
    _FIELD_VALUES,
    _HEX64_RE,
    EVENT_FORMAT,
    MAX_SAFE_INTEGER,
    _plain,
)

# The canonical spelling of a str (section 6, rule 6), as the encoder writes it; C when available.
canonical_string = json.encoder.encode_basestring
_string = canonical_string


def _encoder_core() -> Any:
    """The canonical encoder's C core, built once (``JSONEncoder.encode`` builds it again on every call).

    No circularity markers: a parsed value has no cycles. Where the C module is missing or takes other
    arguments, the encoder itself (the same text, more slowly).
    """
    try:
        core = json.encoder.c_make_encoder(  # type: ignore[attr-defined]
            None, _ENCODER.default, _string, None, ":", ",", True, False, True)
        sample = {"b": [1, None, True, "述\n"], "a": {"z": -2, "A_": {}}}
        if "".join(core(sample, 0)) == _ENCODER.encode(sample):
            return core
    except Exception:  # noqa: BLE001, S110 - any failure: the portable way below
        pass
    return lambda value, _level: (_ENCODER.encode(value),)


_core = _encoder_core()
_join = "".join


def _canonical(value: Any) -> str:
    return _join(_core(value, 0))


_sha256 = hashlib.sha256
_hex = _HEX64_RE.match


def _refuse(token: str) -> Any:
    raise ValueError(token)


# The C scanner with no object hook and the default integer parser: only a float or a
# NaN/Infinity calls back (and is refused: the strict path then names it).
_scan = json.JSONDecoder(parse_float=_refuse, parse_constant=_refuse).scan_once  # type: ignore[attr-defined]  # set in __init__


def event_line(line: dict[str, Any]) -> str:
    """The export's spelling of an event line (without the line feed); a public line's ``redacted`` last."""
    text = (f'{{"position":{line["position"]},"stream":{_string(line["stream"])},"version":{line["version"]},'
            f'"type":{_string(line["type"])},"schema_version":{line["schema_version"]},'
            f'"data":{_canonical(line["data"])},"metadata":{_canonical(line["metadata"])},'
            f'"recorded_at":{_string(line["recorded_at"])},"prev_hash":{_string(line["prev_hash"])},'
            f'"hash":{_string(line["hash"])}')
    if "redacted" in line:
        return text + (',"redacted":true}' if line["redacted"] else ',"redacted":false}')
    return text + "}"


def read_event(raw: str | bytes, county_json: str, public: bool) -> tuple[Any, ...] | None:
    """The fields of a line in the export's spelling, exactly as the strict path reads them; None otherwise.

    The fields are those of the LogEvent the strict path returns, in its order (a tuple: the
    verifier's loop unpacks it). ``county_json`` is the header's county as a canonical JSON string.
    """
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        obj, end = _scan(text, 0)
        if type(obj) is not dict:
            return None
        position, stream, version, kind, schema_version, data, metadata, recorded_at, prev_hash, digest = (
            _FIELD_VALUES(obj))
        # Types, the cheap way: a non-number fails the comparisons (TypeError) and a bool is spelled
        # True/False below, not true/false; a non-string fails the hex match or the string encoder.
        if not (type(data) is dict and type(metadata) is dict and -MAX_SAFE_INTEGER <= position <= MAX_SAFE_INTEGER
                and 1 <= version <= MAX_SAFE_INTEGER and 0 <= schema_version <= MAX_SAFE_INTEGER
                and _hex(prev_hash) and _hex(digest) and _plain(data) and _plain(metadata)):
            return None
        encoded_data, encoded_metadata = _join(_core(data, 0)), _join(_core(metadata, 0))
        stream_json, type_json, recorded_json = _string(stream), _string(kind), _string(recorded_at)
        spelled = (f'{{"position":{position},"stream":{stream_json},"version":{version},"type":{type_json},'
                   f'"schema_version":{schema_version},"data":{encoded_data},"metadata":{encoded_metadata},'
                   f'"recorded_at":{recorded_json},"prev_hash":"{prev_hash}","hash":"{digest}"')
        redacted = False
        if public:
            redacted = obj["redacted"]
            if type(redacted) is not bool or len(obj) != 11:
                return None
            spelled += ',"redacted":true}' if redacted else ',"redacted":false}'
        else:
            spelled += "}"
        # The line's text must be the re-spelling, followed by nothing or by one line feed.
        if not (end == len(spelled) and text.startswith(spelled) and (end == len(text) or text[end:] == "\n")):
            return None
        # Section 5's hash input, its members in canonical (sorted) order, from the encoded pieces.
        hash_input = (f'{{"county":{county_json},"data":{encoded_data},"format":"{EVENT_FORMAT}",'
                      f'"metadata":{encoded_metadata},"prev_hash":"{prev_hash}","recorded_at":{recorded_json},'
                      f'"schema_version":{schema_version},"stream":{stream_json},"type":{type_json},'
                      f'"version":{version}}}')
        if "\\u0000" in hash_input:
            return None  # U+0000 somewhere (or a harmless look-alike): the strict path names it
        computed = _sha256(hash_input.encode("utf-8")).hexdigest()
    except Exception:  # noqa: BLE001 - any doubt at all: the strict path decides and words the report
        return None
    return position, stream, version, prev_hash, digest, digest if redacted else computed, kind, data, redacted
