"""The auditor's replay and list of logs, against real PostgreSQL.

Meetings are driven through the doors (meetings.actions) as the API does. The
replay folds the log (live.replay); the live side is what the hall screen
receives (live.snapshots). Pages are fetched with Django's test client on the
county's host name.
"""

from __future__ import annotations

import copy
import gc
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.roles import A_VOTER, Actor
from events.reading import read_stream
from events.repository import Loaded
from live import replay, snapshots
from meetings.actions import ballots, conduct, paper, setup
from meetings.actions.codes import check_issue_ballot_codes
from meetings.actions.rounds import check_open_round
from meetings.domain.aggregate import Meeting
from meetings.selectors import from_log_only
from meetings.streams import meeting_stream, now
from tests.conftest import host_of

ADMIN = Actor("zuzhibu", "county_admin")
HOST = Actor("host", "host")
SUBJECTS = [
    {"subject_id": "shuji", "name": "村党支部书记 王建国", "level": "village"},
    {"subject_id": "zhuren", "name": "村委会主任 李秀英", "level": "village"},
]
PARTY = [{"member_id": f"p{i}", "name": f"党员{i}", "category": "party_member"} for i in range(1, 7)]
REPS = [{"member_id": f"r{i}", "name": f"代表{i}", "category": "representative"} for i in range(1, 31)]


def cid() -> str:
    return str(uuid.uuid4())


def marks(grade: str) -> dict[str, dict[str, str]]:
    return {"shuji": {"zongti": grade}, "zhuren": {"zongti": "chenzhi"}}


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("replay")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        yield made
        connection.close()


def new_meeting(village: str = "东关村") -> str:
    round_id = check_open_round(actor=ADMIN, name="2026年度直评村官", year=2026, variant="zhi_ping_cun_guan",
                                rules=None, command_id=cid())
    return setup.check_schedule_meeting(
        actor=ADMIN, round_id=round_id, title=f"{village}直评村官大会", township="城关镇", village=village,
        starts_at=now() + timedelta(days=5), place="村委会", subjects=SUBJECTS, roster=PARTY + REPS,
        command_id=cid(),
    ).meeting_id


def to_ballot_open(mid: str) -> dict[str, list[str]]:
    """Announce, check in (party members, then representatives), a question, two reports, codes, open the ballot."""
    setup.check_announce_meeting(actor=HOST, meeting_id=mid, starts_at=now() + timedelta(days=5), place="村委会",
                                 agenda=["述职", "测评"], channels=["村务公开栏"], command_id=cid())
    for member in PARTY + REPS:
        conduct.check_check_in(actor=HOST, meeting_id=mid, member_id=member["member_id"], command_id=cid())
    conduct.check_open_meeting(actor=HOST, meeting_id=mid, command_id=cid())
    for subject in SUBJECTS:
        conduct.check_start_report(actor=HOST, meeting_id=mid, subject_id=subject["subject_id"], command_id=cid())
        conduct.check_ask_question(actor=HOST, meeting_id=mid, subject_id=subject["subject_id"], text="村道何时修？",
                                   asked_by="r1", command_id=cid())
        conduct.check_end_report(actor=HOST, meeting_id=mid, subject_id=subject["subject_id"], command_id=cid())
    codes = {
        category: check_issue_ballot_codes(actor=HOST, meeting_id=mid, category=category, count=n,
                                           command_id=cid()).plain
        for category, n in (("party_member", len(PARTY)), ("representative", len(REPS)))
    }
    ballots.check_open_ballot(actor=HOST, meeting_id=mid, command_id=cid())
    return codes


def to_results(mid: str) -> None:
    """Ballots by phone and on paper (two tellers), close, announce."""
    codes = to_ballot_open(mid)
    for code in codes["party_member"]:
        ballots.check_cast_ballot(actor=A_VOTER, meeting_id=mid, code=code, marks=marks("bu_chenzhi"))
    for code in codes["representative"][:6]:
        ballots.check_cast_ballot(actor=A_VOTER, meeting_id=mid, code=code, marks=marks("chenzhi"))
    batch = [{"code": code, "marks": marks("jiben_chenzhi")} for code in codes["representative"][6:]]
    for teller in ("teller_a", "teller_b"):
        paper.check_enter_paper_batch(actor=Actor(teller, "teller"), meeting_id=mid, batch_no=1, ballots=batch,
                                      command_id=cid())
    ballots.check_close_ballot(actor=HOST, meeting_id=mid, command_id=cid())
    ballots.check_announce_results(actor=HOST, meeting_id=mid, command_id=cid())


