"""Canonical encoding, hash chain and offline verifier: vectors, tampering, properties.

These tests are pure Python (no database, no Django): the verifier is meant to
run on an auditor's laptop, so it is tested the same way.
"""

from __future__ import annotations

import copy
import enum
import hashlib
import json
import random
import re
import subprocess
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
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
from events.verify import Problem, VerifyReport, main, verify_file, verify_lines

REPO_ROOT = Path(__file__).resolve().parents[2]

COUNTY = "lanshan"
STREAM = "3f9d2c1e-7b4a-4e0c-9a51-6d2e8f0b7c44"
HASHED_FIELDS = (
    "stream",
    "version",
    "type",
    "schema_version",
    "data",
    "metadata",
    "recorded_at",
    "prev_hash",
)
BASE_TIME = datetime(2025, 3, 14, 1, 30, tzinfo=UTC)

Event = dict[str, Any]


# --------------------------------------------------------------------------
# Log builder
# --------------------------------------------------------------------------


def dumps(obj: Any) -> str:
    # Lines are written compactly but NOT in canonical key order, to make sure
    # the verifier hashes the meaning of a line rather than its spelling.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def compute_hash(event: Event, county: str = COUNTY) -> str:
    return event_hash(county=county, **{name: event[name] for name in HASHED_FIELDS})


def sample_data(version: int, rng: random.Random) -> dict[str, Any]:
    kind = version % 3
    if kind == 1:
        return {
            "title": f"第{version}项 述职报告：加强基层治理",
            "speaker": {"name": "王小明", "unit": "城关镇"},
            "duration_s": rng.randint(60, 900),
        }
    if kind == 2:
        return {
            "voter": f"delegate-{rng.randint(1, 80):03d}",
            "score": rng.randint(0, 100),
            "grade": rng.choice(["满意", "基本满意", "不满意"]),
            "rate": "87.5",
        }
    return {
        "note": "现场提问：\n“村道维修进度如何？”\t(追问)",
        "marks": [{"grade": "A", "weight": [3, 4]}, {"grade": "B", "weight": [1, 4]}],
        "public": True,
        "attachment": None,
    }


def make_events(
    n: int, *, county: str = COUNTY, stream: str = STREAM, seed: int = 1, start: int = 100
) -> list[Event]:
    """A valid chain of ``n`` events; positions have gaps like a shared county log."""
    rng = random.Random(seed)
    events: list[Event] = []
    prev = GENESIS_HASH
    position = start
    for version in range(1, n + 1):
        position += rng.randint(2, 9)  # other meetings' events interleave
        event: Event = {
            "position": position,
            "stream": stream,
            "version": version,
            "type": ("speech.recorded", "mark.cast", "question.asked")[version % 3],
            "schema_version": 1,
            "data": sample_data(version, rng),
            "metadata": {"actor": f"user-{rng.randint(1, 9)}", "ip_zone": "县政府会议室"},
            "recorded_at": format_recorded_at(BASE_TIME + timedelta(seconds=version * 7)),
            "prev_hash": prev,
        }
        event["hash"] = compute_hash(event, county)
        prev = event["hash"]
        events.append(event)
    return events


def rechain(events: list[Event], county: str = COUNTY) -> list[Event]:
    """What someone with database write access can do: renumber and re-hash everything."""
    result: list[Event] = []
    prev = GENESIS_HASH
    for version, event in enumerate(events, start=1):
        event = copy.deepcopy(event)
        event["version"] = version
        event["prev_hash"] = prev
        event["hash"] = compute_hash(event, county)
        prev = event["hash"]
        result.append(event)
    return result


def make_header(events: list[Event], *, county: str = COUNTY, stream: str = STREAM) -> dict[str, Any]:
    return {
        "format": "shuping-log",
        "format_version": 1,
        "county": county,
        "stream": stream,
        "exported_at": "2025-03-14T09:00:00.000000Z",
        "event_count": len(events),
        "head_hash": events[-1]["hash"] if events else None,
    }


def log_lines(events: list[Event], header: dict[str, Any] | None = None) -> list[str]:
    header = make_header(events) if header is None else header
    return [dumps(header)] + [dumps(event) for event in events]


