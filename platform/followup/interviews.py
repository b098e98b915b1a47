"""Interviews (诫勉谈话 / 约谈) after a meeting: events and the plain-Python aggregate.

An interview is opened by the rule, never by hand: a subject whose
unfavourable rate reached the round's admonishment threshold is flagged in
the announced results, and the sweeper (followup.ledger_sweeps) opens one
interview per flagged subject of a meeting. The county then records who held
it, when, what was said, and the subject's written rectification plan with
its deadline. One stream per interview: `interview-<interview_id>`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from common.refusal import Conflict, NotFound, Refusal
from events.types import DomainEvent, event_type

KINDS = {"admonishment": "诫勉谈话", "summons": "约谈"}
DAYS_TO_HOLD = 30  # an opened interview is due within this many days of the announcement
MAX_TEXT = 4000
MAX_NAME = 100
_NAMESPACE = uuid.UUID("6f1f6a52-49b4-4c8e-9b7b-0d3d8b6c1a14")


def interview_id_of(meeting_id: str, subject_id: str) -> str:
    """The interview's id follows from the meeting and the subject: one interview per flagged subject."""
    return "iv" + uuid.uuid5(_NAMESPACE, f"{meeting_id}\x1f{subject_id}").hex[:16]


def open_command_id(meeting_id: str, subject_id: str) -> str:
    """The opening command's id, derived from the fact: a sweep run twice records once."""
    return str(uuid.uuid5(_NAMESPACE, f"open-interview\x1f{meeting_id}\x1f{subject_id}"))


def interview_stream(interview_id: str) -> str:
    return f"interview-{interview_id}"


@event_type(version=1)
@dataclass(frozen=True)
class InterviewOpened(DomainEvent):
    """A flagged subject of announced results is due an interview (opened by the rule)."""

    interview_id: str
    meeting_id: str
    subject_id: str
    subject_name: str
    township: str
    village: str
    unfavourable_percent: str
    kind: str
    opened_on: str  # ISO date of the announcement
    due_on: str  # ISO date by which it should be held


@event_type(version=1)
@dataclass(frozen=True)
class InterviewHeld(DomainEvent):
    interview_id: str
    kind: str
    interviewer: str
    held_on: str
    record: str
    recorded_by: str


@event_type(version=1)
@dataclass(frozen=True)
class RectificationPlanFiled(DomainEvent):
    """The subject's written rectification plan (整改方案) and the date it is to be done by."""

    interview_id: str
    plan: str
    deadline: str
    recorded_by: str


@dataclass
class Interview:
    interview_id: str = ""
    opened_on: date | None = None
    held_on: date | None = None
    planned: bool = False
    version: int = 0

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        if isinstance(event, InterviewOpened):
            self.interview_id = event.interview_id
            self.opened_on = date.fromisoformat(event.opened_on)
        elif isinstance(event, InterviewHeld):
            self.held_on = date.fromisoformat(event.held_on)
        elif isinstance(event, RectificationPlanFiled):
            self.planned = True

    def open(
        self, *, meeting_id: str, subject_id: str, subject_name: str, township: str, village: str,
        unfavourable_percent: str, announced_on: date,
    ) -> list[DomainEvent]:
        if self.version:
            raise Conflict("该对象的约谈已经开启", "this subject's interview is already open", code="interview_exists")
        return [InterviewOpened(
            interview_id=interview_id_of(meeting_id, subject_id), meeting_id=meeting_id, subject_id=subject_id,
            subject_name=subject_name, township=township, village=village,
            unfavourable_percent=unfavourable_percent, kind="admonishment", opened_on=announced_on.isoformat(),
            due_on=(announced_on + timedelta(days=DAYS_TO_HOLD)).isoformat(),
        )]

    def hold(self, *, kind: str, interviewer: str, held_on: date, record: str, by: str) -> list[DomainEvent]:
        self._require_open()
        if kind not in KINDS:
            raise Refusal("谈话类型只能是诫勉谈话或约谈", "the kind is admonishment or summons", code="unknown_kind")
        if self.held_on is not None:
            raise Conflict("这次谈话已经记录过了", "this interview is already recorded", code="interview_held")
        _text(interviewer, "谈话人", "interviewer", MAX_NAME)
        _text(record, "谈话记录", "record", MAX_TEXT)
        assert self.opened_on is not None
        if held_on < self.opened_on:
            raise Refusal("谈话日期不能早于结果公布日期", "the interview cannot precede the results",
                          code="held_before_results")
        return [InterviewHeld(interview_id=self.interview_id, kind=kind, interviewer=interviewer.strip(),
                              held_on=held_on.isoformat(), record=record.strip(), recorded_by=by)]

    def file_plan(self, *, plan: str, deadline: date | None, by: str) -> list[DomainEvent]:
        self._require_open()
        if self.held_on is None:
            raise Conflict("请先记录谈话，再登记整改方案", "record the interview before its plan", code="interview_not_held")
        if self.planned:
            raise Conflict("整改方案已经登记过了", "the plan is already filed", code="plan_filed")
        _text(plan, "书面整改方案", "plan", MAX_TEXT)
        if deadline is None:
            raise Refusal("整改方案须有完成时限", "a rectification plan needs a deadline", code="deadline_required")
        if deadline < self.held_on:
            raise Refusal("整改时限不能早于谈话日期", "the deadline cannot precede the interview", code="deadline_past")
        return [RectificationPlanFiled(interview_id=self.interview_id, plan=plan.strip(),
                                       deadline=deadline.isoformat(), recorded_by=by)]

    def _require_open(self) -> None:
        if not self.version:
            raise NotFound("找不到该约谈", "no such interview", code="unknown_interview")


def _text(value: str, zh: str, en: str, limit: int) -> None:
    if not value.strip():
        raise Refusal(f"请填写{zh}", f"the {en} is required", code=f"{en}_required")
    if len(value) > limit:
        raise Refusal(f"{zh}过长（最多{limit}字）", f"the {en} is too long (at most {limit})", code="too_long")