def version_after(mid: str, kind: str, nth: int = 1) -> int:
    """The stream version of the nth event of `kind` in the meeting's log."""
    versions = [e.stream_version for e in read_stream(meeting_stream(mid)) if e.type == kind]
    return versions[nth - 1]


def login(county: Any, role: str) -> Client:
    name = f"{role}_{uuid.uuid4().hex[:6]}"
    User.objects.create_user(username=name, password="pw-" + name + "-Shuping1", role=role)
    client = Client(HTTP_HOST=host_of(county))
    assert client.post("/login/", {"username": name, "password": "pw-" + name + "-Shuping1"}).status_code == 302
    return client


def test_the_replayed_screen_at_the_last_position_is_the_live_screen_field_by_field(county: Any) -> None:
    mid = new_meeting()
    to_results(mid)
    live_screen, live_console = snapshots.screen(mid), snapshots.console(mid)
    last = len(read_stream(meeting_stream(mid)))
    replayed = replay.replay_at(mid, last)
    assert replayed["version"] == last == live_screen["version"]
    assert live_screen["results"] is not None and live_screen["head_hash"] == replayed["head_hash"]
    for live, then in ((live_screen, replayed["screen"]), (live_console, replayed["console"])):
        differ = {key for key in live.keys() | then.keys() if live.get(key) != then.get(key)}
        assert differ == set(replay.REPLAY_CLOCK_FIELDS), differ
    # The replay's clock is the time its last event was recorded, not the server's now.
    assert replayed["screen"]["server_now"] == read_stream(meeting_stream(mid))[-1].recorded_at.isoformat()


def test_at_every_position_the_replay_shows_what_the_meeting_folded_from_its_whole_records_shows(county: Any) -> None:
    # The replay folds only each event's type, version and data; the reference here folds the
    # whole records (RecordedEvent.typed, as events.repository does) and builds the snapshots
    # the live pages send. Every position of a meeting from scheduling to its results.
    mid = new_meeting("南关村")
    to_results(mid)
    records = read_stream(meeting_stream(mid))
    folded = Meeting()
    ballots_run = [e.stream_version for e in records if e.type == "BallotCast"]
    for event in records:
        folded.apply(event.typed())
        if ballots_run and ballots_run[0] <= event.stream_version < ballots_run[-1]:
            continue  # inside the close's run of phone ballots the replay folds the whole run (checked below)
        loaded = Loaded(event.stream_id, copy.deepcopy(folded), event.stream_version, event.hash)
        with from_log_only():
            expected = {"screen": snapshots.screen_of(mid, loaded), "console": snapshots.console_of(mid, loaded)}
        then = replay.replay_at(mid, event.stream_version)
        assert (then["version"], then["head_hash"]) == (event.stream_version, event.hash)
        for kind in ("screen", "console"):
            expected[kind]["server_now"] = event.recorded_at.isoformat()
            assert then[kind] == expected[kind], (event.stream_version, event.type, kind)
    assert len(ballots_run) > 1
    assert replay.replay_at(mid, ballots_run[0])["version"] == ballots_run[-1]


def test_a_replay_leaves_the_garbage_collector_running_for_the_other_requests_of_its_worker(county: Any) -> None:
    # A web worker serves many requests on its threads at once: a replay that switched off
    # Python's cyclic collector (process-wide) would let every other request's cycles pile up.
    # Observed where the replay does its work: each time the aggregate folds an event.
    mid = new_meeting()
    to_ballot_open(mid)
    last = len(read_stream(meeting_stream(mid)))
    seen: list[bool] = []

    def watch(frame: Any, what: str, _arg: Any) -> None:
        if what == "call" and frame.f_code.co_name == "apply" and "aggregate" in frame.f_code.co_filename:
            seen.append(gc.isenabled())

    sys.setprofile(watch)
    try:
        assert replay.replay_at(mid, last)["version"] == last
    finally:
        sys.setprofile(None)
    assert len(seen) == last, "the replay folded every event of the log"
    assert all(seen), "the collector stayed on while the replay folded the log"
    assert gc.isenabled()


