"""The front door: each demo account logs in on the county's home page and lands on its own page.

A county set up as `make run` sets up the demo (reference data, the demo
accounts, the announced rehearsal meeting of the demo round), plus a meeting
played through the API to announced results and one left at an open ballot.
Every URL the browser asks for is recorded: no county user's path visits
/admin/. Screenshots of each page go to tests/artifacts/front_door/ (ignored
by git) for a person to look at.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from accounts.models import User
from accounts.roles import LANDING
from live.workbook import category_label
from shuping.demo import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    ensure_rehearsal_meeting,
    populate_reference_data,
)
from tests.browser.conftest import Hall
from tests.live.server import demo_meeting, make_live_county, to_ballot_open

HEADINGS = {
    "county_admin": "县区工作台", "host": "我的会议", "teller": "我的录入批次", "auditor": "会议日志", "observer": "全部会议",
}
GRADES = {"party_member": "bu_chenzhi", "representative": "chenzhi"}


@pytest.fixture(scope="module")
def demo(hall: Hall, make_county: Any) -> dict[str, Any]:
    """A county like the demo one, on the hall's server: (Hall, the voting meeting, the announced one)."""
    with hall.db():
        county = make_live_county(make_county)
        with schema_context(county.schema_name):
            populate_reference_data(members_per_village=6, representatives_per_village=4)
            for username, name, role, _label in DEMO_ACCOUNTS:
                User.objects.create_user(username=username, password=DEMO_PASSWORD, role=role, display_name=name)
            ensure_rehearsal_meeting()
    county_hall = Hall(hall.server, county, hall.blocker)
    admin, host, voter = county_hall.api("county_admin"), county_hall.api("host"), county_hall.api(None)
    voting = demo_meeting(admin, host, party_members=6, representatives=30, title="东关村2026年度直评村官大会")
    voting_codes = to_ballot_open(host, voting, codes_per_category=2)
    # Another teller entered a paper batch: it waits for the demo teller's second entry.
    paper = {"code": voting_codes["representative"][0], "marks": {"shuji": {"zongti": "chenzhi"},
                                                                  "zhuren": {"zongti": "chenzhi"}}}
    county_hall.api("teller").post(f"meetings/{voting['meeting_id']}/paper-batches/",
                                   {"batch_no": 1, "ballots": [paper]}, expect=200)
    done = demo_meeting(admin, host, party_members=6, representatives=30, title="柳林村2026年度直评村官大会")
    codes = to_ballot_open(host, done, codes_per_category=6)
    for category, plain in codes.items():
        marks = {"shuji": {"zongti": GRADES[category]}, "zhuren": {"zongti": "jiben_chenzhi"}}
        for code in plain:
            voter.post(f"v/{done['meeting_id']}/ballot/", {"code": code, "marks": marks}, expect=201)
    m = f"meetings/{done['meeting_id']}/"
    host.post(m + "ballot/close/", expect=200)
    host.post(m + "results/announce/", expect=200)
    host.post(m + "close/", expect=200)
    return {"hall": county_hall, "voting": voting, "done": done, "results": host.get(m + "results/")}


def log_in_from_home(contexts: Any, hall: Hall, username: str, visited: list[str]) -> Any:
    context = contexts.desk()
    context.on("request", lambda request: visited.append(request.url))
    page = context.new_page()
    page.on("framenavigated", lambda frame: visited.append(frame.url))
    page.goto(hall.url("/"))
    expect(page.locator("#home-login h2")).to_have_text("工作人员登录", use_inner_text=True)
    page.fill("#id_username", username)
    page.fill("#id_password", DEMO_PASSWORD)
    page.click("#login-submit")
    return page


