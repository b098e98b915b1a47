"""The ranking rules in plain Python: ties share a rank (1, 1, 3), the bottom three counted from the bottom the same
way, the 软弱涣散 streak, and quarters written like 2026Q3."""

from __future__ import annotations

import pytest

from common.refusal import Refusal
from followup.rankings import RankingFact, previous_quarter, quarter_label, rank_totals, streak_due


def test_equal_scores_share_a_rank_and_the_next_rank_skips() -> None:
    ranked = rank_totals({1: 90, 2: 90, 3: 80, 4: 70, 5: 70, 6: 60})
    assert [ranked[k].rank for k in range(1, 7)] == [1, 1, 3, 4, 4, 6]
    assert [ranked[k].rank_from_bottom for k in range(1, 7)] == [5, 5, 4, 2, 2, 1]
    assert [k for k in range(1, 7) if ranked[k].bottom_three] == [4, 5, 6]


def test_a_tie_at_the_boundary_puts_every_tied_village_in_the_bottom_three() -> None:
    ranked = rank_totals({1: 90, 2: 70, 3: 70, 4: 70, 5: 60})
    assert [k for k in range(1, 6) if ranked[k].bottom_three] == [2, 3, 4, 5]


def test_a_village_in_first_place_is_never_in_the_bottom_three() -> None:
    ranked = rank_totals({1: 80, 2: 80, 3: 70, 4: 50})
    assert [ranked[k].rank_from_bottom for k in range(1, 5)] == [3, 3, 2, 1]
    assert [k for k in range(1, 5) if ranked[k].bottom_three] == [3, 4]
    assert not any(r.bottom_three for r in rank_totals({1: 60, 2: 60, 3: 60, 4: 60}).values())


def test_three_villages_or_fewer_have_no_bottom_three() -> None:
    assert not any(r.bottom_three for r in rank_totals({1: 90, 2: 80, 3: 10}).values())


def fact(quarter: str) -> RankingFact:
    return RankingFact(quarter=quarter, rank=6, rank_from_bottom=1, villages_ranked=6, total=50)


def test_the_streak_needs_three_consecutive_quarters_not_yet_cited() -> None:
    quarters = ["2026Q3", "2026Q4", "2027Q1", "2027Q2"]
    history = {q: fact(q) for q in quarters}
    bottom = set(quarters)
    assert streak_due(history, bottom, "2027Q1", set()) == ["2026Q3", "2026Q4", "2027Q1"]  # across the new year
    assert streak_due(history, bottom, "2026Q4", set()) == []  # only two
    assert streak_due(history, bottom, "2027Q2", {"2026Q3", "2026Q4", "2027Q1"}) == []  # already cited
    assert streak_due(history, bottom - {"2026Q4"}, "2027Q1", set()) == []  # broken
    gap = {q: fact(q) for q in ["2026Q1", "2026Q2", "2026Q4"]}  # 2026Q3 was never ranked
    assert streak_due(gap, set(gap), "2026Q4", set()) == []


def test_quarters() -> None:
    assert previous_quarter("2027Q1") == "2026Q4"
    assert quarter_label("2026Q3") == "2026年第三季度"
    for bad in ("2026Q5", "2026-3", "", "1999Q1"):
        with pytest.raises(Refusal):
            previous_quarter(bad)
