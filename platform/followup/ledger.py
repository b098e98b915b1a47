"""The rectification ledger (整改台账): events and the plain-Python aggregate of one item.

An item is a problem raised at or after a meeting (a low grade, an
interview, a deferred question, a comment, an objection: `source_kind` and
`source_ref` say which), with one or more measures, each with an owner and a
deadline. A measure is in progress, done (with evidence: text and files
whose sha256 the event carries) or overdue (recorded by the sweeper when its
deadline passed undone). When every measure is done, the county reviews the
item for closure. One stream per item: `ledger-<item_id>`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from common.refusal import Conflict, NotFound, Refusal
from events.types import DomainEvent, event_type

SOURCE_KINDS = {
    "low_grade": "测评结果差",
    "interview": "诫勉谈话",
    "deferred_question": "会后答复的质询",
    "comment": "点评意见",
    "objection": "公示异议",
    "weak_organization": "软弱涣散村党组织",  # listed by the rule of followup.rankings, not at a meeting
}
RULE_SOURCE_KINDS = frozenset({"weak_organization"})  # raised by a rule's door only, never from the ledger's form
BY_HAND_SOURCE_KINDS = {k: v for k, v in SOURCE_KINDS.items() if k not in RULE_SOURCE_KINDS}
MAX_PROBLEM = 1000
MAX_TEXT = 2000
MAX_NAME = 100
MAX_REF = 100
_NAMESPACE = uuid.UUID("0c7d8f0e-2a53-4d1f-a3c4-5e9b7b1d2f60")


def new_item_id() -> str:
    return "zg" + uuid.uuid4().hex[:12]


def ledger_stream(item_id: str) -> str:
    return f"ledger-{item_id}"


def overdue_command_id(item_id: str, measure_no: int) -> str:
    """Derived from the fact itself, so that the sweeper run twice records once."""
    return str(uuid.uuid5(_NAMESPACE, f"overdue\x1f{item_id}\x1f{measure_no}"))


def summary_sentence(*, problems: int, measures: int, done: int) -> str:
    """The ledger's summary as the counties write it (seed 004)."""
    return f"发现问题{problems}个，制定整改措施{measures}条，已完成{done}条，正在整改{measures - done}条"


@dataclass(frozen=True)
class EvidenceFile:
    sha256: str
    name: str  # as uploaded, for people; the file is stored under its sha256
    content_type: str  # as found in the content, never as the name claims
    size: int


@event_type(version=1)
@dataclass(frozen=True)
class LedgerItemRaised(DomainEvent):
    item_id: str
    source_kind: str
    source_ref: str
    meeting_id: str
    township: str
    village: str
    problem: str
    note: str  # internal: never on the public page
    raised_by: str


@event_type(version=1)
@dataclass(frozen=True)
class MeasureAdded(DomainEvent):
    item_id: str
    measure_no: int
    text: str
    owner: str
    deadline: str


@event_type(version=1)
@dataclass(frozen=True)
class MeasureCompleted(DomainEvent):
    item_id: str
    measure_no: int
    completed_on: str
    evidence: str
    files: list[EvidenceFile]
    completed_by: str


@event_type(version=1)
@dataclass(frozen=True)
class MeasureDeadlinePassed(DomainEvent):
    """The measure's deadline passed and it is not done (recorded once, by the sweeper)."""

    item_id: str
    measure_no: int
    deadline: str


@event_type(version=1)
@dataclass(frozen=True)
class LedgerItemReviewed(DomainEvent):
    """The closure review (销号审核): passed closes the item; not passed keeps it open."""

    item_id: str
    passed: bool
    reviewer: str
    note: str


@dataclass
class Measure:
    deadline: date
    done: bool = False
    overdue: bool = False


