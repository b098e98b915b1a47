"""What the results say about themselves: group names, merge notes, the score's formula, participation.

Plain Python, no Django. The tally (meetings.domain.tally) decides the
groups; this module words them, in Chinese first and English second, so that
the hall screen, the API, the workspace and the workbook say the same thing.

* A group of one category is that category's evaluation (党员评议,
  村民代表评议). A pooled group ("other") lists its categories.
* A pooled group says why it exists: which categories had fewer ballots than
  the minimum group size (never how many: that is what pooling hides) and
  into which category they were merged.
* Participation (参评率) has one definition everywhere: ballots counted ÷
  eligible voters, eligible = roster members of the grading categories +
  checked-in attendees not on the roster (meetings.domain.voting
  `eligible_voters`). Its label is PARTICIPATION_RULE_ZH / _EN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from meetings.domain.rules import Rules, Scale, category_name_zh

OTHER = "other"

CATEGORY_NAMES_EN = {
    "party_member": "Party members",
    "representative": "village representatives",
    "guest": "invited guests",
    "village_secretary": "village Party secretaries",
    "township_member": "township committee members",
    "resident": "residents",
}

PARTICIPATION_RULE_ZH = "参评率＝收回票数÷应参评人数"
PARTICIPATION_RULE_EN = "Participation = ballots counted ÷ eligible voters"
ELIGIBLE_RULE_ZH = "应参评人数＝名册中参加测评类别的人数＋到会的名册外列席人员"
ELIGIBLE_RULE_EN = "eligible voters = roster members of the grading categories + checked-in attendees not on the roster"


# What the seeds call a scale's favourable and unfavourable rates (the hall's results.js says the same).
RATE_NAMES = {
    "hao_jiaohao_yiban_cha": (("好评率", "favourable rate"), ("差评率", "poor rate")),
    "chenzhi": (("称职率", "competent rate"), ("不称职率", "incompetent rate")),
    "manyi": (("满意率", "satisfied rate"), ("不满意率", "dissatisfied rate")),
}


def rate_names(scale_id: str) -> tuple[tuple[str, str], tuple[str, str]]:
    return RATE_NAMES.get(scale_id, (("好评率", "favourable rate"), ("差评率", "unfavourable rate")))


def category_name_en(category: str) -> str:
    return CATEGORY_NAMES_EN.get(category, category)


def _names_zh(categories: tuple[str, ...] | list[str]) -> str:
    return "、".join(category_name_zh(c) for c in categories)


def _names_en(categories: tuple[str, ...] | list[str]) -> str:
    names = [category_name_en(c) for c in categories]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def group_label(group_id: str, categories: tuple[str, ...] | list[str]) -> tuple[str, str]:
    """The heading of a group: 党员评议 / Party members' evaluation; 合并评议（党员、村民代表） for a pool."""
    if group_id != OTHER and len(categories) == 1:
        name_en = category_name_en(categories[0])
        return f"{category_name_zh(categories[0])}评议", f"Evaluation by {name_en}"
    return f"合并评议（{_names_zh(categories)}）", f"Pooled evaluation ({_names_en(categories)})"


def pooled_small(rules: Rules, ballots_per_category: Mapping[str, int], graders: tuple[str, ...]) -> tuple[str, ...]:
    """The grading categories with ballots but fewer than the minimum group size (the ones pooled)."""
    return tuple(c for c in graders if 0 < ballots_per_category.get(c, 0) < rules.min_group_size)


def merge_note(*, categories: tuple[str, ...] | list[str], small: tuple[str, ...] | list[str],
               min_group_size: int) -> tuple[str, str] | None:
    """Why a group is pooled, e.g. 列席人员不足5人，已并入村民代表合并计票（本组：村民代表、列席人员）; None if it is not."""
    if not small:
        return None
    absorbing = [c for c in categories if c not in small]
    members_zh, members_en = _names_zh(categories), _names_en(categories)
    small_zh, small_en = _names_zh(small), _names_en(small)
    if absorbing:
        return (
            f"{small_zh}不足{min_group_size}人，已并入{_names_zh(absorbing)}合并计票（本组：{members_zh}）",
            f"fewer than {min_group_size} ballots of {small_en}: merged with {_names_en(absorbing)}"
            f" (this group: {members_en})",
        )
    if len(small) == 1:
        return (
            f"{small_zh}不足{min_group_size}人，不单独分组，只列合并结果",
            f"fewer than {min_group_size} ballots of {small_en}: not shown as a group of its own",
        )
    return (
        f"{small_zh}均不足{min_group_size}人，合并计票（本组：{members_zh}）",
        f"fewer than {min_group_size} ballots each of {small_en}: counted together (this group: {members_en})",
    )


@dataclass(frozen=True)
class GroupRates:
    grade_rates: dict[str, Fraction | None]
    favourable_rate: Fraction | None
    unfavourable_rate: Fraction | None


def group_rates(counts: Mapping[str, Mapping[str, int]], scale: Scale) -> GroupRates:
    """A group's rates pooled over all criteria, as the subject's are (meetings.domain.tally)."""
    totals = {g.id: sum(int(per_grade.get(g.id, 0)) for per_grade in counts.values()) for g in scale.grades}
    marks = sum(totals.values())

    def rate(part: int) -> Fraction | None:
        return Fraction(part, marks) if marks else None

    return GroupRates(
        grade_rates={g: rate(n) for g, n in totals.items()},
        favourable_rate=rate(sum(totals[g.id] for g in scale.grades if g.favourable)),
        unfavourable_rate=rate(sum(totals[g.id] for g in scale.grades if g.unfavourable)),
    )


def score_formula(rules: Rules) -> tuple[str, str]:
    """How the score shown next to the rates is computed, in one Chinese and one English sentence."""
    # Every scale of the rules (bodies and persons may be graded on their own)
    scales = rules.distinct_scales()
    points_zh = "；".join("、".join(f"{g.name_zh}{g.points}分" for g in scale.grades) for scale in scales)
    points_en = "; ".join(", ".join(f"{g.name_en} {g.points}" for g in scale.grades) for scale in scales)
    graders = []
    for categories in rules.graders.values():
        graders += [c for c in categories if c not in graders]
    weights_zh = "、".join(f"{category_name_zh(c)}{rules.weight(c)}" for c in graders)
    weights_en = ", ".join(f"{category_name_en(c)} {rules.weight(c)}" for c in graders)
    return (
        f"得分＝Σ（组权重×组平均分）÷Σ组权重；组平均分＝该组评价分值之和÷评价次数（{points_zh}）；"
        f"权重：{weights_zh}（合并组取其各类别权重之和）",
        f"Score = Σ(group weight × group mean) ÷ Σ group weights; group mean = the group's points ÷ its marks"
        f" ({points_en}); weights: {weights_en} (a pooled group: the sum of its categories' weights)",
    )
