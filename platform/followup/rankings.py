"""Quarterly scores and rankings (打分排队) and the 软弱涣散 rule: events and plain-Python aggregates.

Seed 002: each quarter the township scores its villages' Party-building
work; villages ranked in the bottom three three times running are listed as
weak and lax Party organizations (软弱涣散村党组织) for rectification.

Streams:
- `scoring-criteria`: the criteria the county configures (ScoringCriteriaSet,
  each a new numbered version; a quarter is scored by the version in force);
- `quarter-<township_id>-<quarter>`: one township's scores of one quarter
  (QuarterScoresRecorded), recorded once with the ranking it produced, so
  the log says what every later consequence was based on;
- `weak-<village_id>`: the village's 软弱涣散 listings (WeakOrganizationListed),
  each with the three rankings that caused it.

The rules, stated once (TIE_RULE, BOTTOM_RULE, WEAK_RULE) and shown on the pages.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from common.refusal import Conflict, Refusal
from events.types import DomainEvent, event_type

CRITERIA_STREAM = "scoring-criteria"
MAX_CRITERIA = 12
MAX_CRITERION_NAME = 40
MAX_POINTS = 100
MIN_RANKED_FOR_BOTTOM = 4  # with three villages or fewer every village would be "bottom three"
STREAK = 3
_NAMESPACE = uuid.UUID("5b0f4a61-8f0e-4c7e-9d55-3a1b8e2c7d90")

TIE_RULE = "得分相同者名次并列，其后的名次顺延跳过（例如 1、1、3）。"
BOTTOM_RULE = (f"倒数名次按同样规则从低分算起；倒数第一至第三名（含并列）为“后三名”，但名列第一（含并列第一）的村不计入；"
               f"乡镇参加排队的村少于{MIN_RANKED_FOR_BOTTOM}个时不认定后三名。")
WEAK_RULE = ("乡镇党委每季度对村党建工作打分排队，连续三个季度排在本乡镇后三名的村党组织，"
             "列入软弱涣散村党组织，进行集中整顿；已用于一次认定的季度不再重复计算。")
_QUARTER = re.compile(r"(20[0-9]{2})Q([1-4])")


def quarter_parts(quarter: str) -> tuple[int, int]:
    """(year, 1..4) of a quarter written like 2026Q3; a Refusal for anything else."""
    matched = _QUARTER.fullmatch(quarter or "")
    if matched is None:
        raise Refusal("季度格式应为 年份Q季度，例如 2026Q3", "a quarter is written like 2026Q3", code="bad_quarter",
                      details={"field": "quarter"})
    return int(matched.group(1)), int(matched.group(2))


def previous_quarter(quarter: str) -> str:
    year, q = quarter_parts(quarter)
    return f"{year - 1}Q4" if q == 1 else f"{year}Q{q - 1}"


def quarter_label(quarter: str) -> str:
    year, q = quarter_parts(quarter)
    return f"{year}年第{'一二三四'[q - 1]}季度"


def quarter_stream(township_id: int, quarter: str) -> str:
    return f"quarter-{township_id}-{quarter}"


def weak_stream(village_id: int) -> str:
    return f"weak-{village_id}"


def weak_command_id(village_id: int, quarter: str, what: str) -> str:
    """Derived from the village and the quarter, so that the rule applied twice records once."""
    return str(uuid.uuid5(_NAMESPACE, f"{what}\x1f{village_id}\x1f{quarter}"))


@dataclass(frozen=True)
class Ranked:
    rank: int  # 1 + villages scoring more (ties share a rank, the next one skips: 1, 1, 3)
    rank_from_bottom: int  # 1 + villages scoring less, by the same rule
    bottom_three: bool  # rank_from_bottom <= 3, never a village in first place (80, 80, 70, 50: not the 80s)


def rank_totals(totals: dict[int, int]) -> dict[int, Ranked]:
    """Competition ranking of totals by key, from the top and from the bottom (TIE_RULE, BOTTOM_RULE)."""
    values = list(totals.values())
    counted = len(values) >= MIN_RANKED_FOR_BOTTOM
    ranked = {}
    for key, total in totals.items():
        rank, from_bottom = 1 + sum(1 for v in values if v > total), 1 + sum(1 for v in values if v < total)
        ranked[key] = Ranked(rank, from_bottom, counted and from_bottom <= 3 and rank > 1)
    return ranked


# -- events --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoringCriterion:
    name: str  # e.g. 组织建设
    max_points: int


@event_type(version=1)
@dataclass(frozen=True)
class ScoringCriteriaSet(DomainEvent):
    """The county set the criteria of the quarterly scoring (version 1, 2, ...; the newest is in force)."""

    criteria_version: int
    criteria: list[ScoringCriterion]
    reason: str
    set_by: str


@dataclass(frozen=True)
class VillageQuarterScore:
    village_id: int
    village: str
    points: list[int]  # one per criterion, in the criteria's order
    total: int
    rank: int
    rank_from_bottom: int
    bottom_three: bool


@event_type(version=1)
@dataclass(frozen=True)
class QuarterScoresRecorded(DomainEvent):
    """A township scored its villages for a quarter; the ranking it produced is part of the fact."""

    township_id: int
    township: str
    quarter: str
    criteria_version: int
    criteria: list[ScoringCriterion]
    villages: list[VillageQuarterScore]
    tie_rule: str
    recorded_by: str


@dataclass(frozen=True)
class RankingFact:
    """One quarterly ranking of a village, as recorded: what a listing cites."""

    quarter: str
    rank: int
    rank_from_bottom: int
    villages_ranked: int
    total: int


@event_type(version=1)
@dataclass(frozen=True)
class WeakOrganizationListed(DomainEvent):
    """By the rule (WEAK_RULE): the village's Party organization listed as 软弱涣散, with the rankings that caused it."""

    village_id: int
    village: str
    township_id: int
    township: str
    quarter: str  # the quarter whose ranking completed the streak
    rankings: list[RankingFact]
    rule: str
    item_id: str  # the rectification item opened in the ledger for it


