"""Each role's own page, the workspace and its Excel export, against real PostgreSQL.

Meetings are driven through the doors (meetings.actions) as the API does; the
pages are fetched with Django's test client on the county's host name.
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
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.roles import A_VOTER, LANDING, Actor
from meetings import desks
from meetings.actions import ballots, conduct, paper, setup
from meetings.actions.codes import check_issue_ballot_codes
from meetings.actions.rounds import check_open_round
from meetings.selectors import results_body
from meetings.streams import load_meeting, now
from projections.runtime import get, rebuild
from tests.conftest import host_of

ADMIN = Actor("zuzhibu", "county_admin")
HOST = Actor("host", "host")
SUBJECTS = [
    {"subject_id": "shuji", "name": "村党支部书记 王建国", "level": "village"},
    {"subject_id": "zhuren", "name": "村委会主任 李秀英", "level": "village"},
]
PARTY = [{"member_id": f"p{i}", "name": f"党员{i}", "category": "party_member"} for i in range(1, 7)]
REPS = [{"member_id": f"r{i}", "name": f"代表{i}", "category": "representative"} for i in range(1, 31)]
PAGES = {"/workspace/": "county_admin", "/my/meetings/": "host", "/my/batches/": "teller", "/audit/": "auditor"}


def cid() -> str:
    return str(uuid.uuid4())


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("desks")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        yield made
        connection.close()


def login(county: Any, role: str) -> tuple[Client, Any]:
    """A client logged in through the county's login form as a new account of `role`; returns the login's answer."""
    name = f"{role or 'norole'}_{uuid.uuid4().hex[:6]}"
    User.objects.create_user(username=name, password="pw-" + name + "-Shuping1", role=role)
    client = Client(HTTP_HOST=host_of(county))
    answer = client.post("/login/", {"username": name, "password": "pw-" + name + "-Shuping1"})
    return client, answer


def new_round() -> str:
    return check_open_round(actor=ADMIN, name="2026年度直评村官", year=2026, variant="zhi_ping_cun_guan", rules=None,
                            command_id=cid())


def new_meeting(round_id: str, *, township: str = "城关镇", village: str = "东关村", days: float = 5) -> str:
    return setup.check_schedule_meeting(
        actor=ADMIN, round_id=round_id, title=f"{village}直评村官大会", township=township, village=village,
        starts_at=now() + timedelta(days=days), place="村委会", subjects=SUBJECTS, roster=PARTY + REPS,
        command_id=cid(),
    ).meeting_id


def to_ballot_open(mid: str) -> dict[str, list[str]]:
    setup.check_announce_meeting(actor=HOST, meeting_id=mid, starts_at=now() + timedelta(days=5), place="村委会",
                                 agenda=["述职", "测评"], channels=["村务公开栏"], command_id=cid())
    for member in PARTY + REPS:
        conduct.check_check_in(actor=HOST, meeting_id=mid, member_id=member["member_id"], command_id=cid())
    conduct.check_open_meeting(actor=HOST, meeting_id=mid, command_id=cid())
    for subject in SUBJECTS:
        conduct.check_start_report(actor=HOST, meeting_id=mid, subject_id=subject["subject_id"], command_id=cid())
        conduct.check_end_report(actor=HOST, meeting_id=mid, subject_id=subject["subject_id"], command_id=cid())
    codes = {
        category: check_issue_ballot_codes(actor=HOST, meeting_id=mid, category=category, count=n,
                                           command_id=cid()).plain
        for category, n in (("party_member", len(PARTY)), ("representative", len(REPS)))
    }
    ballots.check_open_ballot(actor=HOST, meeting_id=mid, command_id=cid())
    return codes


def marks(grade: str) -> dict[str, dict[str, str]]:
    return {"shuji": {"zongti": grade}, "zhuren": {"zongti": "chenzhi"}}


def test_each_role_lands_on_its_own_page_after_logging_in(county: Any) -> None:
    for role, url in LANDING.items():
        client, answer = login(county, role)
        assert (answer.status_code, answer["Location"]) == (302, url), role
        page = client.get(url)
        assert page.status_code == 200, role
        assert "/admin/" not in page.content.decode(), role  # no county page sends anyone to the admin
    # The home page shows a logged-in person the way to their page, and the login form otherwise.
    client, _ = login(county, "teller")
    assert 'href="/my/batches/"' in client.get("/").content.decode()
    anonymous = Client(HTTP_HOST=host_of(county)).get("/").content.decode()
    assert 'action="/login/"' in anonymous and 'name="password"' in anonymous and "/admin/" not in anonymous


def test_a_role_without_a_page_and_a_foreign_page_get_a_chinese_403_never_a_500(county: Any) -> None:
    for url, owner in PAGES.items():
        for role in LANDING:
            if role == owner or (role == "county_admin" and url in ("/my/meetings/", "/audit/")):
                continue
            client, _ = login(county, role)
            page = client.get(url)
            assert page.status_code == 403, (url, role)
            assert "无法打开此页面" in page.content.decode(), (url, role)
    client, answer = login(county, "")  # an account left without a role
    assert answer["Location"] == "/desk/"
    page = client.get("/desk/")
    assert page.status_code == 403 and 'data-error-code="no_page_for_role"' in page.content.decode()
    assert "没有可用的县区角色" in page.content.decode()
    assert Client(HTTP_HOST=host_of(county)).get("/workspace/")["Location"].startswith("/login/?next=/workspace/")
    # Logging out is a POST from every page's header; afterwards the pages ask for a login again.
    client, _ = login(county, "observer")
    assert 'action="/logout/"' in client.get("/meetings/").content.decode()
    assert client.post("/logout/")["Location"] == "/login/"
    assert client.get("/meetings/")["Location"].startswith("/login/")


def test_the_admin_speaks_chinese_to_a_browser_that_asks_for_english(county: Any) -> None:
    client = Client(HTTP_HOST=host_of(county), HTTP_ACCEPT_LANGUAGE="en")
    admin_login = client.get("/admin/login/").content.decode()
    assert "用户名" in admin_login and "Username:" not in admin_login
    # The hall's pages still follow the person's choice (their language button), the admin never does.
    assert "Log in" in client.get("/login/").content.decode()


def test_the_workspace_shows_progress_results_flags_and_a_chart_and_exports_them(county: Any) -> None:
    round_id = new_round()
    held = new_meeting(round_id, township="柳林乡", village="柳林村")
    new_meeting(round_id, village="西关村")  # scheduled only
    announced = new_meeting(round_id, village="南街社区")
    setup.check_announce_meeting(actor=HOST, meeting_id=announced, starts_at=now() + timedelta(days=5), place="村委会",
                                 agenda=["述职"], channels=["广播"], command_id=cid())
    codes = to_ballot_open(held)
    # The secretary: 16 of 36 不称职 (44% >= 30%: flagged); the director: all 称职.
    for code in codes["party_member"] + codes["representative"][:10]:
        ballots.check_cast_ballot(actor=A_VOTER, meeting_id=held, code=code, marks=marks("bu_chenzhi"))
    for code in codes["representative"][10:20]:
        ballots.check_cast_ballot(actor=A_VOTER, meeting_id=held, code=code, marks=marks("chenzhi"))
    # Ten representatives voted on paper, entered by two tellers.
    batch = [{"code": code, "marks": marks("jiben_chenzhi")} for code in codes["representative"][20:]]
    paper.check_enter_paper_batch(actor=Actor("teller_a", "teller"), meeting_id=held, batch_no=1, ballots=batch,
                                  command_id=cid())
    waiting = {m["meeting_id"]: m for m in desks.teller_batches(teller="teller_b")}[held]
    assert waiting["batches"] == [{"number": 1, "status": "pending", "tellers": ["teller_a"], "entered_by_me": False,
                                   "waits_for_me": True}]
    mine = {m["meeting_id"]: m for m in desks.teller_batches(teller="teller_a")}[held]
    assert mine["batches"][0]["entered_by_me"] and not mine["batches"][0]["waits_for_me"]
    paper.check_enter_paper_batch(actor=Actor("teller_b", "teller"), meeting_id=held, batch_no=1, ballots=batch,
                                  command_id=cid())
    done = {m["meeting_id"]: m for m in desks.teller_batches(teller="teller_b")}[held]
    assert done["batches"][0]["status"] == "reconciled" and done["waiting"] == 0
    ballots.check_close_ballot(actor=HOST, meeting_id=held, command_id=cid())
    ballots.check_announce_results(actor=HOST, meeting_id=held, command_id=cid())
    report = rebuild(get("meeting_board"))
    assert report.identical, (report.only_live, report.only_rebuilt)

    [shown] = [r for r in desks.workspace()["rounds"] if r["round_id"] == round_id]
    assert shown["progress"] == {"scheduled": 3, "announced": 2, "held": 1, "results_announced": 1}
    assert [f["name"] for f in shown["flagged"]] == ["村党支部书记 王建国"]
    [bar] = shown["chart"]
    marks_of = {part["grade"]: part["marks"] for part in bar["parts"]}
    assert bar["township"] == "柳林乡" and marks_of == {"chenzhi": 10 + 36, "jiben_chenzhi": 10, "bu_chenzhi": 16}

    client, _ = login(county, "county_admin")
    page = client.get("/workspace/").content.decode()
    assert 'data-stage="held">1<' in page and "村党支部书记 王建国" in page and "柳林乡" in page
    api = results_body(load_meeting(held))
    assert f"{api['participation_percent']}</a> <small" in page  # the results' own rate (its split behind the link)

    exported = client.get(f"/workspace/rounds/{round_id}/results.xlsx")
    assert exported.status_code == 200 and exported["Content-Type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(exported.content))
    assert sheet_counts(book) == api_counts(api, held)
    summary = {row[3]: row for row in book["会议"].iter_rows(min_row=2, values_only=True)}
    assert summary[held][4:9] == (api["ballots_counted"], api["phone_ballots"], api["paper_ballots"],
                                  api["eligible"], api["participation_percent"])
    assert client.get("/workspace/rounds/no_such_round/results.xlsx").status_code == 404


def sheet_counts(book: Any) -> dict[tuple[str, str, str], tuple[int, dict[str, int]]]:
    """(meeting, subject, category label) -> (ballots, {criterion·grade: marks}) from the results sheet."""
    rows = list(book["测评结果"].iter_rows(values_only=True))
    header_at = next(i for i, row in enumerate(rows) if row[0] == "乡镇 / Township")
    header = rows[header_at]
    grade_columns = [i for i, name in enumerate(header) if name and "·" in str(name)]
    out = {}
    for row in rows[header_at + 1:]:
        counts = {str(header[i]): int(row[i]) for i in grade_columns}
        out[(row[3], row[5], row[6])] = (row[7], counts)
    return out


def api_counts(api: dict[str, Any], meeting_id: str) -> dict[tuple[str, str, str], tuple[int, dict[str, int]]]:
    """The same from the API's results: the subject's total and each category's group."""
    from live.workbook import category_label

    names = {"zongti": "总体评价"}
    grades = {"chenzhi": "称职", "jiben_chenzhi": "基本称职", "bu_chenzhi": "不称职"}

    def flat(counts: dict[str, dict[str, int]]) -> dict[str, int]:
        return {f"{names[c]}·{grades[g]}": counts.get(c, {}).get(g, 0) for c in names for g in grades}

    out = {}
    for subject in api["subjects"]:
        out[(meeting_id, subject["subject_id"], "全体 / All")] = (subject["ballots"], flat(subject["counts"]))
        for group in subject["groups"]:
            label = category_label(group["group_id"], group["categories"])
            out[(meeting_id, subject["subject_id"], label)] = (group["ballots"], flat(group["counts"]))
    assert {key[2] for key in out} >= {"党员 / Party members", "村民代表 / Village representatives"}
    return out


