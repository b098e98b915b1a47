"""The year's pages through Django's test client on the county's host: forms post to the doors, refusals in
Chinese change nothing, the public pages need no login."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from events import reading
from followup import commitments_selectors, rankings_selectors
from followup.actions import commitments as commitment_doors
from followup.actions import rankings as doors
from followup.rankings import TIE_RULE, WEAK_RULE, quarter_stream
from followup.sweeps import run_sweepers
from tests.conftest import host_of
from tests.integration.followup.year_county import (
    ADMIN,
    CRITERIA,
    cid,
    plan,
    township_with_villages,
)


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("yearpages")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        yield made
        connection.close()


def login(county: Any, role: str) -> Client:
    name = f"{role}{uuid.uuid4().hex[:6]}"
    User.objects.create_user(username=name, password="pw-" + name, role=role)
    client = Client()
    assert client.post("/login/", {"username": name, "password": "pw-" + name}, HTTP_HOST=host_of(county)).status_code == 302
    return client


def test_the_county_scores_a_quarter_and_the_public_reads_a_commitment(county: Any) -> None:
    host = host_of(county)
    place = township_with_villages("前进镇", ["东村", "西村", "南村", "北村"])
    admin = login(county, "county_admin")
    assert login(county, "observer").get("/rankings/", HTTP_HOST=host).status_code == 403
    assert Client().get("/rankings/", HTTP_HOST=host).status_code == 302  # to the login page

    saved = admin.post("/rankings/", {"op": "criteria", "criteria": "组织建设 60\n工作绩效 40", "reason": "",
                                      "command_id": cid()}, HTTP_HOST=host)
    assert saved.status_code == 302
    bad = admin.post("/rankings/", {"op": "criteria", "criteria": "组织建设 六十", "command_id": cid()}, HTTP_HOST=host)
    assert bad.status_code == 400 and "分数须为整数" in bad.content.decode()
    assert rankings_selectors.criteria_current()["criteria_version"] == 1  # type: ignore[index]

    sheet = admin.get(f"/rankings/?township={place.township_id}&score_quarter=2026Q1", HTTP_HOST=host).content.decode()
    form = {"op": "scores", "township_id": str(place.township_id), "quarter": "2026Q1", "command_id": cid()}
    totals = {"东村": (50, 30), "西村": (50, 30), "南村": (40, 30), "北村": (30, 20)}
    for name, (first, second) in totals.items():
        vid = place.villages[name]
        assert f'name="p_{vid}_0"' in sheet
        form[f"p_{vid}_0"], form[f"p_{vid}_1"] = str(first), str(second)
    over = admin.post("/rankings/", {**form, f"p_{place.villages['北村']}_1": "41", "command_id": cid()}, HTTP_HOST=host)
    assert over.status_code == 400 and "得分应在0到40分之间" in over.content.decode()
    assert reading.stream_version(quarter_stream(place.township_id, "2026Q1")) == 0, "a refused sheet records nothing"
    recorded = admin.post("/rankings/", form, HTTP_HOST=host)
    assert recorded.status_code == 302 and recorded["Location"] == "/rankings/?quarter=2026Q1"
    page = admin.get("/rankings/?quarter=2026Q1", HTTP_HOST=host).content.decode()
    assert TIE_RULE in page
    ranks = [r["rank"] for r in rankings_selectors.quarter_rankings("2026Q1")["townships"][0]["villages"]]
    assert ranks == [1, 1, 3, 4]

    tasks, goals = plan()
    cm = commitment_doors.check_sign_commitment(
        actor=ADMIN, direction="village_to_township", official_id=place.secretaries["东村"],
        village_id=place.villages["东村"], year=2026, tasks=tasks, goals=goals, signed_on=date(2026, 1, 8),
        command_id=cid())
    hostuser = login(county, "host")
    reported = hostuser.post(f"/commitments/{cm}/", {"op": "report", "month": "1", "text": "走访党员32户",
                                                      "evidence": "走访记录本第3页", "command_id": cid()}, HTTP_HOST=host)
    assert reported.status_code == 302
    refused = hostuser.post(f"/commitments/{cm}/", {"op": "score", "quarter": "1", "score": "90", "command_id": cid()},
                            HTTP_HOST=host)
    assert refused.status_code == 403, "a host reports progress; only the county scores"
    desk = admin.get("/commitments/", HTTP_HOST=host).content.decode()
    assert f'href="/commitments/{cm}/"' in desk and 'id="sign-commitment"' in desk
    detail = admin.get(f"/commitments/{cm}/", HTTP_HOST=host).content.decode()
    assert "走访党员32户" in detail and 'id="amend-commitment"' in detail
    history = admin.get(f"/rankings/village/{place.villages['北村']}/", HTTP_HOST=host).content.decode()
    assert "2026年第一季度" in history and "后三名" in history
    public = Client().get(f"/gongkai/{place.villages['东村']}/", HTTP_HOST=host)
    assert public.status_code == 200
    text = public.content.decode()
    assert "走访党员32户" in text and "走访记录本第3页" in text and "东村书记" in text
    assert Client().get("/gongkai/999999/", HTTP_HOST=host).status_code == 404
    assert Client().get("/gongkai/99999999999999999999/", HTTP_HOST=host).status_code == 404
    huge = "9" * 20
    for form in ({"op": "scores", "township_id": huge, "quarter": "2026Q2"}, {"op": "scores", "quarter": "2026Q2"},
                 {"op": "scores", "township_id": str(place.township_id), "quarter": "2026Q2\x00"},
                 {"op": "criteria", "criteria": "组织建设 " + "9" * 5000}, {"op": "nothing"}):
        answer = admin.post("/rankings/", {**form, "command_id": cid()}, HTTP_HOST=host)
        assert 400 <= answer.status_code < 500, (form, answer.status_code)
    signed = admin.post("/commitments/", {"direction": "village_to_township", "official_id": place.secretaries["西村"],
                                          "village_id": huge, "year": "2026", "signed_on": "2026-01-01",
                                          "command_id": cid()}, HTTP_HOST=host)
    assert signed.status_code == 404 and "找不到该村" in signed.content.decode()
    assert Client().get(f"/gongkai/official/{place.secretaries['东村']}/", HTTP_HOST=host).status_code == 200


def test_a_listing_shows_its_three_rankings_and_the_rule_and_its_item_is_in_the_ledger(county: Any) -> None:
    host = host_of(county)
    place = township_with_villages("光明镇", ["上村", "中村", "下村", "后村"], registry=False)
    if rankings_selectors.criteria_current() is None:
        doors.check_set_scoring_criteria(actor=ADMIN, criteria=CRITERIA, reason="", command_id=cid())
    full = [c["max_points"] for c in rankings_selectors.criteria_current()["criteria"]]  # type: ignore[index]

    def split(total: int) -> list[int]:  # fill each criterion in turn up to its full marks
        marks = []
        for most in full:
            marks.append(min(most, total - sum(marks)))
        return marks

    for quarter in ("2026Q2", "2026Q3", "2026Q4"):
        totals = {"上村": 90, "中村": 80, "下村": 70, "后村": 40}
        doors.check_record_quarter_scores(
            actor=ADMIN, township_id=place.township_id, quarter=quarter,
            points={place.villages[v]: split(t) for v, t in totals.items()},
            command_id=cid())
    run_sweepers(datetime(2027, 1, 5, tzinfo=UTC))
    listed = [w for w in rankings_selectors.weak_listings() if w["township"] == "光明镇"]
    # Four villages: the bottom three are three of them (上村 alone is above).
    assert {(w["village"], w["quarter"]) for w in listed} == {("中村", "2026Q4"), ("下村", "2026Q4"), ("后村", "2026Q4")}
    last = next(w for w in listed if w["village"] == "后村")
    admin = login(county, "county_admin")
    page = admin.get("/rankings/?quarter=2026Q4", HTTP_HOST=host).content.decode()
    assert "光明镇后村党组织 · 列入软弱涣散村党组织（2026年第四季度）" in page
    assert "2026年第二季度" in page and "倒数第1名" in page and WEAK_RULE in page
    item = admin.get(f"/ledger/{last['item_id']}/", HTTP_HOST=host)
    assert item.status_code == 200 and "软弱涣散" in item.content.decode()
    assert "光明镇后村党组织连续三个季度" in Client().get("/zhenggai/", HTTP_HOST=host).content.decode()


def test_the_sign_form_narrows_its_pickers_to_a_township_or_a_name(county: Any) -> None:
    """A county has thousands of officials: the desk picks a township (or types a name) before the official."""
    host = host_of(county)
    hills = township_with_villages("青山乡", ["上坪村", "下坪村"])
    river = township_with_villages("河口镇", ["渡口村"])
    admin = login(county, "county_admin")

    def options(query: str) -> str:
        page = admin.get(f"/commitments/{query}", HTTP_HOST=host)
        assert page.status_code == 200
        text = page.content.decode()
        return text[text.index('id="sign-commitment"'):]

    everyone = options("")
    assert hills.secretaries["上坪村"] in everyone and river.secretaries["渡口村"] in everyone
    narrowed = options(f"?township={hills.township_id}")
    assert hills.secretaries["上坪村"] in narrowed and hills.member in narrowed
    assert river.secretaries["渡口村"] not in narrowed
    assert f'value="{hills.villages["下坪村"]}"' in narrowed and f'value="{river.villages["渡口村"]}"' not in narrowed
    by_name = options("?q=渡口")
    assert river.secretaries["渡口村"] in by_name and hills.secretaries["上坪村"] not in by_name
    nobody = admin.get("/commitments/?q=无此人", HTTP_HOST=host).content.decode()
    assert "没有符合条件的干部" in nobody
    for hostile in ("?township=99999999999999999999", "?q=%00", "?township=%ff&q=" + "名" * 5000, "?township=-1"):
        assert admin.get(f"/commitments/{hostile}", HTTP_HOST=host).status_code == 200, hostile
    # A refusal keeps the narrowed pickers (the form posts back to the same address).
    refused = admin.post(f"/commitments/?township={hills.township_id}",
                         {"direction": "village_to_township", "official_id": hills.secretaries["上坪村"],
                          "village_id": str(hills.villages["上坪村"]), "year": "二〇二六", "signed_on": "2026-01-01",
                          "command_id": cid()}, HTTP_HOST=host)
    assert refused.status_code == 400
    assert river.secretaries["渡口村"] not in refused.content.decode()


def test_the_list_shows_one_year_at_a_time_the_newest_first(county: Any) -> None:
    host = host_of(county)
    place = township_with_villages("柳林镇", ["前柳村"])
    tasks, goals = plan()
    for year in (2025, 2026):
        commitment_doors.check_sign_commitment(
            actor=ADMIN, direction="village_to_township", official_id=place.secretaries["前柳村"],
            village_id=place.villages["前柳村"], year=year, tasks=tasks, goals=goals, signed_on=date(year, 1, 6),
            command_id=cid())
    admin = login(county, "county_admin")

    def listed(query: str) -> set[str]:
        page = admin.get(f"/commitments/{query}", HTTP_HOST=host)
        assert page.status_code == 200, query
        text = page.content.decode()
        table = text[text.index('data-testid="commitments"'):]
        return {cell.split("</td>")[0] for cell in table.split("<tr data-commitment=")[1:]}

    newest = admin.get("/commitments/", HTTP_HOST=host).content.decode()
    assert 'href="/commitments/?year=2025"' in newest and "· 2026年度" in newest
    # Narrowing the pickers keeps the year shown, and the year links keep the narrowing.
    narrowed = admin.get(f"/commitments/?year=2025&township={place.township_id}", HTTP_HOST=host).content.decode()
    assert '<input type="hidden" name="year" value="2025">' in narrowed
    assert f'href="/commitments/?township={place.township_id}&amp;year=2026"' in narrowed
    [cm] = [c["commitment_id"] for c in commitments_selectors.commitments_list(year=2025) if c["village_id"] == place.villages["前柳村"]]
    assert 'href="/commitments/?year=2025"' in admin.get(f"/commitments/{cm}/", HTTP_HOST=host).content.decode()
    assert all("<td>2026" in row for row in listed("")) and listed("")
    assert all("<td>2025" in row for row in listed("?year=2025")) and listed("?year=2025")
    for hostile in ("?year=1999", "?year=" + "9" * 5000, "?year=２０２５", "?year=%00", "?year=-1"):
        assert all("<td>2026" in row for row in listed(hostile)), hostile
