"""The tally against a brute-force count; rounding; small-group pooling; the admonishment flag."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from meeting_given import RULES, SUBJECTS, with_rules

from meetings.domain.rules import SCALE_CHENZHI, Criterion, one_scale
from meetings.domain.tally import (
    CountedBallot,
    display_decimal,
    display_percent,
    group_categories,
    percent_tenths,
    tally,
)

CATEGORIES = ["party_member", "representative", "guest"]
GRADES = ["hao", "jiaohao", "yiban", "cha"]
POINTS = {"hao": 100, "jiaohao": 80, "yiban": 60, "cha": 0}
WEIGHTS = {"party_member": 2, "representative": 1, "guest": 1}
CRITERIA = ["sixiang_jianshe", "gongzuo_jixiao"]

ballot_strategy = st.tuples(
    st.sampled_from(CATEGORIES),
    st.fixed_dictionaries({s.subject_id: st.fixed_dictionaries({c: st.sampled_from(GRADES) for c in CRITERIA}) for s in SUBJECTS}),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(ballot_strategy, max_size=40), st.integers(min_value=0, max_value=60))
def test_tally_equals_a_brute_force_count(raw: list[tuple[str, dict]], extra_eligible: int) -> None:
    rules = with_rules(min_group_size=1)
    eligible = len(raw) + extra_eligible
    results = tally(rules=rules, subjects=SUBJECTS, ballots=[CountedBallot(category=c, marks=m) for c, m in raw], eligible=eligible)
    assert results.ballots_counted == len(raw)
    assert results.participation_rate == (Fraction(len(raw), eligible) if eligible else None)
    for subject, result in zip(SUBJECTS, results.subjects, strict=True):
        sid = subject.subject_id
        # Independent count: one pass per (category, criterion, grade).
        for category in CATEGORIES:
            mine = [m for c, m in raw if c == category]
            groups = [g for g in result.groups if g.group_id == category]
            if not mine:
                assert groups == []
                continue
            [group] = groups
            assert group.ballots == len(mine)
            for criterion in CRITERIA:
                for grade in GRADES:
                    assert group.counts[criterion][grade] == len([m for m in mine if m[sid][criterion] == grade])
        marks_made = [m[sid][criterion] for _, m in raw for criterion in CRITERIA]
        if not raw:
            assert result.favourable_rate is None and result.score is None and not result.flagged
            continue
        favourable = Fraction(len([g for g in marks_made if g in ("hao", "jiaohao")]), len(marks_made))
        unfavourable = Fraction(marks_made.count("cha"), len(marks_made))
        assert result.favourable_rate == favourable
        assert result.unfavourable_rate == unfavourable
        assert result.grade_rates["yiban"] == Fraction(marks_made.count("yiban"), len(marks_made))
        assert result.flagged == (unfavourable * 10 >= 3)
        numerator = Fraction(0)
        weight_total = 0
        for category in CATEGORIES:
            points = [POINTS[m[sid][criterion]] for c, m in raw if c == category for criterion in CRITERIA]
            if points:
                numerator += WEIGHTS[category] * Fraction(sum(points), len(points))
                weight_total += WEIGHTS[category]
        assert result.score == numerator / weight_total


@pytest.mark.parametrize(
    ("rate", "shown"),
    [
        (Fraction(0), "0.0%"),
        (Fraction(1), "100.0%"),
        (Fraction(1, 3), "33.3%"),
        (Fraction(2, 3), "66.7%"),
        (Fraction(1, 8), "12.5%"),
        (Fraction(1, 16), "6.3%"),  # 6.25 -> half up
        (Fraction(3, 1600), "0.2%"),  # 0.1875
        (Fraction(1, 2000), "0.1%"),  # exactly 0.05 -> half up
        (Fraction(1, 2001), "0.0%"),  # just under 0.05
        (Fraction(2999, 10000), "30.0%"),  # 29.99 shows as 30.0% but is below a 30% threshold
        (None, "—"),
    ],
)
def test_display_percent_rounds_half_up_to_one_decimal(rate: Fraction | None, shown: str) -> None:
    assert display_percent(rate) == shown


def test_integer_and_score_forms() -> None:
    assert percent_tenths(Fraction(1, 3)) == 333
    assert display_decimal(Fraction(260, 3)) == "86.7"
    assert display_decimal(Fraction(1705, 20)) == "85.3"  # 85.25
    with pytest.raises(ValueError):
        percent_tenths(Fraction(-1, 2))


@pytest.mark.parametrize(
    ("counts", "groups"),
    [
        ({"party_member": 10, "representative": 6, "guest": 5}, [("party_member", ("party_member",)), ("representative", ("representative",)), ("guest", ("guest",))]),
        # 3 guests alone would be identifiable, and total minus the others would show them:
        # they are pooled with the smallest named group.
        ({"party_member": 10, "representative": 6, "guest": 3}, [("party_member", ("party_member",)), ("other", ("representative", "guest"))]),
        # two small categories together reach the minimum: pooled as "other".
        ({"party_member": 10, "representative": 2, "guest": 3}, [("party_member", ("party_member",)), ("other", ("representative", "guest"))]),
        ({"party_member": 10, "representative": 0, "guest": 5}, [("party_member", ("party_member",)), ("guest", ("guest",))]),
        ({"party_member": 2, "representative": 1, "guest": 1}, [("other", ("party_member", "representative", "guest"))]),
        ({}, []),
    ],
)
def test_small_categories_are_pooled(counts: dict[str, int], groups: list) -> None:
    assert group_categories(with_rules(min_group_size=5), counts, CATEGORIES) == groups


def test_pooling_reaches_the_published_counts_and_score() -> None:
    rules = with_rules(min_group_size=5)
    ballots = (
        [CountedBallot("party_member", {"zhibu": {"sixiang_jianshe": "hao", "gongzuo_jixiao": "hao"}, "wang": {"sixiang_jianshe": "hao", "gongzuo_jixiao": "hao"}})] * 10
        + [CountedBallot("representative", {"zhibu": {"sixiang_jianshe": "cha", "gongzuo_jixiao": "cha"}, "wang": {"sixiang_jianshe": "cha", "gongzuo_jixiao": "cha"}})] * 6
        + [CountedBallot("guest", {"zhibu": {"sixiang_jianshe": "yiban", "gongzuo_jixiao": "yiban"}, "wang": {"sixiang_jianshe": "yiban", "gongzuo_jixiao": "yiban"}})] * 3
    )
    [zhibu, _] = tally(rules=rules, subjects=SUBJECTS, ballots=ballots, eligible=20).subjects
    other = zhibu.groups[1]
    assert (other.group_id, other.ballots, other.counts["sixiang_jianshe"]["yiban"], other.counts["sixiang_jianshe"]["cha"]) == ("other", 9, 3, 6)
    # Score over published groups: party (weight 2) mean 100; other (weight 1+1) mean (3*60)/9 = 20.
    assert zhibu.score == Fraction(2 * 100 + 2 * 20, 4)


def test_subjects_at_or_above_the_unfavourable_threshold_are_flagged() -> None:
    rules = with_rules(scales=one_scale(SCALE_CHENZHI), criteria=(Criterion("zongti", "总体评价"),), min_group_size=1)

    def ballots(bad: int, total: int) -> list[CountedBallot]:
        return [
            CountedBallot("party_member", {s.subject_id: {"zongti": "bu_chenzhi" if i < bad else "chenzhi"} for s in SUBJECTS})
            for i in range(total)
        ]

    exactly = tally(rules=rules, subjects=SUBJECTS, ballots=ballots(3, 10), eligible=10)
    assert exactly.subjects[0].unfavourable_rate == Fraction(3, 10) and exactly.subjects[0].flagged
    assert exactly.flagged_subjects == ["zhibu", "wang"]
    assert exactly.subjects[0].grade_rates["chenzhi"] == Fraction(7, 10)  # 称职率
    below = tally(rules=rules, subjects=SUBJECTS, ballots=ballots(299, 1000), eligible=1000)
    assert not below.subjects[0].flagged and display_percent(below.subjects[0].unfavourable_rate) == "29.9%"
    assert RULES.admonish_threshold == Fraction(3, 10)
