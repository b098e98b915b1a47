"""Projections are disposable: rebuilt from position 0 they equal the live state."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.records import ANY, NO_STREAM
from events.store import append
from meetings.events import (
    AttendeeCheckedIn,
    BallotCast,
    MeetingScheduled,
    QuestionAnswered,
    QuestionAsked,
)
from projections.runtime import catch_up, get, rebuild, state_of


def _scheduled(meeting: str) -> MeetingScheduled:
    return MeetingScheduled(meeting_id=meeting, title=f"{meeting} 述职评议大会", township="石桥镇", village="马家村",
                            starts_at="2026-12-05T14:00:00+08:00", place="村文化广场")


attendee = st.builds(
    AttendeeCheckedIn,
    attendee_id=st.uuids().map(str),
    name=st.sampled_from(["王秀英", "李建国", "张桂英", "刘德明"]),
    category=st.sampled_from(["party_member", "representative", "guest", "unknown_category"]),
)
question = st.builds(
    QuestionAsked,
    question_id=st.uuids().map(str),
    text=st.text(min_size=1, max_size=30).filter(lambda t: "\x00" not in t),
    subject=st.sampled_from(["村党支部", "村委会"]),
    asked_by=st.one_of(st.none(), st.just("王秀英")),
)
answer = st.builds(QuestionAnswered, question_id=st.uuids().map(str), answer=st.just("会后答复"), deferred=st.booleans())
ballot = st.builds(
    BallotCast,
    code_hash=st.uuids().map(lambda u: u.hex * 2),
    marks=st.dictionaries(st.sampled_from(["s1", "s2", "s3"]), st.dictionaries(st.sampled_from(["c1", "c2"]), st.sampled_from(["good", "fair", "poor"]), max_size=2), max_size=3),
)
meeting_event = st.one_of(attendee, question, answer, ballot)
# A scenario: a few meetings, each a list of batches of events (one batch = one append).
scenario = st.lists(
    st.tuples(st.integers(min_value=0, max_value=3), st.lists(meeting_event, min_size=1, max_size=4)),
    min_size=1,
    max_size=12,
)


@pytest.fixture(scope="module")
def prop_county(make_county):
    return make_county("prop")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=scenario)
def test_rebuilt_equals_live_for_random_event_sequences(prop_county, django_db_blocker, batches) -> None:
    run = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), schema_context(prop_county.schema_name):
        scheduled: set[int] = set()
        for meeting, events in batches:
            stream = f"meeting-{run}-{meeting}"
            if meeting not in scheduled:
                append(stream, [_scheduled(stream)], expected_version=NO_STREAM, command_id=uuid.uuid4())
                scheduled.add(meeting)
            append(stream, events, expected_version=ANY, command_id=uuid.uuid4())
        board, index = get("meeting_board"), get("log_index")
        catch_up(index)
        live_board, live_index = state_of(board), state_of(index)
        board_report, index_report = rebuild(board), rebuild(index)
        assert board_report.identical, (board_report.only_live, board_report.only_rebuilt)
        assert index_report.identical, (index_report.only_live, index_report.only_rebuilt)
        assert state_of(board) == live_board and state_of(index) == live_index
        connection.close()


def test_board_counts_what_happened(make_county, django_db_blocker) -> None:
    county = make_county("board")
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        append("m", [_scheduled("m")], expected_version=NO_STREAM, command_id=uuid.uuid4())
        append(
            "m",
            [
                AttendeeCheckedIn(attendee_id="1", name="甲", category="party_member"),
                AttendeeCheckedIn(attendee_id="2", name="乙", category="party_member"),
                AttendeeCheckedIn(attendee_id="3", name="丙", category="representative"),
                QuestionAsked(question_id="q", text="集体土地流转收益怎么分？", subject="村委会", asked_by=None),
                QuestionAnswered(question_id="q", answer="下周村务公开栏公布", deferred=True),
                BallotCast(code_hash="a" * 64, marks={}),
            ],
            expected_version=1,
            command_id=uuid.uuid4(),
        )
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT party_members_present, representatives_present, guests_present, questions_asked,"
                " questions_answered, questions_deferred, ballots_cast, version FROM proj_meeting_board WHERE stream_id = 'm'"
            )
            assert cursor.fetchone() == (2, 1, 0, 1, 0, 1, 1, 7)
        connection.close()


def test_rebuild_reports_and_repairs_a_damaged_read_model(make_county, django_db_blocker) -> None:
    county = make_county("damage")
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        append("m", [_scheduled("m"), BallotCast(code_hash="b" * 64, marks={})], expected_version=NO_STREAM, command_id=uuid.uuid4())
        with connection.cursor() as cursor:
            cursor.execute("UPDATE proj_meeting_board SET ballots_cast = 999 WHERE stream_id = 'm'")
        report = rebuild(get("meeting_board"))
        assert not report.identical
        assert any(999 in row for _t, row in report.only_live)
        assert not any(999 in row for _t, row in report.only_rebuilt)
        with connection.cursor() as cursor:
            cursor.execute("SELECT ballots_cast FROM proj_meeting_board WHERE stream_id = 'm'")
            assert cursor.fetchone() == (1,)
        assert rebuild(get("meeting_board")).identical
        connection.close()


def test_catch_up_applies_each_event_once_and_saves_its_position(make_county, django_db_blocker) -> None:
    county = make_county("catch")
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        index = get("log_index")
        append("m", [_scheduled("m")], expected_version=NO_STREAM, command_id=uuid.uuid4())
        assert catch_up(index) == 1
        assert catch_up(index) == 0
        append("m", [BallotCast(code_hash="c" * 64, marks={})] * 3, expected_version=1, command_id=uuid.uuid4())
        assert catch_up(index, batch=2) == 3
        with connection.cursor() as cursor:
            cursor.execute("SELECT events, last_version, by_type::text FROM proj_log_index WHERE stream_id = 'm'")
            events, last_version, by_type = cursor.fetchone()
            assert (events, last_version, json.loads(by_type)) == (4, 4, {"MeetingScheduled": 1, "BallotCast": 3})
            cursor.execute(
                "SELECT c.position = (SELECT max(position) FROM events) FROM projection_checkpoints c WHERE name = 'log_index'"
            )
            assert cursor.fetchone() == (True,)
        connection.close()


def test_cli_rebuild_reports_identical_and_differences(make_county, django_db_blocker) -> None:
    county = make_county("clirb")
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        append("m", [_scheduled("m"), BallotCast(code_hash="d" * 64, marks={})], expected_version=NO_STREAM, command_id=uuid.uuid4())
        connection.close()
    command = [sys.executable, "-m", "shuping.cli", "projections", "rebuild", "--county", county.schema_name]
    ok = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "meeting_board: 2 events" in ok.stdout and "与现状一致" in ok.stdout and "log_index" in ok.stdout
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        with connection.cursor() as cursor:
            cursor.execute("UPDATE proj_meeting_board SET title = '篡改' WHERE stream_id = 'm'")
        connection.close()
    differs = subprocess.run([*command, "--projection", "meeting_board"], capture_output=True, text=True, env=dict(os.environ), timeout=120)
    assert differs.returncode == 1
    assert "与现状不同" in differs.stdout and "篡改" in differs.stdout


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=scenario)
def test_the_board_written_a_batch_at_once_equals_the_board_written_event_by_event(
    prop_county, django_db_blocker, batches,
) -> None:
    # A rebuild hands the board pages of the log that interleave meetings; the board folds each
    # meeting's counting events into one statement (MeetingBoard.apply_many). The rows must be those
    # that one statement per event leaves, with guests (whose statement reads the row) in between.
    from django.db import transaction

    from events.reading import read_all

    run = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), schema_context(prop_county.schema_name):
        scheduled: set[int] = set()
        for meeting, events in batches:
            stream = f"meeting-{run}-{meeting}"
            if meeting not in scheduled:
                append(stream, [_scheduled(stream)], expected_version=NO_STREAM, command_id=uuid.uuid4())
                scheduled.add(meeting)
            append(stream, events, expected_version=ANY, command_id=uuid.uuid4())
        log = [e for e in read_all(limit=100_000, below_watermark=False) if e.stream_id.startswith(f"meeting-{run}-")]
        board = get("meeting_board")
        with transaction.atomic(), connection.cursor() as cursor:
            board.reset(cursor)
            for event in log:
                board.apply(cursor, event)
            one_by_one = board.dump(cursor)
            board.reset(cursor)
            board.apply_many(cursor, log)
            at_once = board.dump(cursor)
            transaction.set_rollback(True)
        assert at_once == one_by_one
        assert sum(row_count for row_count in map(len, at_once.values())) == len(scheduled)
        connection.close()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=scenario, page=st.integers(min_value=1, max_value=7))
def test_the_log_index_written_in_pages_counts_each_stream_as_the_log_says(
    prop_county, django_db_blocker, batches, page,
) -> None:
    # The index folds each stream's events of a page into one upsert (LogIndex.apply_many): in pages
    # of any size it must hold, per stream, the log's count of events and of each type, and its head.
    from collections import Counter

    from django.db import transaction

    from events.reading import read_all

    run = uuid.uuid4().hex[:6]
    with django_db_blocker.unblock(), schema_context(prop_county.schema_name):
        scheduled: set[int] = set()
        for meeting, events in batches:
            stream = f"meeting-{run}-{meeting}"
            if meeting not in scheduled:
                append(stream, [_scheduled(stream)], expected_version=NO_STREAM, command_id=uuid.uuid4())
                scheduled.add(meeting)
            append(stream, events, expected_version=ANY, command_id=uuid.uuid4())
        log = [e for e in read_all(limit=100_000, below_watermark=False) if e.stream_id.startswith(f"meeting-{run}-")]
        index = get("log_index")
        with transaction.atomic(), connection.cursor() as cursor:
            index.reset(cursor)
            for event in log:
                index.apply(cursor, event)
            one_by_one = index.dump(cursor)["proj_log_index"]
            index.reset(cursor)
            for start in range(0, len(log), page):
                index.apply_many(cursor, log[start:start + page])
            in_pages = index.dump(cursor)["proj_log_index"]
            transaction.set_rollback(True)
        expected = []
        for stream in sorted({e.stream_id for e in log}):
            mine = [e for e in log if e.stream_id == stream]
            head = max(mine, key=lambda e: e.stream_version)
            expected.append((stream, len(mine), head.stream_version, max(e.position for e in mine), head.hash,
                             dict(Counter(e.type for e in mine))))
        assert in_pages == one_by_one
        assert [(*row[:5], json.loads(row[5])) for row in sorted(in_pages)] == expected
        connection.close()
