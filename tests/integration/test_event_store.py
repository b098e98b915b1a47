"""The event store's contract, run in two county schemas to prove isolation.

Written once (append, conflict, idempotency, order, read since) and run in
county A and county B with the same stream ids: each county's log is its own.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import psycopg
import pytest
from django.db import DatabaseError, connection, transaction
from django_tenants.utils import schema_context

from common.commands import CommandKey
from events import records, store
from events.chain import GENESIS_HASH, event_hash, format_recorded_at
from events.reading import read_all, read_stream, read_stream_data, stream_head, stream_version
from events.records import ANY, NO_STREAM, Checkpoint, ConcurrencyConflict
from events.store import append
from events.types import EventSchemaError, NewEvent, load
from meetings.events import AttendeeCheckedIn, MeetingScheduled, QuestionAsked
from tests.pg_admin import superuser_url

pytestmark = pytest.mark.django_db


def scheduled(meeting: str = "m1") -> MeetingScheduled:
    return MeetingScheduled(
        meeting_id=meeting, title="东关村2026年度述职评议大会", township="城关镇", village="东关村",
        starts_at="2026-12-01T09:00:00+08:00", place="村委会大院",
    )


def checked_in(n: int, category: str = "party_member") -> AttendeeCheckedIn:
    return AttendeeCheckedIn(attendee_id=f"a{n}", name=f"张{n}", category=category)


@pytest.fixture(params=["a", "b"])
def county(request, county_a, county_b):
    chosen = county_a if request.param == "a" else county_b
    with schema_context(chosen.schema_name):
        yield chosen


def cid() -> uuid.UUID:
    return uuid.uuid4()


def assert_hashes_recompute(county: str, stream: str, events: list[records.RecordedEvent]) -> None:
    """Each stored hash is the hash an auditor computes from the event as read back."""
    for event in events:
        assert event.hash == event_hash(
            county=county, stream=stream, version=event.stream_version, type=event.type,
            schema_version=event.schema_version, data=event.data, metadata=event.metadata,
            recorded_at=format_recorded_at(event.recorded_at), prev_hash=event.prev_hash,
        )


def test_the_recorded_time_reads_back_as_the_instant_written_in_utc(county) -> None:
    # The readers decode recorded_at with psycopg's own loader (events.reading): same instant, aware, in UTC,
    # to the microsecond that the hash covers.
    stream = f"meeting-{uuid.uuid4().hex[:6]}"
    at = datetime(2026, 12, 1, 1, 2, 3, 456789, tzinfo=timezone(timedelta(hours=8)))
    append(stream, [scheduled()], expected_version=NO_STREAM, command_id=cid(), recorded_at=at)
    (event,) = read_stream(stream)
    (same,) = [e for e in read_all(Checkpoint(), limit=1_000_000, below_watermark=False) if e.stream_id == stream]
    for read in (event.recorded_at, same.recorded_at):
        assert read == at and read.utcoffset() == timedelta(0)
    assert format_recorded_at(event.recorded_at) == "2026-11-30T17:02:03.456789Z"
    assert_hashes_recompute(county.schema_name, stream, [event])


def test_append_and_read_back_in_version_order(county) -> None:
    stream = f"meeting-{uuid.uuid4().hex[:6]}"
    first = append(stream, [scheduled()], expected_version=NO_STREAM, command_id=cid(), actor="host:1")
    second = append(stream, [checked_in(1), checked_in(2, "representative")], expected_version=1, command_id=cid())
    assert (first.first_version, first.last_version) == (1, 1)
    assert (second.first_version, second.last_version) == (2, 3)
    events = read_stream(stream)
    assert [e.stream_version for e in events] == [1, 2, 3]
    assert [e.type for e in events] == ["MeetingScheduled", "AttendeeCheckedIn", "AttendeeCheckedIn"]
    assert events[0].data["village"] == "东关村"
    assert events[0].metadata["actor"] == "host:1"
    assert events[1].typed() == checked_in(1)
    assert events[0].position < events[1].position < events[2].position


def test_a_folds_read_hands_out_each_events_type_version_and_data_as_the_whole_read_does(county) -> None:
    stream = f"meeting-{uuid.uuid4().hex[:6]}"
    append(stream, [scheduled(), *(checked_in(n) for n in range(1, 6))], expected_version=NO_STREAM, command_id=cid())
    whole = [(e.type, e.schema_version, e.data) for e in read_stream(stream)]
    assert read_stream_data(stream) == whole and len(whole) == 6
    assert read_stream_data(stream, from_version=3, limit=2) == whole[2:4]
    assert read_stream_data(stream, from_version=7) == [] and read_stream_data("meeting-none") == []
    assert load(*read_stream_data(stream, from_version=2, limit=1)[0], stored=True) == checked_in(1)


def test_hash_chain_links_each_event_to_the_one_before(county) -> None:
    stream = f"meeting-{uuid.uuid4().hex[:6]}"
    append(stream, [scheduled(), checked_in(1)], expected_version=NO_STREAM, command_id=cid())
    result = append(stream, [checked_in(2)], expected_version=2, command_id=cid())
    events = read_stream(stream)
    assert events[0].prev_hash == GENESIS_HASH
    for before, after in zip(events, events[1:], strict=False):
        assert after.prev_hash == before.hash
    assert_hashes_recompute(county.schema_name, stream, events)
    assert stream_head(stream) == (3, events[-1].hash) == (3, result.head_hash)


def test_an_expected_head_is_checked_with_the_version_and_never_breaks_the_chain(county) -> None:
    # A caller that folded the stream passes the head it read: the append is
    # then one statement that matches version AND head. A head from a
    # rolled-back append, or a wrong head at the right version, is refused
    # (nothing written); the right head goes through.
    stream = f"meeting-{uuid.uuid4().hex[:6]}"
    first = append(stream, [scheduled()], expected_version=NO_STREAM, command_id=cid())
    with pytest.raises(RuntimeError), transaction.atomic():
        rolled_back = append(stream, [checked_in(1)], expected_version=1, expected_head=first.head_hash,
                             command_id=cid())
        raise RuntimeError("the command failed after its append")
    with pytest.raises(ConcurrencyConflict):  # a head that never committed
        append(stream, [checked_in(9)], expected_version=2, expected_head=rolled_back.head_hash, command_id=cid())
    second = append(stream, [checked_in(2)], expected_version=1, expected_head=first.head_hash, command_id=cid())
    with pytest.raises(ConcurrencyConflict):  # right version, wrong head
        append(stream, [checked_in(9)], expected_version=2, expected_head="f" * 64, command_id=cid())
    third = append(stream, [checked_in(3)], expected_version=2, expected_head=second.head_hash, command_id=cid())
    fourth = append(stream, [checked_in(4)], expected_version=3, command_id=cid())  # version only: the long way
    events = read_stream(stream)
    assert [e.stream_version for e in events] == [1, 2, 3, 4]
    assert [e.data.get("attendee_id") for e in events[1:]] == ["a2", "a3", "a4"]
    assert [e.hash for e in events] == [first.head_hash, second.head_hash, third.head_hash, fourth.head_hash]
    for before, after in zip(events, events[1:], strict=False):
        assert after.prev_hash == before.hash
    assert_hashes_recompute(county.schema_name, stream, events)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM event_commands WHERE stream_id = %s", [stream])
        assert cursor.fetchone()[0] == 4


def test_a_retried_command_replays_even_when_its_expected_head_still_matches(county) -> None:
    stream = f"meeting-{uuid.uuid4().hex[:6]}"
    first = append(stream, [scheduled()], expected_version=NO_STREAM, command_id=cid())
    command = cid()
    done = append(stream, [checked_in(1)], expected_version=1, expected_head=first.head_hash, command_id=command)
    # The answer was lost; the client retries with what it had read before.
    again = append(stream, [checked_in(1)], expected_version=1, expected_head=first.head_hash, command_id=command)
    assert again.replayed and again.positions == done.positions and again.head_hash == done.head_hash
    assert stream_version(stream) == 2


def test_expected_version_conflicts_append_nothing(county) -> None:
    stream = f"meeting-{uuid.uuid4().hex[:6]}"
    append(stream, [scheduled()], expected_version=NO_STREAM, command_id=cid())
    with pytest.raises(ConcurrencyConflict) as stale:
        append(stream, [checked_in(1)], expected_version=0, command_id=cid())
    assert stale.value.code == "concurrency_conflict" and "请刷新后重试" in str(stale.value)
    with pytest.raises(ConcurrencyConflict):
        append(stream, [scheduled()], expected_version=NO_STREAM, command_id=cid())
    with pytest.raises(ConcurrencyConflict):
        append(f"{stream}-none", [checked_in(1)], expected_version=1, command_id=cid())
    assert [e.stream_version for e in read_stream(stream)] == [1]
    assert read_stream(f"{stream}-none") == []
    append(stream, [checked_in(1)], expected_version=ANY, command_id=cid())
    assert stream_version(stream) == 2


def test_same_command_id_returns_the_original_result_and_appends_nothing(county) -> None:
    stream = f"meeting-{uuid.uuid4().hex[:6]}"
    append(stream, [scheduled()], expected_version=NO_STREAM, command_id=cid())
    command = cid()
    first = append(stream, [checked_in(7)], expected_version=1, command_id=command)
    # A retry after the stream moved on (even with a now-stale expected version).
    append(stream, [checked_in(8)], expected_version=2, command_id=cid())
    again = append(stream, [checked_in(7)], expected_version=1, command_id=command)
    assert again.replayed and not first.replayed
    assert (again.positions, again.hashes, again.head_hash) == (first.positions, first.hashes, first.head_hash)
    assert [e.data.get("attendee_id") for e in read_stream(stream)[1:]] == ["a7", "a8"]


def test_a_bound_command_replays_its_whole_result_and_refuses_another_request(county) -> None:
    # The command's result is stored as JSON text written out by the store: a stream id
    # with quotes, a backslash and Chinese must come back as it went in.
    stream = f'meeting-"东关\\{uuid.uuid4().hex[:6]}'
    append(stream, [scheduled()], expected_version=NO_STREAM, command_id=cid())
    key = CommandKey(str(cid()), fingerprint="f" * 64)
    first = append(stream, [checked_in(1), checked_in(2)], expected_version=1, command_id=key)
    again = append(stream, [checked_in(1), checked_in(2)], expected_version=1, command_id=key)
    assert again.replayed and not first.replayed
    assert dataclasses.replace(again, replayed=False) == first
    assert (first.county, first.stream_id, first.first_version, first.last_version) == (county.schema_name, stream, 2, 3)
    with pytest.raises(records.IdempotencyKeyReused):
        append(stream, [checked_in(3)], expected_version=3, command_id=CommandKey(key.id, fingerprint="e" * 64))
    assert stream_version(stream) == 3


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        (NewEvent(type="NoSuchThingHappened", data={}), "未知的事件类型"),
        (NewEvent(type="AttendeeCheckedIn", data={"attendee_id": "a", "name": "x", "category": "guest", "ip": "1.2.3.4"}), "未知字段"),
        (NewEvent(type="AttendeeCheckedIn", data={"attendee_id": "a", "name": "x"}), "缺少字段"),
        (NewEvent(type="AttendeeCheckedIn", data={"attendee_id": 5, "name": "x", "category": "guest"}), "应为字符串"),
        (NewEvent(type="QuestionAnswered", data={"question_id": "q", "answer": "a", "deferred": "no"}), "应为布尔值"),
        (NewEvent(type="BallotCast", data={"code_hash": "h", "marks": {"s": {"c": 3}}}), "应为字符串"),
        (NewEvent(type="AttendeeCheckedIn", data={"attendee_id": "a", "name": "x", "category": "guest"}, schema_version=9), "当前版本"),
    ],
)
def test_bad_events_are_rejected_before_anything_is_written(county, event: NewEvent, fragment: str) -> None:
    stream = f"meeting-{uuid.uuid4().hex[:6]}"
    append(stream, [scheduled()], expected_version=NO_STREAM, command_id=cid())
    before = _count_events()
    with pytest.raises(EventSchemaError) as info:
        append(stream, [checked_in(1), event], expected_version=1, command_id=cid())
    assert fragment in info.value.message_zh
    assert _count_events() == before
    assert stream_version(stream) == 1


def test_non_identifier_keys_are_rejected_with_a_clear_error(county) -> None:
    stream = f"meeting-{uuid.uuid4().hex[:6]}"
    with pytest.raises(EventSchemaError) as info:
        append(stream, [NewEvent(type="BallotCast", data={"code_hash": "h", "marks": {"村党支部": {}}})], expected_version=NO_STREAM, command_id=cid())
    assert "规范编码" in info.value.message_zh
    assert read_stream(stream) == []


def _rules(rules: object) -> NewEvent:
    """A MeetingConfigured event: its `rules` take any JSON, so only the chain's encoding can refuse a float there."""
    return NewEvent(type="MeetingConfigured", data={"rules": rules, "subjects": [], "roster": []})