# -- aggregates ----------------------------------------------------------------------------------------


@dataclass
class Criteria:
    criteria_version: int = 0
    criteria: list[ScoringCriterion] = field(default_factory=list)
    version: int = 0

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        if isinstance(event, ScoringCriteriaSet):
            self.criteria_version, self.criteria = event.criteria_version, list(event.criteria)

    def set_criteria(self, *, criteria: list[tuple[str, int]], reason: str, by: str) -> list[DomainEvent]:
        if not criteria:
            raise Refusal("请至少设置一项评分标准", "at least one criterion", code="criteria_required",
                          details={"field": "criteria"})
        if len(criteria) > MAX_CRITERIA:
            raise Refusal(f"评分标准最多{MAX_CRITERIA}项", f"at most {MAX_CRITERIA} criteria", code="too_many_criteria",
                          details={"field": "criteria"})
        cleaned = []
        for name, points in criteria:
            name = name.strip()
            if not name or len(name) > MAX_CRITERION_NAME:
                raise Refusal(f"每项评分标准须有名称（最多{MAX_CRITERION_NAME}字）", "each criterion needs a short name",
                              code="criterion_name", details={"field": "criteria"})
            if not 1 <= points <= MAX_POINTS:
                raise Refusal(f"每项满分应在1到{MAX_POINTS}分之间", f"full marks are 1 to {MAX_POINTS}",
                              code="criterion_points", details={"field": "criteria"})
            cleaned.append(ScoringCriterion(name=name, max_points=points))
        if len({c.name for c in cleaned}) != len(cleaned):
            raise Refusal("评分标准名称不能重复", "criterion names repeat", code="criterion_repeated",
                          details={"field": "criteria"})
        if cleaned == self.criteria:
            raise Conflict("评分标准没有变化", "the criteria are unchanged", code="criteria_unchanged")
        if len(reason) > 500:
            raise Refusal("说明过长（最多500字）", "the reason is too long", code="too_long", details={"field": "reason"})
        return [ScoringCriteriaSet(criteria_version=self.criteria_version + 1, criteria=cleaned, reason=reason.strip(),
                                   set_by=by)]