@dataclass
class LedgerItem:
    item_id: str = ""
    measures: dict[int, Measure] = field(default_factory=dict)
    closed: bool = False
    version: int = 0

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        if isinstance(event, LedgerItemRaised):
            self.item_id = event.item_id
        elif isinstance(event, MeasureAdded):
            self.measures[event.measure_no] = Measure(date.fromisoformat(event.deadline))
        elif isinstance(event, MeasureCompleted):
            self.measures[event.measure_no].done = True
        elif isinstance(event, MeasureDeadlinePassed):
            self.measures[event.measure_no].overdue = True
        elif isinstance(event, LedgerItemReviewed) and event.passed:
            self.closed = True

    # -- decisions -------------------------------------------------------------------------------

    def raise_item(
        self, *, item_id: str, source_kind: str, source_ref: str, meeting_id: str, township: str, village: str,
        problem: str, note: str, by: str,
    ) -> list[DomainEvent]:
        if self.version:
            raise Conflict("该整改事项已经登记", "this item is already raised", code="item_exists")
        if source_kind not in SOURCE_KINDS:
            raise Refusal("问题来源只能是测评结果、约谈、质询、点评、异议或软弱涣散认定", "unknown source kind",
                          code="unknown_source_kind", details={"field": "source_kind"})
        _text(problem, "问题", "problem", MAX_PROBLEM)
        _text(source_ref, "来源说明", "source_ref", MAX_REF, required=False)
        _text(note, "内部备注", "note", MAX_TEXT, required=False)
        return [LedgerItemRaised(item_id=item_id, source_kind=source_kind, source_ref=source_ref.strip(),
                                 meeting_id=meeting_id, township=township, village=village, problem=problem.strip(),
                                 note=note.strip(), raised_by=by)]

    def add_measure(self, *, text: str, owner: str, deadline: date | None, today: date) -> list[DomainEvent]:
        self._require_open()
        _text(text, "整改措施", "measure", MAX_TEXT)
        _text(owner, "责任人", "owner", MAX_NAME)
        if deadline is None:
            raise Refusal("每条整改措施都须有完成时限", "a measure needs a deadline", code="measure_needs_deadline",
                          details={"field": "deadline"})
        if deadline < today:
            raise Refusal("完成时限不能早于今天", "the deadline is in the past", code="deadline_past",
                          details={"field": "deadline"})
        return [MeasureAdded(item_id=self.item_id, measure_no=len(self.measures) + 1, text=text.strip(),
                             owner=owner.strip(), deadline=deadline.isoformat())]

    def complete_measure(
        self, *, measure_no: int, evidence: str, files: list[EvidenceFile], on: date, by: str,
    ) -> list[DomainEvent]:
        measure = self._measure(measure_no)
        if measure.done:
            raise Conflict("这条措施已经完成", "this measure is already done", code="measure_done")
        _text(evidence, "整改情况说明", "evidence", MAX_TEXT, required=not files)
        return [MeasureCompleted(item_id=self.item_id, measure_no=measure_no, completed_on=on.isoformat(),
                                 evidence=evidence.strip(), files=list(files), completed_by=by)]

    def mark_overdue(self, *, today: date) -> list[DomainEvent]:
        """Every undone measure whose deadline has passed, not yet recorded as overdue (none: nothing to do)."""
        if self.closed:
            return []
        return [MeasureDeadlinePassed(item_id=self.item_id, measure_no=no, deadline=m.deadline.isoformat())
                for no, m in sorted(self.measures.items()) if not m.done and not m.overdue and m.deadline < today]

    def review(self, *, passed: bool, note: str, by: str) -> list[DomainEvent]:
        self._require_open()
        if not self.measures or not all(m.done for m in self.measures.values()):
            raise Conflict("措施全部完成后才能销号审核", "every measure must be done before the closure review",
                           code="measures_not_done")
        _text(note, "审核意见", "review_note", MAX_TEXT, required=not passed)
        return [LedgerItemReviewed(item_id=self.item_id, passed=passed, reviewer=by, note=note.strip())]

    def _require_open(self) -> None:
        if not self.version:
            raise NotFound("找不到该整改事项", "no such ledger item", code="unknown_item")
        if self.closed:
            raise Conflict("该事项已审核销号", "the item is closed", code="item_closed")

    def _measure(self, measure_no: int) -> Measure:
        self._require_open()
        measure = self.measures.get(measure_no)
        if measure is None:
            raise NotFound("找不到这条措施", "no such measure", code="unknown_measure")
        return measure


def _text(value: str, zh: str, en: str, limit: int, *, required: bool = True) -> None:
    if required and not value.strip():
        raise Refusal(f"请填写{zh}", f"the {en} is required", code=f"{en}_required", details={"field": en})
    if len(value) > limit:
        raise Refusal(f"{zh}过长（最多{limit}字）", f"the {en} is too long (at most {limit})", code="too_long",
                      details={"field": en})
