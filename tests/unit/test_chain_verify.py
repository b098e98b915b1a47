"""Hash chain and offline verifier: untampered logs, tampering, malformed lines and headers.

These tests are pure Python (no database, no Django): the verifier is meant to
run on an auditor's laptop, so it is tested the same way. The canonical
encoding and the event hash are in test_chain_verify_encoding.py, the command
line in test_chain_verify_cli.py; the logs are built by chain_given.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from chain_given import (
    COUNTY,
    STREAM,
    Event,
    assert_first,
    compute_hash,
    dumps,
    line_of,
    log_lines,
    make_events,
    make_header,
    rechain,
    write_log,
)

from events.verify import verify_file, verify_lines


@pytest.fixture
def events() -> list[Event]:
    return make_events(12)


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