def _commands_of(stream: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM event_commands WHERE stream_id = %s", [stream])
        return int(cursor.fetchone()[0])


@pytest.mark.parametrize(
    ("event", "fragment"),
    [
        # Top level, in typed fields: the type check refuses a float where an int or a string belongs.
        (NewEvent(type="BallotCodesIssued", data={"category": "party_member", "count": 3.0, "code_hashes": []}), "count must be integer"),
        (NewEvent(type="QuestionAsked", data={"question_id": "q", "text": "t", "subject": "s", "asked_by": 1.5}), "asked_by must be"),
        # Anywhere in free-form data: the hash chain's canonical encoding refuses it, naming where.
        (_rules({"threshold": 0.3}), "rules.threshold: floats are not allowed"),
        (_rules({"grades": [1, 2, 2.5]}), "rules.grades[2]: floats are not allowed"),
        (_rules({"groups": [{"share": 1.0}]}), "rules.groups[0].share: floats are not allowed"),
        (_rules({"a": {"b": {"c": [[float("nan")]]}}}), "rules.a.b.c[0][0]: floats are not allowed"),
        (_rules({"big": 1e21}), "rules.big: floats are not allowed"),
    ],
    ids=["int-field", "str-field", "in-dict", "in-list", "dict-in-list", "deep-nan", "exponent"],
)
def test_floats_are_rejected_because_the_chain_cannot_carry_them(county, event: NewEvent, fragment: str) -> None:
    stream = f"meeting-{uuid.uuid4().hex[:6]}"
    append(stream, [scheduled()], expected_version=NO_STREAM, command_id=cid())
    before, commands = _count_events(), _commands_of(stream)
    command = cid()
    with pytest.raises(EventSchemaError) as refused:
        # A valid event first: the batch is refused whole, nothing of it is written.
        append(stream, [checked_in(1), event], expected_version=1, command_id=command)
    assert refused.value.code == "invalid_event" and fragment in refused.value.message_en, refused.value.message_en
    assert _count_events() == before and _commands_of(stream) == commands
    assert stream_version(stream) == 1 and [e.type for e in read_stream(stream)] == ["MeetingScheduled"]
    # The refused command id was not recorded: sent again with valid events, it is appended, not replayed.
    again = append(stream, [checked_in(1)], expected_version=1, command_id=command)
    assert not again.replayed and stream_version(stream) == 2


def _count_events() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events")
        return int(cursor.fetchone()[0])


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE events SET data = '{}'::jsonb",
        "DELETE FROM events",
        "TRUNCATE events",
        "UPDATE event_commands SET result = '{}'::jsonb",
        "DELETE FROM event_commands",
        "TRUNCATE event_commands",
    ],
)
def test_the_log_cannot_be_changed_with_raw_sql(county, statement: str) -> None:
    append(f"meeting-{uuid.uuid4().hex[:6]}", [scheduled()], expected_version=NO_STREAM, command_id=cid())
    before = _count_events()
    with pytest.raises(DatabaseError) as info, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement)
    assert "append-only" in str(info.value)
    assert _count_events() == before