def write_log(path: Path, lines: Iterable[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def line_of(version: int) -> int:
    """File line number of the event with this version in an untampered log."""
    return version + 1


def assert_first(
    report: VerifyReport,
    code: str,
    *,
    line_no: int | None,
    position: int | None = None,
    version: int | None = None,
) -> Problem:
    assert not report.ok
    problem = report.first_problem
    assert problem is not None
    assert (problem.code, problem.line_no) == (code, line_no), problem
    if position is not None:
        assert problem.position == position, problem
    if version is not None:
        assert problem.version == version, problem
    assert problem.message and problem.message_zh
    return problem


@pytest.fixture
def events() -> list[Event]:
    return make_events(12)


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
# Untampered logs
# --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [0, 1, 2, 50])
def test_untampered_logs_verify(tmp_path: Path, size: int) -> None:
    events = make_events(size)
    report = verify_file(write_log(tmp_path / "log.jsonl", log_lines(events)))
    assert report.ok, report.problems
    assert report.problems == [] and report.first_problem is None
    assert (report.county, report.stream) == (COUNTY, STREAM)
    assert report.event_count == report.verified_count == size
    assert report.head_hash == (events[-1]["hash"] if events else None)


def test_line_spelling_does_not_matter_only_meaning(events: list[Event]) -> None:
    # Key order, whitespace, \u escapes and CRLF endings change no value, and
    # the hash is over the canonical re-encoding of the values.
    lines = [json.dumps(make_header(events), sort_keys=True, indent=None) + "\r\n"]
    lines += [json.dumps(event, ensure_ascii=True, sort_keys=True) + "\r\n" for event in events]
    assert verify_lines(lines).ok


def test_byte_order_mark_before_header_is_tolerated(tmp_path: Path, events: list[Event]) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(log_lines(events)).encode("utf-8"))
    assert verify_file(path).ok


def test_verify_lines_accepts_a_generator(events: list[Event]) -> None:
    assert verify_lines(line for line in log_lines(events)).ok


# --------------------------------------------------------------------------
# Tampering
# --------------------------------------------------------------------------


def test_changed_byte_in_payload_string(events: list[Event]) -> None:
    lines = log_lines(events)
    target = line_of(7) - 1
    assert "述职报告" in lines[target]
    lines[target] = lines[target].replace("述职报告", "述职汇报", 1)
    assert_first(verify_lines(lines), "hash_mismatch", line_no=8, position=events[6]["position"], version=7)


def test_changed_number_in_data(events: list[Event]) -> None:
    tampered = copy.deepcopy(events)
    tampered[4]["data"]["score"] += 1  # version 5 is a mark.cast with a score
    problem = assert_first(
        verify_lines(log_lines(tampered, make_header(events))), "hash_mismatch",
        line_no=6, position=events[4]["position"], version=5,
    )
    assert "altered" in problem.message and "改动" in problem.message_zh


def test_changed_metadata(events: list[Event]) -> None:
    tampered = copy.deepcopy(events)
    tampered[2]["metadata"]["actor"] = "user-0"
    assert_first(verify_lines(log_lines(tampered, make_header(events))), "hash_mismatch", line_no=4, version=3)


def test_changed_recorded_at(events: list[Event]) -> None:
    tampered = copy.deepcopy(events)
    assert tampered[9]["recorded_at"].endswith(".000000Z")
    tampered[9]["recorded_at"] = tampered[9]["recorded_at"].replace(".000000Z", ".000001Z")
    assert_first(verify_lines(log_lines(tampered, make_header(events))), "hash_mismatch", line_no=11, version=10)


def test_edited_hash(events: list[Event]) -> None:
    tampered = copy.deepcopy(events)
    old = tampered[4]["hash"]
    tampered[4]["hash"] = old[:-1] + ("0" if old[-1] != "0" else "1")
    assert_first(verify_lines(log_lines(tampered, make_header(events))), "hash_mismatch", line_no=6, version=5)


def test_edited_prev_hash(events: list[Event]) -> None:
    tampered = copy.deepcopy(events)
    tampered[4]["prev_hash"] = "f" * 64
    assert_first(
        verify_lines(log_lines(tampered, make_header(events))), "prev_hash_mismatch",
        line_no=6, position=events[4]["position"], version=5,
    )


def test_edited_prev_hash_with_recomputed_own_hash(events: list[Event]) -> None:
    tampered = copy.deepcopy(events)
    tampered[4]["prev_hash"] = "f" * 64
    tampered[4]["hash"] = compute_hash(tampered[4])
    assert_first(verify_lines(log_lines(tampered, make_header(events))), "prev_hash_mismatch", line_no=6, version=5)


def test_deleted_event_in_the_middle(events: list[Event]) -> None:
    tampered = events[:4] + events[5:]  # version 5 removed
    problem = assert_first(
        verify_lines(log_lines(tampered, make_header(events))), "version_gap",
        line_no=6, position=events[5]["position"], version=6,
    )
    assert "expected version 5" in problem.message and "缺少第 5 版" in problem.message_zh


def test_deleted_first_event(events: list[Event]) -> None:
    assert_first(verify_lines(log_lines(events[1:], make_header(events))), "version_gap", line_no=2, version=2)


def test_deleted_first_event_and_renumbered_versions(events: list[Event]) -> None:
    tampered = copy.deepcopy(events[1:])
    for event in tampered:
        event["version"] -= 1
        event["hash"] = compute_hash(event)
    # Every hash was recomputed, but the first one cannot link to genesis
    # without changing its prev_hash too.
    assert_first(verify_lines(log_lines(tampered, make_header(tampered))), "bad_genesis", line_no=2, version=1)


def test_reordered_events(events: list[Event]) -> None:
    tampered = list(events)
    tampered[3], tampered[4] = tampered[4], tampered[3]
    problem = assert_first(verify_lines(log_lines(tampered, make_header(events))), "version_gap", line_no=5, version=5)
    assert "expected version 4" in problem.message


def test_reordered_events_with_swapped_positions(events: list[Event]) -> None:
    tampered = copy.deepcopy(events)
    tampered[3], tampered[4] = tampered[4], tampered[3]
    tampered[3]["position"], tampered[4]["position"] = tampered[4]["position"], tampered[3]["position"]
    assert_first(verify_lines(log_lines(tampered, make_header(events))), "version_gap", line_no=5, version=5)


def test_positions_must_increase(events: list[Event]) -> None:
    tampered = copy.deepcopy(events)
    tampered[5]["position"] = tampered[4]["position"]
    problem = assert_first(
        verify_lines(log_lines(tampered, make_header(events))), "position_not_increasing",
        line_no=7, position=events[4]["position"], version=6,
    )
    assert str(events[4]["position"]) in problem.message


def test_position_is_ordered_but_not_hashed(events: list[Event]) -> None:
    # Documented property of format 1: `position` locates the event in the
    # county-wide log and is only checked for order; it is not in the hash.
    tampered = copy.deepcopy(events)
    tampered[5]["position"] = tampered[4]["position"] + 1
    assert verify_lines(log_lines(tampered, make_header(events))).ok


def forged_event(after: Event, *, prev_hash: str) -> Event:
    forged: Event = {
        "position": after["position"] + 1,
        "stream": STREAM,
        "version": after["version"] + 1,
        "type": "mark.cast",
        "schema_version": 1,
        "data": {"voter": "delegate-999", "score": 100, "grade": "满意", "rate": "100"},
        "metadata": {"actor": "user-1", "ip_zone": "县政府会议室"},
        "recorded_at": after["recorded_at"],
        "prev_hash": prev_hash,
    }
    forged["hash"] = compute_hash(forged)  # a self-consistent forgery
    return forged


def test_inserted_forgery_with_wrong_prev_link(events: list[Event]) -> None:
    forged = forged_event(events[2], prev_hash="a" * 64)
    tampered = events[:3] + [forged] + events[3:]
    assert_first(
        verify_lines(log_lines(tampered, make_header(tampered))), "prev_hash_mismatch",
        line_no=5, position=forged["position"], version=4,
    )


def test_inserted_forgery_linked_but_not_rechained(events: list[Event]) -> None:
    forged = forged_event(events[2], prev_hash=events[2]["hash"])
    tampered = events[:3] + [forged] + events[3:]
    # The forgery itself links correctly; the original version 4 after it does not fit.
    assert_first(verify_lines(log_lines(tampered, make_header(tampered))), "version_gap", line_no=6, version=4)


def test_fully_rechained_insertion(events: list[Event]) -> None:
    forged = forged_event(events[2], prev_hash=events[2]["hash"])
    tampered = rechain(events[:3] + [forged] + events[3:])
    original_header = make_header(events)

    # Header left alone: the file disagrees with its own header.
    report = verify_lines(log_lines(tampered, original_header))
    assert_first(report, "count_mismatch", line_no=1)
    assert [p.code for p in report.problems] == ["count_mismatch", "head_mismatch"]

    # Header rewritten as well: self-consistent, only a published head exposes it.
    assert verify_lines(log_lines(tampered)).ok
    report = verify_lines(log_lines(tampered), trusted_heads=[events[-1]["hash"]])
    assert_first(report, "trusted_head_missing", line_no=None)
    # A head published before the insertion point is still in the rewritten log.
    assert verify_lines(log_lines(tampered), trusted_heads=[events[1]["hash"]]).ok


def test_truncated_tail_with_original_header(events: list[Event]) -> None:
    report = verify_lines(log_lines(events[:7], make_header(events)))
    problem = assert_first(report, "count_mismatch", line_no=1)
    assert "12" in problem.message and "7" in problem.message
    assert [p.code for p in report.problems] == ["count_mismatch", "head_mismatch"]
    assert report.verified_count == 7 and report.head_hash == events[6]["hash"]


def test_truncated_tail_with_consistent_header_needs_a_trusted_head(events: list[Event]) -> None:
    truncated = events[:7]
    assert verify_lines(log_lines(truncated)).ok  # nothing in the file betrays it
    published_head = events[-1]["hash"]
    report = verify_lines(log_lines(truncated), trusted_heads=[published_head])
    problem = assert_first(report, "trusted_head_missing", line_no=None)
    assert published_head in problem.message and "截断" in problem.message_zh
    assert report.trusted_heads[0].found is False


def test_whole_chain_rewritten_consistently(events: list[Event]) -> None:
    published_head = events[-1]["hash"]
    rewritten = copy.deepcopy(events)
    rewritten[1]["data"]["score"] = 100
    rewritten = rechain(rewritten)
    lines = log_lines(rewritten)
    assert verify_lines(lines).ok  # a chain alone proves nothing
    report = verify_lines(lines, trusted_heads=[published_head])
    assert_first(report, "trusted_head_missing", line_no=None)
    # The head published *before* the rewritten event still matches.
    assert verify_lines(lines, trusted_heads=[events[0]["hash"]]).ok


def test_trusted_head_of_an_earlier_state_of_a_grown_log() -> None:
    full = make_events(50)
    earlier = full[:20]  # what the hall screen showed mid-meeting
    screen_head = earlier[-1]["hash"]
    notice_head = full[34]["hash"]
    report = verify_lines(log_lines(full), trusted_heads=[screen_head.upper(), notice_head])
    assert report.ok, report.problems
    found = {t.hash: t for t in report.trusted_heads}
    assert found[screen_head].found and found[screen_head].version == 20
    assert found[screen_head].line_no == 21 and found[screen_head].position == full[19]["position"]
    assert found[notice_head].version == 35


def test_trusted_head_after_the_break_does_not_count(events: list[Event]) -> None:
    tampered = copy.deepcopy(events)
    tampered[3]["data"]["title"] = "改"
    report = verify_lines(log_lines(tampered, make_header(events)), trusted_heads=[events[-1]["hash"]])
    assert [p.code for p in report.problems] == ["hash_mismatch", "trusted_head_missing"]
    assert "line 5" in report.problems[1].message


def test_stream_mismatch(events: list[Event]) -> None:
    tampered = copy.deepcopy(events)
    tampered[6]["stream"] = "another-meeting"
    tampered = rechain(tampered)
    assert_first(verify_lines(log_lines(tampered)), "stream_mismatch", line_no=8, version=7)


def test_other_county_does_not_verify(events: list[Event]) -> None:
    # The county is part of every hash: an export relabelled as another
    # county's fails at the first event.
    assert_first(verify_lines(log_lines(events, make_header(events, county="other"))), "hash_mismatch", line_no=2)


def test_report_after_a_break_counts_lines_and_keeps_the_good_prefix(events: list[Event]) -> None:
    tampered = copy.deepcopy(events)
    tampered[8]["data"]["x"] = 1
    report = verify_lines(log_lines(tampered, make_header(events)))
    assert [p.code for p in report.problems] == ["hash_mismatch"]
    assert report.event_count == 12 and report.verified_count == 8
    assert report.head_hash == events[7]["hash"]


# --------------------------------------------------------------------------
# Malformed lines and headers
# --------------------------------------------------------------------------


def replace_line(events: list[Event], version: int, new_line: str) -> list[str]:
    lines = log_lines(events)
    lines[line_of(version) - 1] = new_line
    return lines


def edited(event: Event, **changes: Any) -> str:
    result = dict(event)
    for key, value in changes.items():
        if value is DELETE:
            del result[key]
        else:
            result[key] = value
    return dumps(result)


DELETE = object()


@pytest.mark.parametrize(
    ("make_line", "fragment"),
    [
        (lambda e: "this is not json{", "not valid JSON"),
        (lambda e: "", "empty line"),
        (lambda e: "   ", "empty line"),
        (lambda e: "[1,2,3]", "must be a JSON object"),
        (lambda e: edited(e, metadata=DELETE), "missing metadata"),
        (lambda e: edited(e, signature="x"), "unknown signature"),
        (lambda e: edited(e, version=str(e["version"])), "version must be an integer, got string"),
        (lambda e: edited(e, version=True), "version must be an integer, got boolean"),
        (lambda e: edited(e, version=5.0), "version must be an integer, got number"),
        (lambda e: edited(e, position=None), "position must be an integer, got null"),
        (lambda e: edited(e, data=[1]), "data must be an object, got array"),
        (lambda e: edited(e, type=7), "type must be a string"),
        (lambda e: edited(e, prev_hash=e["prev_hash"].upper()), "prev_hash must be 64 lowercase hex"),
        (lambda e: edited(e, hash=e["hash"][:-1]), "hash must be 64 lowercase hex"),
        (lambda e: edited(e, data={"score": 87.5}), "data.score: floats are not allowed"),
        (lambda e: edited(e, data={"n": 2**60}), "data.n: integer"),
        (lambda e: edited(e, data={"名": 1}), "not an ASCII identifier"),
        (lambda e: edited(e, data={"s": "\x00"}), "U+0000"),
        (lambda e: edited(e, version=0), "version must be >= 1"),
        (lambda e: dumps(e)[:-1] + ',"data":{}}', "duplicate key 'data'"),
        (lambda e: dumps(e).replace('"schema_version":1', '"schema_version":NaN'), "NaN is not valid JSON"),
        (lambda e: dumps(e).replace('"schema_version":1', '"schema_version":1e0'), "schema_version must be an integer"),
        (lambda e: edited(e, data={"z": 0}).replace('"z":0', '"z":-0'), "-0 is not an acceptable integer"),
        (lambda e: edited(e, data={"z": 0}).replace('"z":0', '"z":1E2'), "data.z: floats are not allowed"),
        (lambda e: dumps(e).replace('"position":', '"position":1' + "0" * 5000 + ",\"p\":"), "not"),
    ],
)
def test_bad_lines(events: list[Event], make_line: Any, fragment: str) -> None:
    report = verify_lines(replace_line(events, 6, make_line(events[5])))
    problem = assert_first(report, "bad_line", line_no=7)
    assert fragment in problem.message, problem.message
    assert report.verified_count == 5


def test_bad_line_reports_position_and_version_when_readable(events: list[Event]) -> None:
    report = verify_lines(replace_line(events, 6, edited(events[5], data={"score": 87.5})))
    assert_first(report, "bad_line", line_no=7, position=events[5]["position"], version=6)


def test_invalid_utf8_is_a_bad_line_with_its_number(tmp_path: Path, events: list[Event]) -> None:
    lines = [line.encode("utf-8") for line in log_lines(events)]
    assert "述".encode() in lines[4]
    lines[4] = lines[4].replace("述".encode(), b"\xe8\xbf", 1)  # a truncated UTF-8 sequence
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    problem = assert_first(verify_file(path), "bad_line", line_no=5)
    assert "UTF-8" in problem.message


def test_blank_line_between_events_is_rejected(events: list[Event]) -> None:
    lines = log_lines(events)
    lines.insert(5, "")
    assert_first(verify_lines(lines), "bad_line", line_no=6)


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"format": "other-log"}, "format must be"),
        ({"format_version": 2}, "unsupported format_version 2"),
        ({"format_version": "1"}, "unsupported format_version"),
        ({"event_count": "12"}, "event_count must be an integer"),
        ({"event_count": -1}, "must not be negative"),
        ({"head_hash": "xyz"}, "head_hash must be null or 64"),
        ({"county": ""}, "county must not be empty"),
        ({"county": None}, "county must be a string"),
        ({"stream": "a\x00"}, "cannot be hashed"),
        ({"extra": 1}, "unknown extra"),
        ({"exported_at": DELETE}, "missing exported_at"),
    ],
)
def test_bad_headers(events: list[Event], change: dict[str, Any], fragment: str) -> None:
    header = make_header(events)
    for key, value in change.items():
        if value is DELETE:
            del header[key]
        else:
            header[key] = value
    report = verify_lines(log_lines(events, header))
    problem = assert_first(report, "bad_header", line_no=1)
    assert fragment in problem.message, problem.message
    assert report.county is None


