"""A city's standings over three counties: figures equal the counties' own, only aggregates leave a county."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context

from common.refusal import Refusal
from followup import ledger_selectors
from followup.actions import ledger
from meetings import selectors
from regions.figures import CTES, SOURCES
from regions.models import Region
from regions.standings import parse_sort, parse_year, standings
from tests.integration.followup.meeting_with_results import ADMIN, cid
from tests.integration.regions.city import build_city

pytestmark = pytest.mark.django_db

# Tables that hold a ballot, a receipt, a person, a name or a text typed by someone.
FORBIDDEN = re.compile(r"\b(events?|event_\w+|\w*ballot\w*|\w*receipt\w*|\w*attendee\w*|\w*roster\w*|"
                       r"proj_registry_\w+|\w*official\w*|\w*comment\w*|\w*interview\w*|accounts_\w+|"
                       r"meetings_\w+|proj_log_index|proj_notices|proj_objections)\b")
TABLE = re.compile(r"\b(?:FROM|JOIN)\s+\"?([a-z_][a-z0-9_]*)\"?", re.IGNORECASE)
PUBLIC_TABLES = {"regions_region", "regions_region_counties", "tenants_county"}


@pytest.fixture
def city(make_county):
    """A city over three counties: 20, 24 and 12 of 30 ballots; the secretary flagged in two of them."""
    return build_city(make_county)


def test_standings_equal_each_countys_own_board(city) -> None:
    region, counties = city
    rows = {row["slug"]: row for row in standings(region, 2026)}
    assert set(rows) == {county.schema_name for county in counties}
    for county in counties:
        with schema_context(county.schema_name):
            board = [m for m in selectors.meetings_list() if m["ballots_counted"] is not None]
        row = rows[county.schema_name]
        assert row["county"] == county.name and row["meetings"] == len(board) == 1
        # The county's own results page shows this participation (参评率) for its one meeting.
        assert f"{row['participation']:.1f}%" == board[0]["participation"]
        assert row["subjects_graded"] == 2 and row["subjects_flagged"] == len(board[0]["flagged"])
    assert [rows[c.schema_name]["flagged_share"] for c in counties] == [50.0, 50.0, 0.0]
    assert [rows[c.schema_name]["participation"] for c in counties] == [66.7, 80.0, 40.0]
    # No ledger item opened yet: nothing to divide, not 0%.
    assert all(row["rectification"] is None and row["items_opened"] == 0 for row in rows.values())
    # Another year has no meetings; sorting puts the highest participation first.
    assert all(row["meetings"] == 0 and row["participation"] is None for row in standings(region, 2025))
    assert [row["county"] for row in standings(region, 2026, sort="participation")] == ["西城县", "东城县", "南城县"]


def test_standings_read_only_aggregate_sources_and_return_no_personal_data(city) -> None:
    region, counties = city
    with CaptureQueriesContext(connection) as captured:
        rows = standings(region, 2026)
    statements = [q["sql"] for q in captured.captured_queries]
    county_reads = [s for s in statements if "proj_" in s]
    assert len(county_reads) == len(counties)  # one aggregate read per county schema
    for sql in statements:
        tables = set(TABLE.findall(sql))
        assert not [t for t in tables if FORBIDDEN.fullmatch(t)], sql
        assert tables <= set(SOURCES) | PUBLIC_TABLES | set(CTES), sql
    assert {t for s in county_reads for t in TABLE.findall(s)} - set(CTES) == set(SOURCES)
    # What comes back: the county's public name and slug, and numbers only; no subject or voter names.
    for row in rows:
        assert {k for k, v in row.items() if not isinstance(v, int | float | type(None))} == {"county", "slug"}
    text = repr(rows)
    for leak in ("王建国", "李秀英", "代表", "shuji", "zhuren", "东关村", "城关镇"):
        assert leak not in text


def test_a_province_over_a_city_sees_the_citys_counties_once(city) -> None:
    region, counties = city
    province = Region.objects.create(name=f"测试省{counties[0].schema_name[-4:]}", kind=Region.Kind.PROVINCE)
    region.parent = province
    region.save()
    province.counties.add(counties[0])  # also listed directly: still one row
    assert [row["slug"] for row in standings(province, 2026)] == sorted(c.schema_name for c in counties)


@pytest.mark.parametrize("text", ["", "abc", "1999", "2101", "２０２６", "2026; DROP TABLE x", "-1", "20260"])
def test_bad_year_is_refused_in_chinese_first(text: str) -> None:
    with pytest.raises(Refusal) as refused:
        parse_year(text)
    assert refused.value.code == "bad_year" and "年份" in str(refused.value.message_zh)


def test_bad_sort_is_refused() -> None:
    with pytest.raises(Refusal) as refused:
        parse_sort("ballots; --")
    assert refused.value.code == "bad_sort"
    assert parse_year("2026") == 2026


def test_rectification_is_items_done_or_closed_over_items_opened_as_the_countys_ledger_shows(city) -> None:
    region, counties = city
    today = date.today()
    with schema_context(counties[0].schema_name):
        meeting_id = selectors.meetings_list()[0]["meeting_id"]
        items = [ledger.check_raise_ledger_item(actor=ADMIN, meeting_id=meeting_id, source_kind="low_grade",
                                                source_ref="shuji", problem=f"问题{n}", note="内部备注",
                                                command_id=cid()) for n in range(3)]
        for item in items[:2]:
            ledger.check_add_measure(actor=ADMIN, item_id=item, text="修缮村道", owner="王建国",
                                     deadline=today + timedelta(days=30), today=today, command_id=cid())
            ledger.check_complete_measure(actor=ADMIN, item_id=item, measure_no=1, evidence="已修好", uploads=[],
                                          today=today, command_id=cid())
        ledger.check_review_ledger_item(actor=ADMIN, item_id=items[0], passed=True, note="", command_id=cid())
        shown = [ledger_selectors.ledger_item(item)["status"] for item in items]  # type: ignore[index]
    assert shown[0] == "closed" and shown[2] == "in_progress"
    finished = sum(status in ("done", "closed") for status in shown)
    rows = {row["slug"]: row for row in standings(region, today.year)}
    first = rows[counties[0].schema_name]
    assert (first["items_opened"], first["items_done"]) == (3, finished)
    assert first["rectification"] == round(100 * finished / 3, 1)
    assert rows[counties[1].schema_name]["items_opened"] == 0  # the other counties' ledgers are their own
    assert "修缮村道" not in repr(rows) and "问题0" not in repr(rows)
