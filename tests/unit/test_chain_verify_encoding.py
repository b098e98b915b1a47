"""Canonical encoding and event hash: vectors, the worked example in docs/event-log-format.md, properties.

Pure Python (no database, no Django), as the rest of test_chain_verify*.py;
the logs of the properties are built with chain_given.py.
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from chain_given import BASE_TIME, HASHED_FIELDS, REPO_ROOT, STREAM, Event, compute_hash, log_lines
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.chain import (
    EVENT_FORMAT,
    GENESIS_HASH,
    MAX_SAFE_INTEGER,
    CanonicalError,
    canonical_json,
    canonical_json_reference,
    event_hash,
    event_hash_of_encoded,
    format_recorded_at,
    hash_input,
)
from events.verify import verify_lines

# --------------------------------------------------------------------------
# canonical_json vectors
# --------------------------------------------------------------------------


def test_keys_sorted_and_no_whitespace() -> None:
    value = {"b": 1, "a": [1, 2, {"d": None, "c": True}], "B": "x", "_z": [], "a1": {}}
    assert canonical_json(value) == b'{"B":"x","_z":[],"a":[1,2,{"c":true,"d":null}],"a1":{},"b":1}'


def test_string_escaping_matches_the_spec() -> None:
    text = '"\\\b\f\n\r\t\x01\x1f\x7f/\''
    assert canonical_json(text) == b'"\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\x7f/\'"'


def test_all_control_characters_use_lowercase_hex() -> None:
    for code in range(1, 0x20):
        encoded = canonical_json(chr(code)).decode("ascii")
        short = {8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}
        assert encoded == '"' + short.get(code, f"\\u{code:04x}") + '"'


def test_chinese_and_other_non_ascii_is_literal_utf8() -> None:
    assert canonical_json("述评") == b'"\xe8\xbf\xb0\xe8\xaf\x84"'
    assert canonical_json({"t": "é😀\u2028"}) == '{"t":"é😀\u2028"}'.encode()


def test_nested_structures() -> None:
    value = {"z": [[[]], {"y": [{"b": 2, "a": 1}]}], "a": {"c": {"b": {"a": "深"}}}}
    assert canonical_json(value) == '{"a":{"c":{"b":{"a":"深"}}},"z":[[[]],{"y":[{"a":1,"b":2}]}]}'.encode()


def test_bools_are_not_ints() -> None:
    assert canonical_json([True, 1, False, 0, None]) == b"[true,1,false,0,null]"
    assert canonical_json({"x": True}) != canonical_json({"x": 1})
    kwargs = example_kwargs()
    assert event_hash(**dict(kwargs, data={"x": True})) != event_hash(**dict(kwargs, data={"x": 1}))


_json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53 - 1), max_value=2**53 - 1)
    | st.text()  # any code points, C0 controls, quotes and backslashes included
)
_json_values = st.recursive(
    _json_leaves,
    lambda inner: st.lists(inner, max_size=5)
    | st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), inner, max_size=5),
    max_leaves=40,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(_json_values)
def test_fast_canonical_equals_the_reference_encoder(value: Any) -> None:
    # canonical_json takes the C encoder for plain values; the rule-by-rule
    # encoder is the specification. They must agree byte for byte, and refuse
    # the same values (surrogates, NUL) with the same message.
    try:
        expected = canonical_json_reference(value)
    except CanonicalError as exc:
        with pytest.raises(CanonicalError) as caught:
            canonical_json(value)
        assert str(caught.value) == str(exc)
    else:
        assert canonical_json(value) == expected


_safe_text = st.text().filter(lambda t: "\x00" not in t and not any(0xD800 <= ord(c) <= 0xDFFF for c in t))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), _json_values, max_size=5),
    metadata=st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), _safe_text, max_size=3),
    county=_safe_text,
    stream=_safe_text,
    type_name=_safe_text,
    version=st.integers(min_value=1, max_value=2**31),
    schema_version=st.integers(min_value=0, max_value=50),
    prev=st.from_regex(r"[0-9a-f]{64}", fullmatch=True),
)
def test_hash_of_encoded_data_equals_the_event_hash(
    data: dict[str, Any], metadata: dict[str, str], county: str, stream: str, type_name: str,
    version: int, schema_version: int, prev: str,
) -> None:
    # The store hashes the data bytes it already encoded; an auditor hashes the
    # whole hash input. Both must give the same digest for every event.
    try:
        data_json = canonical_json(data)
    except CanonicalError:
        return  # refused before hashing in both paths
    stamp = format_recorded_at(datetime(2026, 11, 22, 9, 30, 1, 5, tzinfo=UTC))
    common = dict(county=county, stream=stream, version=version, type=type_name,
                  schema_version=schema_version, recorded_at=stamp, prev_hash=prev)
    assert event_hash_of_encoded(
        data_json=data_json, metadata_json=canonical_json(metadata), **common
    ) == event_hash(data=data, metadata=metadata, **common)


def test_integer_range() -> None:
    assert canonical_json([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0, -7]) == (
        b"[9007199254740991,-9007199254740991,0,-7]"
    )
    for big in (2**53, -(2**53), 10**30):
        with pytest.raises(CanonicalError, match="outside"):
            canonical_json({"n": big})


def test_int_subclasses_encode_as_plain_numbers() -> None:
    class Level(enum.IntEnum):
        HIGH = 3

    assert canonical_json({"level": Level.HIGH}) == b'{"level":3}'


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ({"data": {"marks": [0, 1, 2, {"grade": 1.5}]}}, "data.marks[3].grade: floats are not allowed"),
        ({"x": float("nan")}, "x: floats"),
        ({"x": 1.0}, "x: floats"),
        ({"s": "a\x00b"}, "s: string contains U+0000"),
        ({"s": "\ud800"}, "lone surrogate U+D800"),
        ({"名字": 1}, "not an ASCII identifier"),
        ({"1abc": 1}, "not an ASCII identifier"),
        ({"a-b": 1}, "not an ASCII identifier"),
        ({"": 1}, "not an ASCII identifier"),
        ({"a\n": 1}, "not an ASCII identifier"),
        ({1: "x"}, "not an ASCII identifier"),
        ({"t": (1, 2)}, "t: values of type tuple"),
        ({"t": {1, 2}}, "type set"),
        ({"t": b"x"}, "type bytes"),
        ({"t": Decimal("1.5")}, "type Decimal"),
        ({"t": datetime(2025, 1, 1, tzinfo=UTC)}, "type datetime"),
        ((1, 2), "(root): values of type tuple"),
    ],
)
def test_rejected_values_name_the_path(value: Any, fragment: str) -> None:
    with pytest.raises(CanonicalError, match=re.escape(fragment)):
        canonical_json(value)


def test_canonical_error_is_a_value_error() -> None:
    assert issubclass(CanonicalError, ValueError)


json_keys = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True)
json_text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=12)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INTEGER, max_value=MAX_SAFE_INTEGER)
    | json_text,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(json_keys, children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_canonical_json_equals_python_json_dumps_for_allowed_values(value: Any) -> None:
    expected = json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    assert canonical_json(value) == expected.encode("utf-8")
    assert json.loads(canonical_json(value)) == value


# --------------------------------------------------------------------------
# hash input, event hash, recorded_at
# --------------------------------------------------------------------------


def example_kwargs() -> dict[str, Any]:
    return {
        "county": "lanshan",
        "stream": "m1",
        "version": 1,
        "type": "speech.recorded",
        "schema_version": 1,
        "data": {"title": "述职", "score": 90},
        "metadata": {"actor": "u1"},
        "recorded_at": "2025-03-14T01:30:07.000000Z",
        "prev_hash": GENESIS_HASH,
    }


def test_hash_input_has_exactly_the_documented_fields() -> None:
    result = hash_input(**example_kwargs())
    assert set(result) == {
        "format", "county", "stream", "version", "type", "schema_version",
        "data", "metadata", "recorded_at", "prev_hash",
    }
    assert result["format"] == EVENT_FORMAT == "shuping-event/1"
    assert GENESIS_HASH == "0" * 64


def test_event_hash_known_vector() -> None:
    # Written out by hand from the rules, independent of the encoder.
    expected_bytes = (
        '{"county":"lanshan","data":{"score":90,"title":"述职"},"format":"shuping-event/1",'
        '"metadata":{"actor":"u1"},"prev_hash":"' + "0" * 64 + '",'
        '"recorded_at":"2025-03-14T01:30:07.000000Z","schema_version":1,"stream":"m1",'
        '"type":"speech.recorded","version":1}'
    ).encode("utf-8")
    assert canonical_json(hash_input(**example_kwargs())) == expected_bytes
    digest = event_hash(**example_kwargs())
    assert digest == hashlib.sha256(expected_bytes).hexdigest()
    assert len(digest) == 64 and digest == digest.lower()


def test_event_hash_ignores_key_insertion_order_but_not_values() -> None:
    kwargs = example_kwargs()
    reordered = dict(kwargs, data={"score": 90, "title": "述职"})
    assert event_hash(**kwargs) == event_hash(**reordered)
    assert event_hash(**kwargs) != event_hash(**dict(kwargs, county="other"))
    assert event_hash(**kwargs) != event_hash(**dict(kwargs, data={"title": "述职", "score": 91}))


def test_event_hash_accepts_aware_datetime_for_recorded_at() -> None:
    kwargs = example_kwargs()
    dt = datetime(2025, 3, 14, 9, 30, 7, tzinfo=timezone(timedelta(hours=8)))
    assert event_hash(**dict(kwargs, recorded_at=dt)) == event_hash(**kwargs)


@pytest.mark.parametrize(
    ("override", "fragment"),
    [
        ({"prev_hash": "0" * 63}, "prev_hash"),
        ({"prev_hash": "A" * 64}, "prev_hash"),
        ({"version": True}, "version must be an integer"),
        ({"version": 0}, "version must be >= 1"),
        ({"version": "1"}, "version must be an integer"),
        ({"schema_version": 1.0}, "schema_version must be an integer"),
        ({"data": [1]}, "data must be an object"),
        ({"metadata": None}, "metadata must be an object"),
        ({"county": 5}, "county must be a string"),
        ({"data": {"x": 0.5}}, "data.x: floats"),
    ],
)
def test_event_hash_rejects_bad_fields(override: dict[str, Any], fragment: str) -> None:
    with pytest.raises(CanonicalError, match=fragment):
        event_hash(**dict(example_kwargs(), **override))


def test_format_recorded_at() -> None:
    beijing = timezone(timedelta(hours=8))
    assert format_recorded_at(datetime(2025, 1, 2, 3, 4, 5, tzinfo=beijing)) == "2025-01-01T19:04:05.000000Z"
    assert format_recorded_at(datetime(2025, 1, 2, 3, 4, 5, 12, tzinfo=UTC)) == "2025-01-02T03:04:05.000012Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_recorded_at(datetime(2025, 1, 2, 3, 4, 5))


# --------------------------------------------------------------------------
# The worked example in docs/event-log-format.md must stay true
# --------------------------------------------------------------------------


def fenced_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)\n```", text, flags=re.S)


def test_worked_example_in_the_format_document() -> None:
    text = (REPO_ROOT / "docs" / "event-log-format.md").read_text(encoding="utf-8")
    [log] = fenced_blocks(text, "jsonl")
    lines = log.split("\n")
    header = json.loads(lines[0])
    report = verify_lines(lines, trusted_heads=[header["head_hash"]])
    assert report.ok, report.problems
    assert report.event_count == 2 and report.trusted_heads[0].version == 2
    assert any("年" in line for line in lines[1:])  # the UTF-8 rule is exercised

    canonical_texts = fenced_blocks(text, "text")[:2]
    for line, shown in zip(lines[1:], canonical_texts, strict=True):
        event = json.loads(line)
        expected = canonical_json(
            hash_input(county=header["county"], **{name: event[name] for name in HASHED_FIELDS})
        )
        assert shown.encode("utf-8") == expected
        assert f"{len(expected)} bytes" in text
        assert hashlib.sha256(expected).hexdigest() == event["hash"]
        assert f"\n    {event['hash']}\n" in text  # the hash printed below the bytes


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------

data_dicts = st.dictionaries(json_keys, json_values, max_size=5)


def build_random_log(datas: list[dict[str, Any]]) -> tuple[list[str], list[Event]]:
    events: list[Event] = []
    prev = GENESIS_HASH
    for version, data in enumerate(datas, start=1):
        event: Event = {
            "position": version * 3,
            "stream": STREAM,
            "version": version,
            "type": "random.event",
            "schema_version": 1,
            "data": data,
            "metadata": {"n": version, "note": "随机"},
            "recorded_at": format_recorded_at(BASE_TIME + timedelta(microseconds=version)),
            "prev_hash": prev,
        }
        event["hash"] = compute_hash(event)
        prev = event["hash"]
        events.append(event)
    return log_lines(events), events


def hashed_view(event: Any) -> bytes:
    """Everything the hash protects (plus the stored hash), canonically encoded."""
    return canonical_json({name: event[name] for name in (*HASHED_FIELDS, "hash")})


@settings(max_examples=60, deadline=None)
@given(st.lists(data_dicts, max_size=8))
def test_random_logs_verify(datas: list[dict[str, Any]]) -> None:
    lines, events = build_random_log(datas)
    report = verify_lines(lines)
    assert report.ok, report.problems
    assert report.event_count == len(events)


flip_chars = st.one_of(
    st.sampled_from(list('0123456789abcdefABCDEF"\\{}[],: \n\t\r-.eEtfnu')),
    st.characters(exclude_categories=["Cs"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(data_dicts, min_size=1, max_size=6), st.data())
def test_single_character_flip_never_passes_unnoticed(
    datas: list[dict[str, Any]], draw: st.DataObject
) -> None:
    lines, events = build_random_log(datas)
    index = draw.draw(st.integers(min_value=1, max_value=len(lines) - 1), label="line")
    line = lines[index]
    column = draw.draw(st.integers(min_value=0, max_value=len(line) - 1), label="column")
    replacement = draw.draw(flip_chars.filter(lambda c: c != line[column]), label="replacement")
    flipped = line[:column] + replacement + line[column + 1 :]
    text = "\n".join(lines[:index] + [flipped] + lines[index + 1 :]) + "\n"

    report = verify_lines(text.split("\n")[:-1])
    if report.ok:
        # Only a change with no effect on hashed content may pass (e.g. the
        # position, which is ordered but not hashed, or an equivalent escape).
        new_events = [json.loads(raw) for raw in text.split("\n")[1:-1]]
        assert [hashed_view(e) for e in new_events] == [hashed_view(e) for e in events]
    else:
        problem = report.first_problem
        assert problem is not None
        # The break is reported at the flipped line, or at the header for
        # count/head disagreements (e.g. a newline splitting the line).
        flipped_line_no = index + 1
        if problem.code in ("count_mismatch", "head_mismatch"):
            assert problem.line_no == 1, problem
        elif problem.code == "position_not_increasing":
            # A raised position is only noticed when the next event arrives.
            assert problem.line_no in (flipped_line_no, flipped_line_no + 1), problem
        else:
            assert problem.line_no == flipped_line_no, problem