def test_the_role_pages_read_a_fixed_number_of_queries_for_200_meetings(county: Any) -> None:
    pages = {url: login(county, role)[0] for url, role in PAGES.items()}
    pages["/meetings/"] = login(county, "observer")[0]

    def queries() -> list[int]:
        counted = []
        for reader in (desks.workspace, desks.meetings_all, lambda: desks.host_meetings(today=now().date()),
                       lambda: desks.teller_batches(teller="t")):
            with CaptureQueriesContext(connection) as captured:
                reader()
            counted.append(len(captured.captured_queries))
        for url, who in pages.items():
            # The county's host name is cached for TENANT_HOST_CACHE_SECONDS; on a loaded machine
            # building 200 meetings outlasts it, and its lookup is not the page's reading. Nor is
            # the session's "last seen", written once a minute by whichever request comes: of two
            # readings in a row at most one can carry it, so the fewer is the page's own.
            who.get(url)
            readings = []
            for _ in range(2):
                with CaptureQueriesContext(connection) as captured:
                    assert who.get(url).status_code == 200
                readings.append(len(captured.captured_queries))
            counted.append(min(readings))
        return counted

    round_id = new_round()
    new_meeting(round_id)
    few = queries()
    for n in range(200):
        new_meeting(round_id, village=f"第{n}村", days=1 + n % 20)
    assert queries() == few
    assert few[:4] == [3, 1, 1, 1]


def test_the_error_pages_of_a_county_offer_the_county_login_not_the_admin(county: Any) -> None:
    missing = Client(HTTP_HOST=host_of(county)).get("/no-such-page/")
    assert missing.status_code == 404
    assert 'href="/login/"' in missing.content.decode() and "/admin/" not in missing.content.decode()
    client, _ = login(county, "host")
    page = client.get("/no-such-page/").content.decode()
    assert 'action="/logout/"' in page and "/admin/" not in page
    operators = Client(HTTP_HOST="localhost").get("/no-such-page/").content.decode()
    assert 'href="/admin/login/"' in operators  # the operators' site keeps its admin login
