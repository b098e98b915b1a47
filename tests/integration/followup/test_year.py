"""Two years of a county's life through the doors: commitments, quarterly rankings and the 软弱涣散 rule.

Township 红星镇 has six villages and is ranked for six quarters (2026Q1 to
2027Q2); 白河乡 has three villages (too few for a bottom three). The totals
are chosen so that the listing happens exactly for villages in the bottom
three three times running: one through a tie at the boundary, one listed
twice on fresh quarters, one bottom three twice and then not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from common.refusal import Forbidden, Refusal
from events import reading
from followup import commitments_selectors, ledger_selectors, rankings_selectors
from followup.actions import commitments as commitment_doors
from followup.actions import ledger as ledger_doors
from followup.actions import rankings as doors
from followup.rankings import WEAK_RULE, weak_stream
from followup.sweeps import run_sweepers
from projections.runtime import get, rebuild, state_of
from tests.integration.followup.year_county import (
    ADMIN,
    CRITERIA,
    HOST,
    cid,
    plan,
    points_of,
    township_with_villages,
)

VILLAGES = ["一村", "二村", "三村", "四村", "五村", "六村"]
# Totals of 一村 .. 六村 per quarter; the bottom three (with ties sharing a place from the bottom) in the comments.
TOTALS = {
    "2026Q1": [95, 90, 85, 70, 60, 50],  # 四 五 六
    "2026Q2": [95, 90, 80, 80, 65, 55],  # 三 四 (tied third from the bottom) 五 六
    "2026Q3": [95, 90, 85, 70, 88, 50],  # 三 四 六: 四 and 六 three times running; 五 twice, then not
    "2026Q4": [95, 90, 60, 92, 70, 50],  # 三 五 六: 三 three times running (2026Q2-Q4); 六's fourth counts anew
    "2027Q1": [95, 90, 85, 92, 60, 55],  # 三 五 六
    "2027Q2": [95, 90, 88, 92, 93, 40],  # 二 三 六: 六 three fresh quarters running (2026Q4-2027Q2)
}
EXPECTED = {"2026Q1": set(), "2026Q2": set(), "2026Q3": {("四村", "2026Q3"), ("六村", "2026Q3")},
            "2026Q4": {("三村", "2026Q4")}, "2027Q1": set(), "2027Q2": {("六村", "2027Q2")}}


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("year")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        yield made
        connection.close()


def listings() -> set[tuple[str, str]]:
    return {(w["village"], w["quarter"]) for w in rankings_selectors.weak_listings()}


def assert_rebuild_equals_live() -> None:
    for name in ("followup_commitments", "followup_rankings", "ledger"):
        projection = get(name)
        live = state_of(projection)
        report = rebuild(projection)
        assert report.identical, (name, report.only_live, report.only_rebuilt)
        assert state_of(projection) == live


def test_two_years_of_a_county(county: Any) -> None:
    hongxing = township_with_villages("红星镇", VILLAGES)
    baihe = township_with_villages("白河乡", ["甲村", "乙村", "丙村"], registry=False)

    # -- the county configures the criteria; nobody else may ----------------------------------------
    with pytest.raises(Forbidden):
        doors.check_set_scoring_criteria(actor=HOST, criteria=CRITERIA, reason="", command_id=cid())
    with pytest.raises(Refusal) as refused:
        doors.check_record_quarter_scores(actor=ADMIN, township_id=hongxing.township_id, quarter="2026Q1",
                                          points={}, command_id=cid())
    assert refused.value.code == "no_criteria"
    doors.check_set_scoring_criteria(actor=ADMIN, criteria=CRITERIA, reason="县委组织部2026年1号文", command_id=cid())
    assert rankings_selectors.criteria_current()["full_marks"] == 100  # type: ignore[index]

    # -- commitments both ways, signed at the start of 2026 ----------------------------------------
    tasks, goals = plan()
    down = commitment_doors.check_sign_commitment(
        actor=ADMIN, direction="township_to_village", official_id=hongxing.member, village_id=hongxing.villages["六村"],
        year=2026, tasks=tasks, goals=goals, signed_on=date(2026, 1, 10), command_id=cid())
    up = commitment_doors.check_sign_commitment(
        actor=ADMIN, direction="village_to_township", official_id=hongxing.secretaries["六村"],
        village_id=hongxing.villages["六村"], year=2026, tasks=tasks, goals=goals, signed_on=date(2026, 1, 10),
        command_id=cid())
    with pytest.raises(Refusal) as refused:  # the same commitment again: amend it instead
        commitment_doors.check_sign_commitment(
            actor=ADMIN, direction="village_to_township", official_id=hongxing.secretaries["六村"],
            village_id=hongxing.villages["六村"], year=2026, tasks=tasks, goals=goals, signed_on=date(2026, 2, 1),
            command_id=cid())
    assert refused.value.code == "commitment_exists"
    with pytest.raises(Refusal) as refused:  # 一村's secretary holds no post in 六村
        commitment_doors.check_sign_commitment(
            actor=ADMIN, direction="village_to_township", official_id=hongxing.secretaries["一村"],
            village_id=hongxing.villages["六村"], year=2026, tasks=tasks, goals=goals, signed_on=date(2026, 1, 10),
            command_id=cid())
    assert refused.value.code == "not_linked"
    new_tasks = {**tasks, 7: "修缮党群服务中心（调整）"}
    commitment_doors.check_amend_commitment(actor=ADMIN, commitment_id=up, tasks=new_tasks, goals=goals,
                                            reason="汛期推迟户外活动", today=date(2026, 6, 1), command_id=cid())

    for quarter in range(1, 5):
        for month in range(quarter * 3 - 2, quarter * 3 + 1):
            commitment_doors.check_report_commitment_progress(
                actor=HOST, commitment_id=up, month=month, text=f"{month}月任务已完成", evidence=f"会议记录第{month}号",
                today=date(2026, month, 28), command_id=cid())
        for commitment_id in (up, down):
            commitment_doors.check_score_commitment(actor=ADMIN, commitment_id=commitment_id, quarter=quarter,
                                                    score=70 + quarter * 5, note="按季度兑现", command_id=cid())
    with pytest.raises(Refusal) as refused:
        commitment_doors.check_score_commitment(actor=ADMIN, commitment_id=up, quarter=4, score=99, note="",
                                                command_id=cid())
    assert refused.value.code == "quarter_already_scored"

    # -- six quarters of rankings; the rule applied after each by the sweeper -----------------------
    for n, (quarter, totals) in enumerate(TOTALS.items()):
        before = listings()
        points = {hongxing.villages[v]: points_of(t) for v, t in zip(VILLAGES, totals, strict=True)}
        doors.check_record_quarter_scores(actor=ADMIN, township_id=hongxing.township_id, quarter=quarter,
                                          points=points, command_id=cid())
        if n < 3:  # 白河乡's three villages: ranked, never a bottom three
            doors.check_record_quarter_scores(
                actor=ADMIN, township_id=baihe.township_id, quarter=quarter,
                points={vid: points_of(95 - i * 40) for i, vid in enumerate(baihe.villages.values())}, command_id=cid())
        swept = run_sweepers(datetime(2026, 12, 31, tzinfo=UTC))
        assert listings() - before == EXPECTED[quarter], quarter
        assert swept["weak_organizations"] == len(EXPECTED[quarter])
        assert run_sweepers(datetime(2026, 12, 31, tzinfo=UTC))["weak_organizations"] == 0, "a second sweep records nothing"

    with pytest.raises(Refusal) as refused:  # a quarter is scored once
        doors.check_record_quarter_scores(actor=ADMIN, township_id=hongxing.township_id, quarter="2026Q1",
                                          points=points, command_id=cid())
    assert refused.value.code == "quarter_already_scored"

    # -- the facts of each listing, and its rectification item ----------------------------------------
    assert listings() == {("四村", "2026Q3"), ("六村", "2026Q3"), ("三村", "2026Q4"), ("六村", "2027Q2")}
    four = rankings_selectors.weak_listings(village_id=hongxing.villages["四村"])[0]
    assert [(r["quarter"], r["rank"], r["rank_from_bottom"], r["villages_ranked"], r["total"]) for r in four["rankings"]] \
        == [("2026Q1", 4, 3, 6, 70), ("2026Q2", 3, 3, 6, 80), ("2026Q3", 5, 2, 6, 70)]
    assert four["rule"] == WEAK_RULE
    six = rankings_selectors.weak_listings(village_id=hongxing.villages["六村"])
    assert [[r["quarter"] for r in w["rankings"]] for w in six] == [["2026Q4", "2027Q1", "2027Q2"],
                                                                    ["2026Q1", "2026Q2", "2026Q3"]]
    assert reading.stream_version(weak_stream(hongxing.villages["六村"])) == 2
    items = {i["item_id"]: i for i in ledger_selectors.ledger_items(township="红星镇")}
    for listing in rankings_selectors.weak_listings():
        item = items[listing["item_id"]]
        assert (item["source_kind"], item["village"], item["status"]) == ("weak_organization", listing["village"],
                                                                          "in_progress")
        assert "软弱涣散" in item["problem"] and listing["village"] in item["problem"]
    assert len(items) == 4, "one rectification item per listing, none for anything else"
    with pytest.raises(Refusal) as refused:  # nobody enters a 软弱涣散 item by hand
        ledger_doors.check_raise_ledger_item(actor=ADMIN, meeting_id="m_any", source_kind="weak_organization",
                                             source_ref="", problem="手工认定", note="", command_id=cid())
    assert refused.value.code == "source_by_rule_only"

    # -- the rule's door refuses what the rule does not say, and people cannot list by hand -----------
    with pytest.raises(Forbidden):
        doors.check_list_weak_organization(actor=ADMIN, village_id=hongxing.villages["五村"], quarter="2027Q1")
    from followup.rankings_sweeps import SWEEPER

    with pytest.raises(Refusal) as refused:
        doors.check_list_weak_organization(actor=SWEEPER, village_id=hongxing.villages["五村"], quarter="2027Q1")
    assert refused.value.code == "rule_not_met"

    # -- rankings per township and county, ties sharing a rank --------------------------------------
    q2 = rankings_selectors.quarter_rankings("2026Q2")
    red = next(t for t in q2["townships"] if t["township"] == "红星镇")
    assert [(v["village"], v["rank"]) for v in red["villages"]] == [
        ("一村", 1), ("二村", 2), ("三村", 3), ("四村", 3), ("五村", 5), ("六村", 6)]
    county_ranks = {(v["township"], v["village"]): v["county_rank"] for v in q2["county"]}
    assert county_ranks[("红星镇", "一村")] == county_ranks[("白河乡", "甲村")] == 1  # both 95
    assert county_ranks[("红星镇", "二村")] == 3
    history = rankings_selectors.village_history(hongxing.villages["六村"])
    assert [h["rank"] for h in history] == [6, 6, 6, 6, 6, 6]
    assert [h["listed_weak"] for h in history] == [False, False, True, False, False, True]

    # -- the commitments read both ways, every version kept -------------------------------------------
    shown = commitments_selectors.commitments_list(village_id=hongxing.villages["六村"])
    assert {c["direction"] for c in shown} == {"township_to_village", "village_to_township"}
    upward = commitments_selectors.commitment_get(up)
    assert upward is not None
    assert [v["version_no"] for v in upward["versions"]] == [1, 2]
    assert upward["versions"][0]["tasks"][6]["text"] == "走访党员群众21户，解决一件实事"
    assert upward["versions"][1]["tasks"][6]["text"] == "修缮党群服务中心（调整）"
    assert len(upward["progress"]) == 12
    assert [s["score"] for s in upward["scores"]] == [75, 80, 85, 90]

    assert_rebuild_equals_live()