@pytest.fixture(scope="module", params=["a", "b"])
def committed_county(request, make_county):
    """A county of its own, made outside the test transaction, for appends that commit for real.

    The other tests of this module run inside a test transaction that is
    rolled back, where nothing ever commits. What read_all returns depends on
    commits, so those appends run in threads with connections of their own:
    they commit, and they stay, hence a county that no other test reads.
    """
    return make_county(f"rd{request.param}")


class _Writer(threading.Thread):
    """Runs `target` at once on a connection of its own (so it commits for real); join() re-raises its error."""

    def __init__(self, target: Callable[[], None]) -> None:
        super().__init__()
        self.work = target
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self.work()
        except BaseException as exc:  # noqa: BLE001 - re-raised by join()
            self.error = exc
        finally:
            connection.close()

    def join(self, timeout: float | None = 120) -> None:
        super().join(timeout)
        assert not self.is_alive(), "a writer hung"
        if self.error is not None:
            raise self.error


def test_read_all_returns_committed_events_in_commit_safe_order(committed_county) -> None:
    """Only committed events, each once, and never past an event whose commit is still to come.

    Forced out of order: A takes a position, B takes a later one and commits
    while A is still open. Between the two commits read_all must not return
    B (a reader that took B would move past A and never see it); after A's
    commit it returns A, then B. A rolled-back append never shows.
    """
    schema = committed_county.schema_name
    stream_a, stream_b, stream_c = (f"meeting-{uuid.uuid4().hex[:6]}" for _ in range(3))
    with schema_context(schema):
        start = read_all(Checkpoint(), limit=1_000_000)
    mark = records.checkpoint_of(start[-1]) if start else Checkpoint()
    positions: dict[str, list[int]] = {}
    a_positioned, a_release = threading.Event(), threading.Event()

    def rolled_back() -> None:
        with schema_context(schema), pytest.raises(RuntimeError), transaction.atomic():
            positions["c"] = append(stream_c, [scheduled()], expected_version=NO_STREAM, command_id=cid()).positions
            raise RuntimeError("the command failed after its append")

    def late() -> None:
        try:
            with schema_context(schema), transaction.atomic():
                positions["a"] = append(stream_a, [scheduled(), checked_in(1)], expected_version=NO_STREAM,
                                        command_id=cid()).positions
                a_positioned.set()
                assert a_release.wait(120)
        finally:
            a_positioned.set()

    def early() -> None:
        with schema_context(schema):
            positions["b"] = append(stream_b, [scheduled()], expected_version=NO_STREAM, command_id=cid()).positions

    _Writer(rolled_back).join()
    a = _Writer(late)
    assert a_positioned.wait(120)
    _Writer(early).join()  # B has committed; A has not
    assert positions["c"][0] < positions["a"][0] < positions["a"][1] < positions["b"][0]

    with schema_context(schema):
        # Between the commits: nothing. B is committed, but a reader that took
        # it would have moved past A's positions, which are still to commit.
        assert read_all(mark, limit=1_000_000) == []
        with connection.cursor() as cursor:  # ... which is what a naive "position > last" read does
            cursor.execute("SELECT position FROM events WHERE position > %s", [mark.position])
            assert [r[0] for r in cursor.fetchall()] == positions["b"]
    a_release.set()
    a.join()

    expected = positions["a"] + positions["b"]
    with schema_context(schema):
        # The watermark passes B once every transaction older than B's has
        # finished: A's, and any other session's that holds one (autovacuum,
        # say) for a moment. So wait for that event, under a ceiling.
        deadline = time.monotonic() + 60
        while len(after := read_all(mark, limit=1_000_000)) < len(expected) and time.monotonic() < deadline:
            time.sleep(0.01)
        # A, then B: in (transaction, position) order, A's transaction being the older.
        assert [e.position for e in after] == expected
        assert [(e.stream_id, e.stream_version) for e in after] == [(stream_a, 1), (stream_a, 2), (stream_b, 1)]
        assert after[0].transaction_id == after[1].transaction_id < after[2].transaction_id
        # Resuming from any checkpoint, or page by page, reads each event once, in the same order.
        assert read_all(records.checkpoint_of(after[-1]), limit=1_000_000) == []
        assert [e.position for e in read_all(records.checkpoint_of(after[0]), limit=1_000_000)] == expected[1:]
        paged, at = [], mark
        while page := read_all(at, limit=1):
            paged += page
            at = records.checkpoint_of(page[-1])
        assert paged == after
        # An append in this test's own transaction (the runner's, never
        # committed) is not returned either.
        append(f"meeting-{uuid.uuid4().hex[:6]}", [scheduled()], expected_version=NO_STREAM, command_id=cid())
        assert read_all(mark, limit=1_000_000) == after