def test_a_middle_position_shows_the_speaker_and_the_attendance_of_that_moment(county: Any) -> None:
    mid = new_meeting("西关村")
    to_results(mid)
    second = version_after(mid, "ReportStarted", 2)
    then = replay.replay_at(mid, second)
    screen, console = then["screen"], then["console"]
    assert then["version"] == second and screen["phase"] == "opened"
    assert screen["current_report"]["name"] == "村委会主任 李秀英"
    assert [r["subject_id"] for r in screen["reports_done"]] == ["shuji"]
    assert [(r["subject_id"], r["ended_at"] is None) for r in console["reports"]] == [("shuji", False), ("zhuren", True)]
    assert sum(e["checked_in"] for e in console["roster"]) == len(PARTY + REPS) and len(console["questions"]) == 1
    assert screen["turnout"]["cast"] == 0 and screen["turnout"]["eligible"] == len(PARTY + REPS)
    assert screen["results"] is None and screen["head_hash"] is None
    assert {q["category"]: q["present"] for q in screen["quorum"]}["representative"] == len(REPS)
    # Just after the 5th check-in: five party members present, no representative yet.
    fifth = version_after(mid, "AttendeeCheckedIn", 5)
    early = replay.replay_at(mid, fifth)["screen"]
    present = {q["category"]: q["present"] for q in early["quorum"]}
    assert present == {"party_member": 5, "representative": 0}
    assert not early["quorum_met"] and early["phase"] == "announced"
    # The chain's hash at a position is that event's hash.
    assert replay.replay_at(mid, fifth)["head_hash"] == read_stream(meeting_stream(mid))[fifth - 1].hash


def test_while_voting_the_replay_shows_no_phone_count_and_never_the_casting_order(county: Any) -> None:
    mid = new_meeting("南街社区")
    codes = to_ballot_open(mid)
    for code in codes["party_member"][:4]:
        ballots.check_cast_ballot(actor=A_VOTER, meeting_id=mid, code=code, marks=marks("chenzhi"))
    assert snapshots.screen(mid)["turnout"]["cast"] == 4  # live: the sealed box
    opened = version_after(mid, "BallotOpened")
    voting = replay.replay_at(mid, opened)
    # The log holds no ballot before the close: the replay shows none and does not read the box of today.
    assert voting["phone_ballots_sealed"] and voting["screen"]["turnout"]["cast"] == 0
    ballots.check_close_ballot(actor=HOST, meeting_id=mid, command_id=cid())
    events = read_stream(meeting_stream(mid))
    cast = [e for e in events if e.type == "BallotCast"]
    assert [e.data["code_hash"] for e in cast] == sorted(e.data["code_hash"] for e in cast)
    # The close's ballots are one step of the timeline, and no position shows a part of them.
    steps = [s for s in replay.timeline(mid) if s.type == "BallotCast"]
    assert [(s.first, s.version) for s in steps] == [(cast[0].stream_version, cast[-1].stream_version)]
    inside = replay.replay_at(mid, cast[0].stream_version)
    assert inside["version"] == cast[-1].stream_version and inside["screen"]["turnout"]["cast"] == 4


