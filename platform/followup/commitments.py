"""Two-way commitments (双向承诺): events and the plain-Python aggregate of one commitment.

Seed 002: the township's members linked with a village each sign a service
commitment to that village's Party branch (township_to_village), and the
village's Party secretary signs a commitment to the township Party committee
(village_to_township); both keep a progress ledger with a task every month
and a goal every quarter; the township scores fulfilment every quarter; and
both directions are public (双向公开).

A commitment is recorded as signed and never edited: a change is a new
numbered version (CommitmentAmended) with its reason, and every version stays
visible. One stream per commitment, `commitment-<commitment_id>`; the id
follows from (direction, official, village, year), so the same commitment
cannot be signed twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from common.refusal import Conflict, NotFound, Refusal
from events.types import DomainEvent, event_type

DIRECTIONS = {
    "township_to_village": "乡镇班子成员向联系村承诺",
    "village_to_township": "村党组织书记向乡镇党委承诺",
}
MAX_TASK = 300
MAX_TEXT = 2000
MAX_NOTE = 500
MAX_SCORE = 100
_NAMESPACE = uuid.UUID("9e3c2b7a-41d6-4f1e-8a0b-6c5d4e3f2a19")


def commitment_id_of(*, direction: str, official_id: str, village_id: int, year: int) -> str:
    return "cm" + uuid.uuid5(_NAMESPACE, f"{direction}\x1f{official_id}\x1f{village_id}\x1f{year}").hex[:12]


def commitment_stream(commitment_id: str) -> str:
    return f"commitment-{commitment_id}"


@dataclass(frozen=True)
class MonthlyTask:
    month: int  # 1..12
    text: str


@dataclass(frozen=True)
class QuarterlyGoal:
    quarter: int  # 1..4
    text: str


@event_type(version=1)
@dataclass(frozen=True)
class CommitmentSigned(DomainEvent):
    """A commitment signed for a year (version 1), with a task for every month and a goal for every quarter."""

    commitment_id: str
    direction: str
    official_id: str
    official_name: str
    post: str
    township_id: int
    township: str
    village_id: int
    village: str
    year: int
    tasks: list[MonthlyTask]
    goals: list[QuarterlyGoal]
    signed_on: str
    recorded_by: str


@event_type(version=1)
@dataclass(frozen=True)
class CommitmentAmended(DomainEvent):
    """A new version of a signed commitment (2, 3, ...), with the reason; earlier versions stay as they were."""

    commitment_id: str
    version_no: int
    tasks: list[MonthlyTask]
    goals: list[QuarterlyGoal]
    reason: str
    amended_on: str
    recorded_by: str


@event_type(version=1)
@dataclass(frozen=True)
class CommitmentProgressReported(DomainEvent):
    """Progress on a month's task, with the evidence (what was done, where it can be checked)."""

    commitment_id: str
    report_no: int
    month: int
    text: str
    evidence: str
    reported_on: str
    reported_by: str


@event_type(version=1)
@dataclass(frozen=True)
class CommitmentQuarterScored(DomainEvent):
    """The township scored the commitment's fulfilment in a quarter (0..100), once."""

    commitment_id: str
    quarter: int
    score: int
    note: str
    scored_by: str