def test_the_same_stream_id_in_two_counties_is_two_logs(county_a, county_b) -> None:
    stream = f"meeting-shared-{uuid.uuid4().hex[:6]}"
    with schema_context(county_a.schema_name):
        a = append(stream, [scheduled("A")], expected_version=NO_STREAM, command_id=cid())
    with schema_context(county_b.schema_name):
        assert read_stream(stream) == []
        b = append(stream, [scheduled("B")], expected_version=NO_STREAM, command_id=cid())
        assert [e.data["meeting_id"] for e in read_stream(stream)] == ["B"]
    # Identical content in two counties still hashes differently: the county is in the hash.
    assert a.hashes != b.hashes
    with schema_context(county_a.schema_name):
        assert [e.data["meeting_id"] for e in read_stream(stream)] == ["A"]


def test_appends_alternating_between_two_counties_on_one_connection_land_in_each_county(make_county) -> None:
    # The store writes on a psycopg cursor it keeps on Django's connection and opens
    # no Django cursor while the county's search_path is set: a county switch in
    # between must still send every statement (events, head, command, inline
    # projection) to the county of the moment, through the one-statement path too,
    # with the statements prepared once and re-planned by PostgreSQL per county.
    # On a connection of its own and outside any transaction, as a server thread
    # appends (a test transaction would add savepoints, whose Django cursors set
    # the search_path themselves).
    counties = [make_county("sw1").schema_name, make_county("sw2").schema_name]
    stream = f"meeting-both-{uuid.uuid4().hex[:6]}"
    heads: dict[str, tuple[int, str]] = {}
    backends = set()

    def alternate() -> None:
        for round_no in range(4):
            for county in counties:
                with schema_context(county):
                    if round_no == 0:
                        result = append(stream, [scheduled(county)], expected_version=NO_STREAM, command_id=cid())
                    else:
                        version, head = heads[county]
                        result = append(stream, [checked_in(round_no)], expected_version=version, expected_head=head,
                                        command_id=cid())
                    heads[county] = (result.last_version, result.head_hash)
                    backends.add(connection.connection.info.backend_pid)
        with connection.cursor() as cursor:  # the plans the two counties shared on this connection
            cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
            prepared.extend(row[0] for row in cursor.fetchall())

    prepared: list[str] = []
    _Writer(alternate).join()
    assert len(backends) == 1  # one connection served both counties
    # Prepared on the server (Django's connections never prepare by themselves), so a
    # county switch re-plans them rather than running the other county's plan.
    assert any("FOR UPDATE" in s and "event_streams" in s for s in prepared), prepared
    assert any("proj_meeting_board" in s for s in prepared), prepared
    for county in counties:
        with schema_context(county):
            events = read_stream(stream)
            assert [e.stream_version for e in events] == [1, 2, 3, 4]
            assert events[0].data["meeting_id"] == county
            assert stream_head(stream) == heads[county]
            assert_hashes_recompute(county, stream, events)
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT meeting_id, version, present_total, head_hash FROM proj_meeting_board WHERE stream_id = %s",
                    [stream],
                )
                assert cursor.fetchone() == (county, 4, 3, heads[county][1])