@pytest.mark.parametrize("first_line", ["", "garbage", "[]", "null"])
def test_unusable_header_line(events: list[Event], first_line: str) -> None:
    assert_first(verify_lines([first_line] + log_lines(events)[1:]), "bad_header", line_no=1)


def test_empty_input() -> None:
    problem = assert_first(verify_lines([]), "bad_header", line_no=1)
    assert "empty" in problem.message


def test_header_of_empty_log_must_have_null_head() -> None:
    header = make_header([])
    header["head_hash"] = "0" * 64
    assert_first(verify_lines([dumps(header)]), "head_mismatch", line_no=1)


def test_invalid_trusted_head_argument_is_a_usage_error(events: list[Event]) -> None:
    with pytest.raises(ValueError, match="64"):
        verify_lines(log_lines(events), trusted_heads=["abc"])


def test_report_serialises_to_json(events: list[Event]) -> None:
    report = verify_lines(log_lines(events[:3], make_header(events)), trusted_heads=[events[0]["hash"]])
    data = json.loads(json.dumps(report.to_dict(), ensure_ascii=False))
    assert data["ok"] is False
    assert data["first_problem"]["code"] == "count_mismatch"
    assert data["trusted_heads"][0]["version"] == 1


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
# Command line
# --------------------------------------------------------------------------


