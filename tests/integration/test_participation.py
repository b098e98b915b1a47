"""One denominator for participation (参评率): the same figure on the hall screen, the dashboard, the workspace,
the results API and the workbook, against real PostgreSQL.

The meeting is built so that each tempting denominator gives another rate:
14 on the roster (6 party members, 8 representatives), 12 present (5 + 6 and
one invited guest), 11 ballots. Eligible voters (roster + guests checked in
off the roster) = 15: 11/15 = 73.3%; over those present it would be 91.7%,
over the roster alone 78.6%.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import openpyxl
import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.roles import A_VOTER, Actor
from live import snapshots
from meetings import desks, selectors
from meetings.actions import ballots, conduct, setup
from meetings.actions.codes import check_issue_ballot_codes
from meetings.actions.rounds import check_open_round
from meetings.streams import now
from projections.runtime import get, rebuild
from tests.conftest import host_of

ADMIN = Actor("zuzhibu", "county_admin")
HOST = Actor("host", "host")
SUBJECTS = [{"subject_id": "shuji", "name": "村党支部书记 王建国", "level": "village"}]
PARTY = [{"member_id": f"p{i}", "name": f"党员{i}", "category": "party_member"} for i in range(6)]
REPS = [{"member_id": f"r{i}", "name": f"代表{i}", "category": "representative"} for i in range(8)]


def cid() -> str:
    return str(uuid.uuid4())


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("participation")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        yield made
        connection.close()


def client_of(county: Any, role: str = "county_admin") -> Client:
    name = f"{role}_{uuid.uuid4().hex[:6]}"
    User.objects.create_user(username=name, password=f"pw-{name}-Shuping1", role=role)
    client = Client(HTTP_HOST=host_of(county))
    assert client.post("/login/", {"username": name, "password": f"pw-{name}-Shuping1"}).status_code == 302
    return client


def meeting_to_ballot(*, present: tuple[int, int], guests: int, title: str = "柳林村直评村官大会",
                      invited: tuple[dict[str, str], ...] = ()) -> tuple[str, str, list[str]]:
    """A 直评村官 meeting of PARTY + REPS, `present` of them and `guests` checked in, a code each, voting open.

    Returns (round id, meeting id, codes: party members', representatives', guests' in this order).
    """
    round_id = check_open_round(actor=ADMIN, name="2026年度直评村官", year=2026, variant="zhi_ping_cun_guan", rules=None,
                                command_id=cid())
    mid = setup.check_schedule_meeting(
        actor=ADMIN, round_id=round_id, title=title, township="柳林乡", village="柳林村",
        starts_at=now() + timedelta(days=5), place="村委会", subjects=SUBJECTS, roster=PARTY + REPS + list(invited),
        command_id=cid(),
    ).meeting_id
    setup.check_announce_meeting(actor=HOST, meeting_id=mid, starts_at=now() + timedelta(days=5), place="村委会",
                                 agenda=["述职", "测评"], channels=["公开栏"], command_id=cid())
    for member in PARTY[:present[0]] + REPS[:present[1]] + list(invited):
        conduct.check_check_in(actor=HOST, meeting_id=mid, member_id=member["member_id"], command_id=cid())
    for i in range(guests):
        conduct.check_check_in_guest(actor=HOST, meeting_id=mid, guest_id=f"g{i}", name=f"列席{i}", command_id=cid())
    conduct.check_override_quorum(actor=HOST, meeting_id=mid, reason="村民代表外出务工", command_id=cid())
    conduct.check_open_meeting(actor=HOST, meeting_id=mid, command_id=cid())
    conduct.check_start_report(actor=HOST, meeting_id=mid, subject_id="shuji", command_id=cid())
    conduct.check_end_report(actor=HOST, meeting_id=mid, subject_id="shuji", command_id=cid())
    codes = [code for category, n in (("party_member", present[0]), ("representative", present[1]), ("guest", guests))
             if n for code in check_issue_ballot_codes(actor=HOST, meeting_id=mid, category=category, count=n,
                                                        command_id=cid()).plain]
    ballots.check_open_ballot(actor=HOST, meeting_id=mid, command_id=cid())
    return round_id, mid, codes


def test_participation_is_one_figure_on_every_page_that_shows_it(county: Any) -> None:
    round_id, mid, codes = meeting_to_ballot(present=(5, 6), guests=1)
    voted = codes[1:]  # one party member does not vote: 11 ballots
    for code in voted:
        ballots.check_cast_ballot(actor=A_VOTER, meeting_id=mid, code=code, marks={"shuji": {"zongti": "chenzhi"}})

    # While voting: the screen and the dashboard count against the same 15, and say who is present.
    live = snapshots.screen(mid)["turnout"]
    assert (live["cast"], live["eligible"], live["present"]) == (11, 15, 12)
    [row] = [m for m in selectors.dashboard_meetings() if m["meeting_id"] == mid]
    assert (row["turnout"]["cast"], row["turnout"]["eligible"]) == (11, 15)

    ballots.check_close_ballot(actor=HOST, meeting_id=mid, command_id=cid())
    ballots.check_announce_results(actor=HOST, meeting_id=mid, command_id=cid())

    screen = snapshots.screen(mid)
    figures = {"screen": (screen["results"]["eligible"], screen["results"]["participation_percent"])}
    assert screen["results"]["participation"]["rule_zh"] == "参评率＝收回票数÷应参评人数"
    assert screen["turnout"]["eligible"] == 15
    [row] = [m for m in selectors.dashboard_meetings() if m["meeting_id"] == mid]
    figures["dashboard"] = (row["turnout"]["eligible"], row["participation"])
    [shown] = [m for r in desks.workspace()["rounds"] for m in r["meetings"] if m["meeting_id"] == mid]
    figures["workspace"] = (shown["eligible"], shown["participation"])

    client = client_of(county)
    api = client.get(f"/api/meetings/{mid}/results/")
    assert api.status_code == 200, api.content
    figures["api"] = (api.json()["eligible"], api.json()["participation_percent"])
    book = openpyxl.load_workbook(io.BytesIO(client.get(f"/workspace/rounds/{round_id}/results.xlsx").content))
    [meeting_row] = [r for r in book["会议"].iter_rows(min_row=2, values_only=True) if r[3] == mid]
    figures["workbook"] = (meeting_row[7], meeting_row[8])
    assert set(figures.values()) == {(15, "73.3%")}, figures
    # ... and each says which denominator it is
    assert "参评率＝收回票数÷应参评人数" in client.get("/workspace/").content.decode()
    assert "参评率＝收回票数÷应参评人数" in client.get("/dashboard/").content.decode()
    assert book["会议"].cell(row=1, column=9).value.startswith("参评率＝收回票数÷应参评人数")
    notes = [row[0] for row in book["说明"].iter_rows(values_only=True)]
    assert any(line.startswith("得分＝Σ（组权重×组平均分）÷Σ组权重") for line in notes), notes  # where the score is

    # The board's eligible voters are rebuilt from the log to the same number.
    report = rebuild(get("meeting_board"))
    assert report.identical, (report.only_live, report.only_rebuilt)


def test_the_workspace_shows_a_meetings_results_per_voter_group_and_says_why_one_was_merged(county: Any) -> None:
    _, mid, codes = meeting_to_ballot(present=(6, 5), guests=2, title="东关村直评村官大会")
    client = client_of(county)
    assert client.get(f"/workspace/meetings/{mid}/results/").status_code == 404  # not announced yet
    grades = ["chenzhi"] * 5 + ["bu_chenzhi"] + ["chenzhi"] * 4 + ["jiben_chenzhi"] + ["bu_chenzhi"] * 2
    for code, grade in zip(codes, grades, strict=True):
        ballots.check_cast_ballot(actor=A_VOTER, meeting_id=mid, code=code, marks={"shuji": {"zongti": grade}})
    ballots.check_close_ballot(actor=HOST, meeting_id=mid, command_id=cid())
    ballots.check_announce_results(actor=HOST, meeting_id=mid, command_id=cid())

    api = client.get(f"/api/meetings/{mid}/results/").json()
    groups = {g["group_id"]: g for g in api["subjects"][0]["groups"]}
    # 6 party members alone; 2 guests (fewer than 5) merged with the 5 representatives, the smallest group
    assert (groups["party_member"]["ballots"], groups["other"]["ballots"]) == (6, 7)
    assert (groups["party_member"]["unfavourable_percent"], groups["other"]["unfavourable_percent"]) == ("16.7%", "28.6%")
    assert groups["other"]["note_zh"] == "列席人员不足5人，已并入村民代表合并计票（本组：村民代表、列席人员）"
    assert groups["party_member"]["note_zh"] is None and groups["party_member"]["label_zh"] == "党员评议"

    workspace = client.get("/workspace/").content.decode()
    assert f'href="/workspace/meetings/{mid}/results/"' in workspace
    page = client.get(f"/workspace/meetings/{mid}/results/").content.decode()
    for text in ("党员评议", "合并评议（村民代表、列席人员）", groups["other"]["note_zh"], "16.7%", "28.6%",
                 "参评率＝收回票数÷应参评人数", "得分的计算方法", api["subjects"][0]["name"]):
        assert text in page, text
    assert client_of(county, "auditor").get(f"/workspace/meetings/{mid}/results/").status_code == 200
    assert client_of(county, "host").get(f"/workspace/meetings/{mid}/results/").status_code == 403


def test_a_guest_on_the_roster_is_counted_once_live_and_after_a_rebuild(county: Any) -> None:
    invited = ({"member_id": "gr1", "name": "县妇联 张红", "category": "guest"},)
    _, mid, _ = meeting_to_ballot(present=(6, 8), guests=1, invited=invited, title="南街社区直评村官大会")
    # 6 + 8 + the invited guest on the roster (checked in: no second count) + one guest off the roster
    assert snapshots.screen(mid)["turnout"]["eligible"] == 16
    [row] = [m for m in selectors.dashboard_meetings() if m["meeting_id"] == mid]
    assert row["turnout"]["eligible"] == 16
    report = rebuild(get("meeting_board"))
    assert report.identical, (report.only_live, report.only_rebuilt)
    [row] = [m for m in selectors.dashboard_meetings() if m["meeting_id"] == mid]
    assert row["turnout"]["eligible"] == 16