def test_no_events_outside_a_county() -> None:
    connection.set_schema_to_public()
    with pytest.raises(records.NoCounty):
        append("x", [scheduled()], expected_version=NO_STREAM, command_id=cid())


def test_does_not_notify_if_transaction_rolled_back(county, django_capture_on_commit_callbacks) -> None:
    seen: list[records.Committed] = []
    store.subscribe(seen.append)
    try:
        stream = f"meeting-{uuid.uuid4().hex[:6]}"
        # The test transaction never commits, so an after-commit callback that
        # survived the rollback would never run by itself: run what is left
        # registered, as the commit of the enclosing transaction would.
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            with pytest.raises(RuntimeError), transaction.atomic():
                append(stream, [scheduled()], expected_version=NO_STREAM, command_id=cid())
                raise RuntimeError("the command failed after appending")
        assert read_stream(stream) == []
        assert callbacks == [] and seen == []
    finally:
        store.unsubscribe(seen.append)


def test_notifies_once_after_commit(county, django_capture_on_commit_callbacks) -> None:
    seen: list[records.Committed] = []
    store.subscribe(seen.append)
    try:
        stream = f"meeting-{uuid.uuid4().hex[:6]}"
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            result = append(stream, [scheduled(), QuestionAsked(question_id="q1", text="村里的路什么时候修？", subject="村委会", asked_by=None)], expected_version=NO_STREAM, command_id=cid())
        assert seen == []  # nothing before the commit
        for callback in callbacks:
            callback()
        assert len(seen) == 1
        assert seen[0].county == county.schema_name and seen[0].stream_id == stream
        assert seen[0].positions == result.positions and seen[0].types == ["MeetingScheduled", "QuestionAsked"]
    finally:
        store.unsubscribe(seen.append)


