"""Properties of the county's year over random sequences of commands (Hypothesis, real PostgreSQL).

Each example builds a new township of five villages and draws a sequence:
quarters ranked (with totals from a narrow range, so ties are common) or
skipped, sweeps at any point, commitments signed, amended, reported on and
scored (refusals included). Afterwards:

1. the commitments, rankings and ledger projections rebuild equal to live;
2. the 软弱涣散 listings are exactly those a reference model written here
   from the seed's words gives: walk the quarters in order, count the
   quarters running in the bottom three (a skipped quarter breaks the run),
   list at the third and start counting again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from common.refusal import Refusal
from followup import rankings_selectors
from followup.actions import commitments as commitment_doors
from followup.actions import rankings as doors
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

NOW = datetime(2027, 12, 31, tzinfo=UTC)
VILLAGES = ["东村", "西村", "南村", "北村", "中村"]


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("yearprop")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        doors.check_set_scoring_criteria(actor=ADMIN, criteria=CRITERIA, reason="", command_id=cid())
        yield made
        connection.close()


OPS = ["rank"] * 6 + ["skip", "sweep", "sign_up", "sign_down", "amend", "amend_same", "report", "score", "score_bad"]
STEPS = st.lists(
    st.tuples(st.sampled_from(OPS), st.lists(st.integers(min_value=55, max_value=60), min_size=5, max_size=5)),
    min_size=6, max_size=16,
)


def quarter_at(n: int) -> str:
    return f"{2026 + n // 4}Q{n % 4 + 1}"


def expected_listings(ranked: dict[int, list[int]]) -> set[tuple[int, int]]:
    """(village index, quarter number) the seed's rule lists, from the totals by quarter number."""
    listed: set[tuple[int, int]] = set()
    for village in range(len(VILLAGES)):
        run, last = 0, None
        for n in sorted(ranked):
            totals = ranked[n]
            lower = sum(1 for t in totals if t < totals[village])
            higher = sum(1 for t in totals if t > totals[village])
            bottom = len(totals) >= 4 and lower < 3 and higher > 0  # first place (even shared) is never bottom
            run = run + 1 if bottom and last == n - 1 else (1 if bottom else 0)
            last = n
            if run == 3:
                listed.add((village, n))
                run = 0
    return listed


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_any_year_rebuilds_equal_to_live_and_lists_as_the_rule_says(county: Any, steps: list[tuple[str, list[int]]]) -> None:
    place = township_with_villages(f"镇{uuid.uuid4().hex[:6]}", VILLAGES)
    ids = [place.villages[v] for v in VILLAGES]
    ranked: dict[int, list[int]] = {}
    quarter_no, commitment = 0, None
    tasks, goals = plan()
    for op, args in steps:
        try:
            if op == "rank":
                doors.check_record_quarter_scores(
                    actor=ADMIN, township_id=place.township_id, quarter=quarter_at(quarter_no),
                    points={vid: points_of(t) for vid, t in zip(ids, args, strict=True)}, command_id=cid())
                ranked[quarter_no] = list(args)
                quarter_no += 1
            elif op == "skip":
                quarter_no += 1
            elif op == "sweep":
                run_sweepers(NOW)
            elif op in ("sign_up", "sign_down"):
                up = op == "sign_up"
                commitment = commitment_doors.check_sign_commitment(
                    actor=ADMIN, direction="village_to_township" if up else "township_to_village",
                    official_id=place.secretaries["东村"] if up else place.member, village_id=place.villages["东村"],
                    year=2026, tasks=tasks, goals=goals, signed_on=date(2026, 1, 5), command_id=cid())
            elif op in ("amend", "amend_same"):
                changed = {**tasks, 1: f"1月：调整{args[0] % 3}"} if op == "amend" else tasks
                commitment_doors.check_amend_commitment(actor=ADMIN, commitment_id=commitment or "cm_none",
                                                        tasks=changed, goals=goals, reason="调整",
                                                        today=date(2026, 3, 1), command_id=cid())
            elif op == "report":
                commitment_doors.check_report_commitment_progress(
                    actor=HOST, commitment_id=commitment or "cm_none", month=args[0] + args[1] - 110, text="已完成",
                    evidence="照片", today=date(2026, 3, 1), command_id=cid())
            else:
                commitment_doors.check_score_commitment(
                    actor=ADMIN, commitment_id=commitment or "cm_none", quarter=args[0] - 55,
                    score=args[1] if op == "score" else 101, note="", command_id=cid())
        except Refusal:
            pass  # refused commands are part of the property: they must leave nothing behind
    run_sweepers(NOW)
    listed = {(w["village_id"], w["quarter"]) for w in rankings_selectors.weak_listings()
              if w["township_id"] == place.township_id}
    expected = {(ids[v], quarter_at(n)) for v, n in expected_listings(ranked)}
    event(f"listings: {min(len(expected), 2)}")
    assert listed == expected, (steps, ranked)
    for name in ("followup_commitments", "followup_rankings", "ledger"):
        projection = get(name)
        live = state_of(projection)
        report = rebuild(projection)
        assert report.identical, (name, steps, report.only_live, report.only_rebuilt)
        assert state_of(projection) == live
