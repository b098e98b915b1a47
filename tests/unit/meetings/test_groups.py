"""How results speak of their groups: the 双评 split's headings, why a group was pooled, group rates, the score."""

from __future__ import annotations

from fractions import Fraction

from meeting_given import SUBJECTS, marks, with_rules

from meetings.domain.groups import group_label, group_rates, merge_note, score_formula
from meetings.domain.tally import OTHER, CountedBallot, tally


def groups_of(per_category: dict[str, int], *, grade: str = "hao") -> list:
    """The groups of the first subject after `per_category` ballots, with the minimum group size 5."""
    rules = with_rules(min_group_size=5)
    ballots = [CountedBallot(category, marks(grade)) for category, n in per_category.items() for _ in range(n)]
    return list(tally(rules=rules, subjects=SUBJECTS, ballots=ballots, eligible=50).subjects[0].groups)


def note_of(group: object) -> tuple[str, str] | None:
    return merge_note(categories=group.categories, small=group.pooled, min_group_size=5)  # type: ignore[attr-defined]


def test_groups_large_enough_stand_alone_under_their_own_headings() -> None:
    party, reps = groups_of({"party_member": 6, "representative": 5})
    assert (party.group_id, party.pooled, reps.group_id, reps.pooled) == ("party_member", (), "representative", ())
    assert group_label(party.group_id, party.categories)[0] == "党员评议"
    assert group_label(reps.group_id, reps.categories) == ("村民代表评议", "Evaluation by village representatives")
    assert note_of(party) is None and note_of(reps) is None


def test_a_small_category_is_merged_into_the_smallest_group_and_the_note_says_so() -> None:
    party, merged = groups_of({"party_member": 6, "representative": 5, "guest": 2})
    assert party.group_id == "party_member"
    assert (merged.group_id, merged.categories, merged.pooled) == (OTHER, ("representative", "guest"), ("guest",))
    assert group_label(merged.group_id, merged.categories)[0] == "合并评议（村民代表、列席人员）"
    zh, en = note_of(merged)  # type: ignore[misc]
    assert zh == "列席人员不足5人，已并入村民代表合并计票（本组：村民代表、列席人员）"
    assert en == ("fewer than 5 ballots of invited guests: merged with village representatives"
                  " (this group: village representatives and invited guests)")
    assert "2" not in zh + en  # the note never says how many: that is what pooling hides


def test_small_categories_large_enough_together_are_counted_together() -> None:
    party, merged = groups_of({"party_member": 6, "representative": 3, "guest": 3})
    assert merged.pooled == ("representative", "guest") and party.pooled == ()
    assert note_of(merged)[0] == "村民代表、列席人员均不足5人，合并计票（本组：村民代表、列席人员）"  # type: ignore[index]


def test_a_lone_small_category_is_not_shown_as_a_group_of_its_own() -> None:
    [only] = groups_of({"representative": 3})
    assert (only.group_id, only.pooled) == (OTHER, ("representative",))
    assert note_of(only)[0] == "村民代表不足5人，不单独分组，只列合并结果"  # type: ignore[index]


def test_a_groups_rates_pool_its_criteria_like_the_subjects() -> None:
    rules = with_rules()
    counts = {"sixiang_jianshe": {"hao": 3, "jiaohao": 1, "yiban": 0, "cha": 1},
              "gongzuo_jixiao": {"hao": 1, "jiaohao": 1, "yiban": 1, "cha": 2}}
    rates = group_rates(counts, rules.scale_for("body"))
    assert rates.favourable_rate == Fraction(6, 10)
    assert rates.unfavourable_rate == Fraction(3, 10)
    assert rates.grade_rates == {"hao": Fraction(4, 10), "jiaohao": Fraction(2, 10), "yiban": Fraction(1, 10),
                                 "cha": Fraction(3, 10)}
    assert group_rates({}, rules.scale_for("body")).favourable_rate is None


def test_the_score_formula_names_the_points_and_weights_of_the_rules() -> None:
    zh, en = score_formula(with_rules())
    assert zh.startswith("得分＝Σ（组权重×组平均分）÷Σ组权重")
    assert "好100分、较好80分、一般60分、差0分" in zh and "党员2、村民代表1、列席人员1" in zh
    assert en.startswith("Score = Σ(group weight × group mean) ÷ Σ group weights") and "Party members 2" in en
