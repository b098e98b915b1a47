"""The doors (meetings.actions) against real PostgreSQL: projections, the ballot box's lock, the cache.

These drive the doors directly, as the API, the pages and the demo do; the
county is committed (make_county) so that several connections see the same
data, as in production.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.roles import A_VOTER, Actor
from common.county import current_schema
from common.refusal import Forbidden, Refusal
from events import reading, repository, store
from events.records import ConcurrencyConflict
from meetings import ballot_box, codes
from meetings.actions import ballots, conduct, paper, setup
from meetings.actions.codes import check_issue_ballot_codes, check_mark_codes_printed
from meetings.actions.rounds import check_open_round
from meetings.domain.aggregate import Meeting
from meetings.events import AttendeeCheckedIn
from meetings.streams import meeting_stream, now
from projections.runtime import catch_up, get, rebuild, state_of

ADMIN = Actor("zuzhibu", "county_admin")
HOST = Actor("host", "host")
TELLER_A = Actor("teller_a", "teller")
TELLER_B = Actor("teller_b", "teller")
SUBJECTS = [
    {"subject_id": "shuji", "name": "村党支部书记 王建国", "level": "village"},
    {"subject_id": "zhuren", "name": "村委会主任 李秀英", "level": "village"},
]
PARTY = [{"member_id": f"p{i}", "name": f"党员{i}", "category": "party_member"} for i in range(1, 6)]
REPS = [{"member_id": f"r{i}", "name": f"代表{i}", "category": "representative"} for i in range(1, 31)]
MARKS = {"shuji": {"zongti": "chenzhi"}, "zhuren": {"zongti": "jiben_chenzhi"}}


def cid() -> str:
    return str(uuid.uuid4())


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("doors")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        yield made
        connection.close()


def new_round() -> str:
    return check_open_round(actor=ADMIN, name="2026年度直评村官", year=2026, variant="zhi_ping_cun_guan", rules=None,
                            command_id=cid())


def new_meeting(round_id: str, *, title: str = "东关村直评村官大会") -> str:
    scheduled = setup.check_schedule_meeting(
        actor=ADMIN, round_id=round_id, title=title, township="城关镇", village="东关村",
        starts_at=now() + timedelta(days=5), place="村委会", subjects=SUBJECTS, roster=PARTY + REPS, command_id=cid(),
    )
    return scheduled.meeting_id


def announce(mid: str) -> None:
    setup.check_announce_meeting(actor=HOST, meeting_id=mid, starts_at=now() + timedelta(days=5), place="村委会",
                                 agenda=["述职", "测评"], channels=["村务公开栏"], command_id=cid())


def to_ballot_open(mid: str) -> list[str]:
    """Announce, check everyone in, open, both reports, codes for the representatives, open the ballot."""
    announce(mid)
    for member in PARTY + REPS:
        conduct.check_check_in(actor=HOST, meeting_id=mid, member_id=member["member_id"], command_id=cid())
    conduct.check_open_meeting(actor=HOST, meeting_id=mid, command_id=cid())
    for subject in SUBJECTS:
        conduct.check_start_report(actor=HOST, meeting_id=mid, subject_id=subject["subject_id"], command_id=cid())
        conduct.check_end_report(actor=HOST, meeting_id=mid, subject_id=subject["subject_id"], command_id=cid())
    issued = check_issue_ballot_codes(actor=HOST, meeting_id=mid, category="representative", count=30,
                                      command_id=cid())
    ballots.check_open_ballot(actor=HOST, meeting_id=mid, command_id=cid())
    return issued.plain


def assert_projections_equal_a_rebuild(after: str = "") -> None:
    for name in ("meeting_board", "rounds", "log_index"):
        projection = get(name)
        if not projection.inline:
            catch_up(projection)
        live = state_of(projection)
        report = rebuild(projection)
        assert report.identical, (after, name, report.only_live, report.only_rebuilt)
        assert state_of(projection) == live


def test_every_door_leaves_every_projection_equal_to_a_rebuild(county: Any) -> None:
    # Zulip's verify_action: after each command, what was projected live equals a rebuild from the log.
    steps: list[tuple[str, Callable[[], object]]] = []
    round_id = new_round()
    assert_projections_equal_a_rebuild()
    mid = new_meeting(round_id)
    assert_projections_equal_a_rebuild()
    steps += [
        ("announce", lambda: announce(mid)),
        ("check in", lambda: conduct.check_check_in(actor=HOST, meeting_id=mid, member_id="p1", command_id=cid())),
        ("guest", lambda: conduct.check_check_in_guest(actor=TELLER_A, meeting_id=mid, guest_id="g1",
                                                        name="驻村工作队 李明", command_id=cid())),
        ("override", lambda: conduct.check_override_quorum(actor=HOST, meeting_id=mid, reason="汛期", command_id=cid())),
        ("open", lambda: conduct.check_open_meeting(actor=HOST, meeting_id=mid, command_id=cid())),
        ("report 1", lambda: conduct.check_start_report(actor=HOST, meeting_id=mid, subject_id="shuji", command_id=cid())),
        ("comment", lambda: conduct.check_record_comment(actor=HOST, meeting_id=mid, subject_id="shuji", text="工作扎实",
                                                          author="乡镇党委书记", command_id=cid())),
        ("question", lambda: conduct.check_ask_question(actor=HOST, meeting_id=mid, subject_id="shuji", text="村道何时修？",
                                                         asked_by="p1", question_id="q1", command_id=cid())),
        ("answer", lambda: conduct.check_answer_question(actor=HOST, meeting_id=mid, question_id="q1", answer="明年三月",
                                                          command_id=cid())),
        ("end 1", lambda: conduct.check_end_report(actor=HOST, meeting_id=mid, subject_id="shuji", command_id=cid())),
        ("report 2", lambda: conduct.check_start_report(actor=HOST, meeting_id=mid, subject_id="zhuren", command_id=cid())),
        ("question 2", lambda: conduct.check_ask_question(actor=HOST, meeting_id=mid, subject_id="zhuren", text="账目？",
                                                           asked_by=None, question_id="q2", command_id=cid())),
        ("defer", lambda: conduct.check_defer_question(actor=HOST, meeting_id=mid, question_id="q2", promise="下周公开",
                                                        due_on="2026-12-20", command_id=cid())),
        ("end 2", lambda: conduct.check_end_report(actor=HOST, meeting_id=mid, subject_id="zhuren", command_id=cid())),
    ]
    for name, step in steps:
        step()
        assert_projections_equal_a_rebuild(after=name)
    plain = check_issue_ballot_codes(actor=HOST, meeting_id=mid, category="representative", count=6,
                                     command_id=cid()).plain
    assert_projections_equal_a_rebuild()
    check_mark_codes_printed(actor=HOST, meeting_id=mid, batch_no=1, command_id=cid())
    assert_projections_equal_a_rebuild()
    ballots.check_open_ballot(actor=HOST, meeting_id=mid, command_id=cid())
    for code in plain[:4]:
        ballots.check_cast_ballot(actor=A_VOTER, meeting_id=mid, code=code, marks=MARKS)
    assert_projections_equal_a_rebuild()
    ballots.check_close_ballot(actor=HOST, meeting_id=mid, command_id=cid())
    assert_projections_equal_a_rebuild()
    for teller in (TELLER_A, TELLER_B):
        paper.check_enter_paper_batch(actor=teller, meeting_id=mid, batch_no=1,
                                      ballots=[{"code": c, "marks": MARKS} for c in plain[4:]], command_id=cid())
        assert_projections_equal_a_rebuild()
    # Six representatives' ballots and none checked in: the host records a decision before announcing.
    ballots.check_accept_count_discrepancy(actor=HOST, meeting_id=mid, reason="代表签到表遗失，经核对名册", command_id=cid())
    assert_projections_equal_a_rebuild()
    ballots.check_announce_results(actor=HOST, meeting_id=mid, command_id=cid())
    assert_projections_equal_a_rebuild()
    conduct.check_close_meeting(actor=HOST, meeting_id=mid, command_id=cid())
    assert_projections_equal_a_rebuild()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT round_id, phase, present_total, codes_issued, ballots_cast, paper_ballots, ballots_counted,"
            " questions_asked, questions_answered, questions_deferred, head_hash FROM proj_meeting_board"
            " WHERE meeting_id = %s", [mid],
        )
        row = cursor.fetchone()
    assert row[:10] == (round_id, "closed", 2, 6, 4, 2, 6, 2, 1, 1)
    assert row[10] == reading.stream_head(meeting_stream(mid))[1]


def test_a_door_refuses_a_role_the_policy_does_not_name_and_writes_nothing(county: Any) -> None:
    mid = new_meeting(new_round())
    announce(mid)
    before = reading.stream_head(meeting_stream(mid))
    for actor, door in [
        (TELLER_A, lambda a: conduct.check_open_meeting(actor=a, meeting_id=mid, command_id=cid())),
        (Actor("auditor", "auditor"), lambda a: conduct.check_check_in(actor=a, meeting_id=mid, member_id="p1",
                                                                         command_id=cid())),
        (A_VOTER, lambda a: conduct.check_close_meeting(actor=a, meeting_id=mid, command_id=cid())),
        (HOST, lambda a: paper.check_enter_paper_batch(actor=a, meeting_id=mid, batch_no=1, ballots=[],
                                                        command_id=cid())),
        (HOST, lambda a: new_round_as(a)),
    ]:
        with pytest.raises(Forbidden):
            door(actor)
    assert reading.stream_head(meeting_stream(mid)) == before


def new_round_as(actor: Actor) -> str:
    return check_open_round(actor=actor, name="越权", year=2026, variant="zhi_ping_cun_guan", rules=None,
                            command_id=cid())


def test_a_cast_racing_the_close_is_counted_or_refused_never_lost(county: Any, monkeypatch: Any) -> None:
    # Closing empties the box and appends BallotClosed under the stream's
    # exclusive lock; a cast holds the same row FOR SHARE while it seals. A
    # cast that arrives between the emptying and the append must wait, then
    # be refused (the ballot is closed) or be in the log: a receipt for a
    # ballot that is not counted would be a lie.
    mid = new_meeting(new_round())
    plain = to_ballot_open(mid)
    ballots.check_cast_ballot(actor=A_VOTER, meeting_id=mid, code=plain[0], marks=MARKS)
    schema = current_schema()
    racer: dict[str, Any] = {}
    real_take_all = ballot_box.take_all

    def cast_in_another_connection() -> None:
        with schema_context(schema):
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_backend_pid()")
                    racer["pid"] = cursor.fetchone()[0]
                racer["pid_known"].set()
                racer["receipt"] = ballots.check_cast_ballot(actor=A_VOTER, meeting_id=mid, code=plain[1], marks=MARKS)
            except Refusal as refusal:
                racer["refused"] = refusal.code
            finally:
                racer["pid_known"].set()
                connection.close()

    def take_all_while_a_cast_arrives(meeting_id: str) -> list[ballot_box.Sealed]:
        taken = real_take_all(meeting_id)
        racer["pid_known"] = threading.Event()
        thread = threading.Thread(target=cast_in_another_connection)
        thread.start()
        racer["thread"] = thread
        assert racer["pid_known"].wait(30)
        # Wait for the racing cast to finish, or to wait on our lock: an event, not a guess of time.
        for _ in range(3000):
            if not thread.is_alive():
                break
            with connection.cursor() as cursor:
                cursor.execute("SELECT cardinality(pg_blocking_pids(%s)) > 0", [racer["pid"]])
                if cursor.fetchone()[0]:
                    racer["waited"] = True
                    break
            thread.join(0.01)
        else:
            pytest.fail("the racing cast neither finished nor waited within 30 s")
        return taken

    monkeypatch.setattr(ballot_box, "take_all", take_all_while_a_cast_arrives)
    ballots.check_close_ballot(actor=HOST, meeting_id=mid, command_id=cid())
    racer["thread"].join(30)
    assert not racer["thread"].is_alive()
    counted = {e.typed().receipt for e in reading.read_stream(meeting_stream(mid)) if e.type == "BallotCast"}
    if "receipt" in racer:
        assert racer["receipt"].receipt in counted, "a cast got a receipt but its ballot is not in the log"
    else:
        assert racer.get("refused") == "wrong_phase"
        assert racer.get("waited"), "the racing cast was refused without waiting for the close"
    assert ballot_box.count(mid) == 0


def test_a_state_folded_in_a_rolled_back_transaction_is_never_served(county: Any) -> None:
    # The repository trusts a cached state only at the version AND head hash it was folded to.
    mid = new_meeting(new_round())
    announce(mid)
    stream = meeting_stream(mid)
    with pytest.raises(RuntimeError), transaction.atomic():
        conduct.check_check_in(actor=HOST, meeting_id=mid, member_id="p1", command_id=cid())
        assert "p1" in repository.load(stream, Meeting).state.checked_in["party_member"]  # cached inside
        raise RuntimeError("the request failed after the command")
    # Another process checks in someone else: the stream is back at the same version, with another head.
    version, head = reading.stream_head(stream)
    store.append(stream, [AttendeeCheckedIn(attendee_id="p2", name="党员2", category="party_member")],
                 expected_version=version, expected_head=head, command_id=cid())
    loaded = repository.load(stream, Meeting)
    assert loaded.version == version + 1
    assert loaded.state.checked_in["party_member"] == {"p2": "党员2"}
    assert loaded.head == reading.stream_head(stream)[1]


def test_a_cached_state_is_fast_forwarded_not_refolded_and_never_changed_in_place(county: Any) -> None:
    mid = new_meeting(new_round())
    announce(mid)
    stream = meeting_stream(mid)
    before = repository.load(stream, Meeting)
    # Appended by another process: this one's cache learns of it at its next load.
    store.append(stream, [AttendeeCheckedIn(attendee_id="p3", name="党员3", category="party_member")],
                 expected_version=before.version, expected_head=before.head, command_id=cid())
    with CaptureQueriesContext(connection) as queries:
        after = repository.load(stream, Meeting)
    assert "p3" in after.state.checked_in["party_member"]
    assert "party_member" not in before.state.checked_in  # the state handed out earlier did not change
    assert any("stream_version >=" in q["sql"] for q in queries.captured_queries)  # read only what is new
    assert len(queries.captured_queries) == 2


def test_after_a_door_commits_the_next_load_is_one_round_trip_and_equals_the_log(county: Any) -> None:
    # The close appends every phone ballot; the screens' snapshot right after must not fold them again.
    mid = new_meeting(new_round())
    plain = to_ballot_open(mid)
    for code in plain[:5]:
        ballots.check_cast_ballot(actor=A_VOTER, meeting_id=mid, code=code, marks=MARKS)
    stream = meeting_stream(mid)
    before = repository.load(stream, Meeting)
    ballots.check_close_ballot(actor=HOST, meeting_id=mid, command_id=cid())
    with CaptureQueriesContext(connection) as queries:
        after = repository.load(stream, Meeting)
    assert len(queries.captured_queries) == 1  # the head only
    assert (after.version, after.head) == reading.stream_head(stream)
    assert after.state == Meeting.from_events(e.typed() for e in reading.read_stream(stream))
    assert len(after.state.phone_ballots) == 5 and after.state.phase == "ballot_closed"
    assert before.state.phase == "ballot_open" and not before.state.phone_ballots  # not changed in place


def test_the_dashboard_reads_a_constant_number_of_queries_whatever_the_number_of_meetings(county: Any) -> None:
    from live import snapshots

    def dashboard_queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            body = snapshots.dashboard()
        return len(queries.captured_queries), len(body["meetings"])

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM proj_meeting_board")
        existing = cursor.fetchone()[0]
    round_id = new_round()
    voting = new_meeting(round_id, title="投票中的会")
    plain = to_ballot_open(voting)
    ballots.check_cast_ballot(actor=A_VOTER, meeting_id=voting, code=plain[0], marks=MARKS)
    new_meeting(round_id)
    few, shown = dashboard_queries()
    assert shown == existing + 2
    for n in range(198):
        mid = new_meeting(round_id, title=f"第{n}场")
        if n % 3 == 0:
            announce(mid)
    many, shown = dashboard_queries()
    assert shown == existing + 200
    assert many == few <= 3
    board = {m["meeting_id"]: m for m in snapshots.dashboard()["meetings"]}
    assert board[voting]["turnout"]["cast"] == 1 and board[voting]["phase"] == "ballot_open"


def test_an_old_head_is_a_conflict_not_a_silent_overwrite(county: Any) -> None:
    mid = new_meeting(new_round())
    stream = meeting_stream(mid)
    stale = repository.load(stream, Meeting)
    announce(mid)
    with pytest.raises(ConcurrencyConflict):
        repository.append(stale, stale.state.announce(
            starts_at=now() + timedelta(days=5), place="别处", agenda=[], channels=["广播"], now=now()
        ), command_id=cid(), actor="host")
    assert [e.type for e in reading.read_stream(stream)].count("MeetingAnnounced") == 1


def test_typed_codes_hash_like_the_printed_ones(county: Any) -> None:
    mid = new_meeting(new_round())
    [printed] = codes.generate_codes(1)
    typed = printed.lower().replace("-", " ")
    assert codes.typed_code_hash(current_schema(), mid, typed) == codes.code_hash(current_schema(), mid, printed)
    with pytest.raises(Refusal) as refused:
        codes.typed_code_hash(current_schema(), mid, "0000")
    assert refused.value.code == "malformed_code"