def test_cli_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = make_events(5)
    path = write_log(tmp_path / "ok.jsonl", log_lines(events))
    assert main([str(path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == f"校验通过 / verified: 5 events, head {events[-1]['hash']}"


def test_cli_ok_with_trusted_heads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = make_events(5)
    path = write_log(tmp_path / "ok.jsonl", log_lines(events))
    assert main([str(path), "--head", events[1]["hash"], "--head", events[4]["hash"]]) == 0
    out = capsys.readouterr().out
    assert "可信头哈希位于第 2 版 / trusted head found at version 2" in out
    assert "version 5" in out


def test_cli_tampered(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = make_events(5)
    lines = log_lines(events)
    lines[3] = lines[3].replace('"schema_version":1', '"schema_version":2')
    path = write_log(tmp_path / "bad.jsonl", lines)
    assert main([str(path)]) == 1
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith(
        f"校验失败 / FAILED at line 4 (position {events[2]['position']}, version 3): "
    )
    assert "内容被改动" in first and "altered" in first


def test_cli_missing_trusted_head(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = make_events(5)
    path = write_log(tmp_path / "short.jsonl", log_lines(events[:3]))
    assert main([str(path), "--head", events[-1]["hash"]]) == 1
    out = capsys.readouterr().out
    assert out.startswith("校验失败 / FAILED: 可信头哈希")
    assert "未找到可信头哈希 / trusted head NOT found" in out


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = make_events(3)
    path = write_log(tmp_path / "ok.jsonl", log_lines(events[:2], make_header(events)))
    assert main([str(path), "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["first_problem"]["code"] == "count_mismatch"
    assert data["problems"][0]["message_zh"]


def test_cli_unreadable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "missing.jsonl")]) == 2
    assert "无法读取文件 / cannot read file" in capsys.readouterr().err
    assert main([str(tmp_path)]) == 2  # a directory


def test_cli_rejects_malformed_head(tmp_path: Path) -> None:
    path = write_log(tmp_path / "ok.jsonl", log_lines(make_events(1)))
    with pytest.raises(SystemExit) as exc:
        main([str(path), "--head", "nothex"])
    assert exc.value.code == 2


def test_runs_as_module_without_django(tmp_path: Path) -> None:
    events = make_events(3)
    path = write_log(tmp_path / "ok.jsonl", log_lines(events))
    env = {"PYTHONPATH": str(REPO_ROOT / "platform"), "PYTHONUTF8": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "events.verify", str(path)],
        capture_output=True, text=True, encoding="utf-8", env=env, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("校验通过 / verified: 3 events")
    probe = "import sys, events.verify; print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "[]"


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