@dataclass
class QuarterScores:
    recorded: bool = False
    version: int = 0

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        if isinstance(event, QuarterScoresRecorded):
            self.recorded = True

    def record(
        self, *, township_id: int, township: str, quarter: str, criteria: Criteria,
        villages: list[tuple[int, str]], points: dict[int, list[int]], by: str,
    ) -> list[DomainEvent]:
        """Record the township's scores of the quarter: every village, every criterion, within full marks."""
        quarter_parts(quarter)
        if self.recorded:
            raise Conflict(f"{township}{quarter_label(quarter)}的打分已经录入，不能修改", "this quarter is already scored",
                           code="quarter_already_scored")
        if not criteria.criteria_version:
            raise Conflict("县委组织部尚未设置评分标准", "the county has not set the criteria", code="no_criteria")
        if not villages:
            raise Refusal("该乡镇没有村（社区）", "the township has no villages", code="no_villages")
        known = {vid for vid, _ in villages}
        if set(points) - known:
            raise Refusal("打分中有不属于该乡镇的村", "a scored village is not in the township", code="unknown_village",
                          details={"field": "points"})
        for vid, name in villages:
            marks = points.get(vid)
            if marks is None or len(marks) != len(criteria.criteria):
                raise Refusal(f"请为{name}的每一项评分标准打分", f"score every criterion of village {vid}",
                              code="scores_incomplete", details={"field": f"v{vid}"})
            for mark, criterion in zip(marks, criteria.criteria, strict=True):
                if not 0 <= mark <= criterion.max_points:
                    raise Refusal(f"{name}的“{criterion.name}”得分应在0到{criterion.max_points}分之间",
                                  "a score is outside 0..full marks", code="score_out_of_range",
                                  details={"field": f"v{vid}"})
        totals = {vid: sum(points[vid]) for vid, _ in villages}
        ranked = rank_totals(totals)
        scored = [
            VillageQuarterScore(village_id=vid, village=name, points=list(points[vid]), total=totals[vid],
                                rank=ranked[vid].rank, rank_from_bottom=ranked[vid].rank_from_bottom,
                                bottom_three=ranked[vid].bottom_three)
            for vid, name in sorted(villages, key=lambda v: (ranked[v[0]].rank, v[1], v[0]))
        ]
        return [QuarterScoresRecorded(township_id=township_id, township=township, quarter=quarter,
                                      criteria_version=criteria.criteria_version, criteria=list(criteria.criteria),
                                      villages=scored, tie_rule=TIE_RULE, recorded_by=by)]


def streak_due(history: dict[str, RankingFact | None], bottom: set[str], quarter: str, used: set[str]) -> list[str]:
    """The quarters of a streak completed at `quarter`, or [] when the rule does not apply (WEAK_RULE).

    `history` maps quarters to the village's ranking in them (None: the
    township recorded no ranking), `bottom` names the quarters it was in the
    bottom three, `used` those already cited by an earlier listing.
    """
    streak = [quarter]
    while len(streak) < STREAK:
        streak.append(previous_quarter(streak[-1]))
    if all(q in bottom and history.get(q) is not None and q not in used for q in streak):
        return sorted(streak)
    return []


@dataclass
class WeakListings:
    """A village's 软弱涣散 listings: which quarters each one cited."""

    used: set[str] = field(default_factory=set)
    listed: set[str] = field(default_factory=set)
    version: int = 0

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        if isinstance(event, WeakOrganizationListed):
            self.listed.add(event.quarter)
            self.used.update(r.quarter for r in event.rankings)

    def list_weak(
        self, *, village_id: int, village: str, township_id: int, township: str, quarter: str,
        history: dict[str, RankingFact | None], bottom: set[str], item_id: str,
    ) -> list[DomainEvent]:
        quarter_parts(quarter)
        due = streak_due(history, bottom, quarter, self.used)
        if not due:
            raise Conflict("该村不符合连续三个季度排在后三名的认定规则", "the rule does not apply to this village now",
                           code="rule_not_met")
        facts = [history[q] for q in due]
        return [WeakOrganizationListed(village_id=village_id, village=village, township_id=township_id,
                                       township=township, quarter=quarter, rankings=[f for f in facts if f],
                                       rule=WEAK_RULE, item_id=item_id)]