def test_each_demo_account_logs_in_on_the_home_page_and_lands_on_its_own_page(
    demo: dict[str, Any], contexts: Any, artifacts: Path, tmp_path: Path,
) -> None:
    hall: Hall = demo["hall"]
    shots = artifacts / "front_door"
    shots.mkdir(exist_ok=True)
    done, voting = demo["done"]["meeting_id"], demo["voting"]["meeting_id"]
    visited: list[str] = []
    home = contexts.desk().new_page()
    home.goto(hall.url("/"))
    home.screenshot(path=str(shots / "home.png"), full_page=True)

    for username, _name, role, _label in DEMO_ACCOUNTS:
        page = log_in_from_home(contexts, hall, username, visited)
        expect(page).to_have_url(re.compile(re.escape(LANDING[role]) + "$"))
        expect(page.locator("main h1")).to_contain_text(HEADINGS[role], use_inner_text=True)
        if role == "county_admin":
            the_county_workspace(page, demo, tmp_path)
        elif role == "host":
            rehearsal = page.locator("section[data-section=upcoming] tr[data-meeting=demo_rehearsal]")
            expect(rehearsal).to_contain_text("已公告", use_inner_text=True)
            expect(page.locator(f"section[data-section=past] tr[data-meeting={done}]")).to_have_count(1)
            expect(page.locator(f"section[data-section=today] tr[data-meeting={voting}]")).to_have_count(1)
        elif role == "teller":
            batch = page.locator(f"section[data-meeting={voting}] tr[data-batch='1']")
            expect(batch).to_contain_text("待第二人录入", use_inner_text=True)
            expect(batch).to_contain_text("待您录入", use_inner_text=True)
            expect(page.locator(f"section[data-meeting={voting}] a[href='/hall/{voting}/teller/']")).to_have_count(1)
            expect(page.locator(f"section[data-meeting={done}]")).to_have_count(0)  # results are out: no entry
        elif role == "auditor":
            the_auditors_list(page, demo, tmp_path)
        elif role == "observer":
            expect(page.locator(f"tr[data-meeting={done}]")).to_contain_text(
                demo["results"]["participation_percent"], use_inner_text=True)
        page.screenshot(path=str(shots / f"{role}.png"), full_page=True)
        if role == "host":  # a host's way on: the console of today's meeting
            page.click(f"section[data-section=today] tr[data-meeting={voting}] a")
            expect(page.locator("#phase")).to_have_text("测评进行中", use_inner_text=True)
            page.screenshot(path=str(shots / "host_console.png"), full_page=True)
        page.click("header.top form button")  # log out, from the page's own header
        expect(page).to_have_url(re.compile(r"/login/$"))

    # A host who tries the workspace gets the Chinese 403 page, not a 500 and not the admin.
    page = log_in_from_home(contexts, hall, "host", visited)
    response = page.goto(hall.url("/workspace/"))
    assert response is not None and response.status == 403
    expect(page.locator("#error-message")).to_contain_text("您的角色无权打开此页面", use_inner_text=True)
    page.screenshot(path=str(shots / "forbidden.png"))
    assert visited and not [url for url in visited if "/admin/" in url], [u for u in visited if "/admin/" in u]
    assert any(url.endswith("/workspace/") for url in visited)


def the_county_workspace(page: Any, demo: dict[str, Any], tmp_path: Path) -> None:
    rehearsal = page.locator("section.round", has_text="2026年度直评村官（演示）")
    for stage, count in (("scheduled", 1), ("announced", 1), ("held", 0), ("results_announced", 0)):
        expect(rehearsal.locator(f"[data-stage={stage}]")).to_have_text(str(count), use_inner_text=True)
    expect(rehearsal.locator("tr[data-meeting=demo_rehearsal]")).to_contain_text("已公告", use_inner_text=True)
    done = demo["done"]["meeting_id"]
    results = demo["results"]
    section = page.locator("section.round", has=page.locator(f"tr[data-meeting={done}]"))
    expect(section.locator("[data-stage=results_announced]")).to_have_text("1", use_inner_text=True)
    expect(section.locator(f"tr[data-meeting={done}] [data-participation]")).to_contain_text(
        results["participation_percent"], use_inner_text=True)
    expect(section.locator("ul.flagged")).to_contain_text("王建国", use_inner_text=True)  # 6 of 12 不称职
    expect(section.locator("[data-testid=chart] .stack-bar rect")).to_have_count(3)
    with page.expect_download() as download:
        section.locator("a[data-export]").click()
    saved = tmp_path / "results.xlsx"
    download.value.save_as(saved)
    book = openpyxl.load_workbook(saved)
    rows = list(book["测评结果"].iter_rows(values_only=True))
    header_at = next(i for i, row in enumerate(rows) if row[0] == "乡镇 / Township")
    header = rows[header_at]
    grade_at = {name: i for i, name in enumerate(header) if name and "·" in str(name)}
    sheet = {(row[5], row[6]): row for row in rows[header_at + 1:] if row[3] == done}
    grades = {"chenzhi": "称职", "jiben_chenzhi": "基本称职", "bu_chenzhi": "不称职"}
    compared = 0
    for subject in results["subjects"]:
        wanted = [("全体 / All", subject["ballots"], subject["counts"])]
        wanted += [(category_label(g["group_id"], g["categories"]), g["ballots"], g["counts"]) for g in subject["groups"]]
        for label, ballots, counts in wanted:
            row = sheet[(subject["subject_id"], label)]
            assert row[7] == ballots
            for grade, name in grades.items():
                assert row[grade_at[f"总体评价·{name}"]] == counts["zongti"].get(grade, 0), (subject, label, grade)
            compared += 1
    assert compared == 2 * 3  # each subject: all, Party members, representatives (the 双评 split)
    meetings = {row[3]: row for row in book["会议"].iter_rows(min_row=2, values_only=True)}
    assert meetings[done][4] == results["ballots_counted"] and meetings[done][8] == results["participation_percent"]
    page.screenshot(path=str(tmp_path / "workspace.png"), full_page=True)


def the_auditors_list(page: Any, demo: dict[str, Any], tmp_path: Path) -> None:
    done = demo["done"]["meeting_id"]
    row = page.locator(f"tr[data-meeting={done}]")
    expect(row.locator("[data-head]")).to_have_text(demo["results"]["head_hash"], use_inner_text=True)
    with page.expect_download() as download:
        row.locator("a[data-log]").click()
    saved = tmp_path / "log.jsonl"
    download.value.save_as(saved)
    lines = [json.loads(line) for line in saved.read_text(encoding="utf-8").splitlines()]
    assert lines[0]["head_hash"] == lines[-1]["hash"] == demo["results"]["head_hash"]
    assert lines[0]["event_count"] == len(lines) - 1 == int(row.locator("td.num").inner_text())