def _clean(value: str, zh: str, en: str, limit: int, *, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise Refusal(f"请填写{zh}", f"the {en} is required", code=f"{en}_required", details={"field": en})
    if len(text) > limit:
        raise Refusal(f"{zh}过长（最多{limit}字）", f"the {en} is too long (at most {limit})", code="too_long",
                      details={"field": en})
    return text


def plan_of(*, tasks: dict[int, str], goals: dict[int, str]) -> tuple[list[MonthlyTask], list[QuarterlyGoal]]:
    """A task for each of the twelve months and a goal for each of the four quarters (月月有任务、季度有目标)."""
    for month in range(1, 13):
        if not (tasks.get(month) or "").strip():
            raise Refusal(f"请填写{month}月的任务", f"the task of month {month} is required", code="task_required",
                          details={"field": f"task_{month}"})
    for quarter in range(1, 5):
        if not (goals.get(quarter) or "").strip():
            raise Refusal(f"请填写第{quarter}季度的目标", f"the goal of quarter {quarter} is required",
                          code="goal_required", details={"field": f"goal_{quarter}"})
    if set(tasks) - set(range(1, 13)) or set(goals) - set(range(1, 5)):
        raise Refusal("月份为1到12，季度为1到4", "months are 1..12, quarters 1..4", code="bad_period")
    return (
        [MonthlyTask(m, _clean(tasks[m], f"{m}月的任务", "task", MAX_TASK)) for m in range(1, 13)],
        [QuarterlyGoal(q, _clean(goals[q], f"第{q}季度的目标", "goal", MAX_TASK)) for q in range(1, 5)],
    )


@dataclass
class Commitment:
    commitment_id: str = ""
    tasks: list[MonthlyTask] = field(default_factory=list)
    goals: list[QuarterlyGoal] = field(default_factory=list)
    versions: int = 0
    reports: int = 0
    scored: set[int] = field(default_factory=set)
    version: int = 0

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        if isinstance(event, CommitmentSigned):
            self.commitment_id, self.tasks, self.goals, self.versions = (
                event.commitment_id, list(event.tasks), list(event.goals), 1)
        elif isinstance(event, CommitmentAmended):
            self.tasks, self.goals, self.versions = list(event.tasks), list(event.goals), event.version_no
        elif isinstance(event, CommitmentProgressReported):
            self.reports = event.report_no
        elif isinstance(event, CommitmentQuarterScored):
            self.scored.add(event.quarter)

    def sign(
        self, *, commitment_id: str, direction: str, official_id: str, official_name: str, post: str,
        township_id: int, township: str, village_id: int, village: str, year: int,
        tasks: dict[int, str], goals: dict[int, str], on: str, by: str,
    ) -> list[DomainEvent]:
        if self.version:
            raise Conflict("该干部本年度对该村的承诺已经签订；如需变更，请录入修订版本",
                           "this commitment is already signed; amend it instead", code="commitment_exists")
        if direction not in DIRECTIONS:
            raise Refusal("请选择承诺方向", "unknown direction", code="bad_direction", details={"field": "direction"})
        if not 2000 <= year <= 2099:
            raise Refusal("年度应为四位年份", "the year is four digits", code="bad_year", details={"field": "year"})
        monthly, quarterly = plan_of(tasks=tasks, goals=goals)
        return [CommitmentSigned(commitment_id=commitment_id, direction=direction, official_id=official_id,
                                 official_name=official_name, post=post, township_id=township_id, township=township,
                                 village_id=village_id, village=village, year=year, tasks=monthly, goals=quarterly,
                                 signed_on=on, recorded_by=by)]

    def amend(self, *, tasks: dict[int, str], goals: dict[int, str], reason: str, on: str, by: str) -> list[DomainEvent]:
        self._require_signed()
        reason = _clean(reason, "修订理由", "reason", MAX_NOTE)
        monthly, quarterly = plan_of(tasks=tasks, goals=goals)
        if (monthly, quarterly) == (self.tasks, self.goals):
            raise Conflict("修订内容与现行版本相同", "the amendment changes nothing", code="nothing_amended")
        return [CommitmentAmended(commitment_id=self.commitment_id, version_no=self.versions + 1, tasks=monthly,
                                  goals=quarterly, reason=reason, amended_on=on, recorded_by=by)]

    def report(self, *, month: int, text: str, evidence: str, on: str, by: str) -> list[DomainEvent]:
        self._require_signed()
        if not 1 <= month <= 12:
            raise Refusal("月份应为1到12", "the month is 1..12", code="bad_month", details={"field": "month"})
        text = _clean(text, "进展情况", "progress", MAX_TEXT)
        evidence = _clean(evidence, "佐证说明", "evidence", MAX_TEXT)
        return [CommitmentProgressReported(commitment_id=self.commitment_id, report_no=self.reports + 1, month=month,
                                           text=text, evidence=evidence, reported_on=on, reported_by=by)]

    def score(self, *, quarter: int, score: int, note: str, by: str) -> list[DomainEvent]:
        self._require_signed()
        if not 1 <= quarter <= 4:
            raise Refusal("季度应为1到4", "the quarter is 1..4", code="bad_quarter", details={"field": "quarter"})
        if quarter in self.scored:
            raise Conflict(f"第{quarter}季度已经评分", "this quarter is already scored", code="quarter_already_scored")
        if not 0 <= score <= MAX_SCORE:
            raise Refusal(f"兑现评分应在0到{MAX_SCORE}分之间", f"the score is 0..{MAX_SCORE}", code="score_out_of_range",
                          details={"field": "score"})
        note = _clean(note, "评分说明", "note", MAX_NOTE, required=False)
        return [CommitmentQuarterScored(commitment_id=self.commitment_id, quarter=quarter, score=score, note=note,
                                        scored_by=by)]

    def _require_signed(self) -> None:
        if not self.version:
            raise NotFound("找不到该承诺", "no such commitment", code="unknown_commitment")