def test_only_the_auditor_and_the_county_admin_open_a_replay_and_a_foreign_meeting_is_404(
    county: Any, make_county: Callable[..., Any],
) -> None:
    mid = new_meeting("北关村")
    to_results(mid)
    last = len(read_stream(meeting_stream(mid)))
    for role in ("auditor", "county_admin"):
        client = login(county, role)
        page = client.get(f"/audit/{mid}/")
        assert page.status_code == 200, role
        html = page.content.decode()
        assert 'id="replay-slider"' in html and 'data-verdict="verified"' in html and html.count("<li data-index=") > 20
        state = client.get(f"/audit/{mid}/at/?v={last}").json()
        assert state["version"] == last and state["screen"]["results"]["ballots_counted"] == len(PARTY + REPS)
        for bad in ("abc", "0", "-1", "1e3", "９", "99999999999", "1%00"):
            answer = client.get(f"/audit/{mid}/at/?v={bad}")
            assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_version", bad
        assert client.get(f"/audit/{mid}/at/?v={last + 50}").json()["version"] == last  # past the end: the whole log
        assert client.get(f"/audit/{mid}/at/").status_code == 400
    for role in ("host", "observer", "teller"):
        client = login(county, role)
        for url in (f"/audit/{mid}/", f"/audit/{mid}/at/?v=1"):
            answer = client.get(url)
            assert answer.status_code == 403 and "无法打开此页面" in answer.content.decode(), (role, url)
    assert Client(HTTP_HOST=host_of(county)).get(f"/audit/{mid}/")["Location"].startswith("/login/")
    # A meeting of another county: its id means nothing here.
    other = make_county("replay_other")
    with schema_context(other.schema_name):
        foreign = new_meeting("外县村")
    connection.set_schema(county.schema_name)  # making a county leaves the connection on the public schema
    auditor = login(county, "auditor")
    page = auditor.get(f"/audit/{foreign}/")
    assert page.status_code == 404 and "找不到会议" in page.content.decode()
    answer = auditor.get(f"/audit/{foreign}/at/?v=1")
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "unknown_meeting"


def test_the_list_of_logs_shows_each_head_and_the_verifiers_verdict_with_a_replay_link(county: Any) -> None:
    from django.test.utils import CaptureQueriesContext

    done = new_meeting("柳林村")
    to_results(done)
    ongoing = new_meeting("杨树村")
    auditor = login(county, "auditor")
    html = auditor.get("/audit/").content.decode()
    for mid in (done, ongoing):
        row = html[html.index(f'data-meeting="{mid}"'):]
        row = row[:row.index("</tr>")]
        events = read_stream(meeting_stream(mid))
        assert events[-1].hash in row and f'href="/audit/{mid}/"' in row
        assert 'data-verdict="verified"' in row
    assert "重新计票一致" in html
    # A second view verifies nothing again: the verdicts are cached per head.
    with CaptureQueriesContext(connection) as queries:
        auditor.get("/audit/")
    assert not any("FROM events" in q["sql"] for q in queries.captured_queries)
    # A log that moved is verified again at its new head.
    setup.check_announce_meeting(actor=HOST, meeting_id=ongoing, starts_at=now() + timedelta(days=5), place="村委会",
                                 agenda=["述职"], channels=["广播"], command_id=cid())
    html = auditor.get("/audit/").content.decode()
    row = html[html.index(f'data-meeting="{ongoing}"'):]
    assert read_stream(meeting_stream(ongoing))[-1].hash in row[:row.index("</tr>")]


def test_a_log_edited_behind_the_platforms_back_fails_on_the_replay_page_and_then_in_the_list(county: Any) -> None:
    mid = new_meeting("槐树村")
    to_results(mid)
    auditor = login(county, "auditor")
    assert 'data-verdict="verified"' in row_of(auditor.get("/audit/").content.decode(), mid)
    # The table's owner switches the trigger off and changes one ballot; the stored head does not move.
    first_ballot = version_after(mid, "BallotCast")
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE events DISABLE TRIGGER events_no_update_or_delete")
        cursor.execute("""UPDATE events SET data = jsonb_set(data, '{marks,zhuren,zongti}', '"bu_chenzhi"')
                           WHERE stream_id = %s AND stream_version = %s""", [meeting_stream(mid), first_ballot])
        cursor.execute("ALTER TABLE events ENABLE TRIGGER events_no_update_or_delete")
    page = auditor.get(f"/audit/{mid}/").content.decode()  # one meeting's page verifies afresh
    assert 'data-verdict="failed"' in page and "日志校验失败" in page
    row = row_of(auditor.get("/audit/").content.decode(), mid)
    assert 'data-verdict="failed"' in row and 'data-problem="hash_mismatch"' in row


def row_of(html: str, meeting_id: str) -> str:
    row = html[html.index(f'data-meeting="{meeting_id}"'):]
    return row[:row.index("</tr>")]