def test_application_role_may_append_but_not_change_the_log(county_a) -> None:
    from events.grants import grant_app_role

    role = f"app_{uuid.uuid4().hex[:8]}"
    schema = county_a.schema_name
    # Creating roles takes the superuser (the tests' own role is not one); SET ROLE takes membership.
    with psycopg.connect(superuser_url(), autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" NOLOGIN')
        admin.execute(f'GRANT "{role}" TO "{connection.settings_dict["USER"]}"')
    grant_app_role(schema, role)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT has_table_privilege(%s, %s, 'INSERT'), has_table_privilege(%s, %s, 'SELECT'),"
            " has_table_privilege(%s, %s, 'UPDATE'), has_table_privilege(%s, %s, 'DELETE'),"
            " has_table_privilege(%s, %s, 'TRUNCATE'), has_table_privilege(%s, %s, 'UPDATE')",
            [role, f"{schema}.events"] * 5 + [role, f"{schema}.proj_meeting_board"],
        )
        assert cursor.fetchone() == (True, True, False, False, False, True)
        cursor.execute(f'SET LOCAL ROLE "{role}"')
        with pytest.raises(DatabaseError) as denied, transaction.atomic():
            cursor.execute(f'UPDATE "{schema}".events SET type = type')
        assert "permission denied" in str(denied.value)
        cursor.execute("RESET ROLE")
