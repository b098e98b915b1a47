"""The meeting aggregate: folds a meeting's events into state and decides commands.

`Meeting.from_events(events)` replays typed events. Command methods validate
against that state and return the new events (a list, possibly empty) or raise
a `DomainError`; they never change the state. The caller appends the events
and either refolds or calls `meeting.apply(event)` for each. No clock: every
command that depends on time takes `now` (an aware datetime).

Phases::

    scheduled -> announced -> opened -> ballot_open -> ballot_closed
              -> results_announced -> closed

Configuration (`configure`) happens while scheduled. Check-in is open while
announced or opened. Reports, comments and questions happen while opened;
reports follow the configured subject order and all must end before the
ballot opens. Ballot codes can be issued from announcement until the ballot
closes (late arrivals).

Secrecy: phone ballots are not appended one by one. The Django layer seals
them, calling `check_ballot` at casting time, and at close passes them all to
`close_ballot`, which returns their `BallotCast` events sorted by code hash
(unrelated to casting order) followed by `BallotClosed`.

Paper ballots (see `enter_paper_batch`): each numbered batch is entered by at
least two different tellers. A batch's status is derived from the latest
entry of each teller: fewer than two tellers -> "pending"; two tellers whose
latest entries are identical (same code hashes, same marks) -> "reconciled"
(their content is what is counted); otherwise -> "mismatch", shown side by
side by `paper_batch_differences`. A mismatch is resolved by a further entry
that agrees with an existing one: a third teller's entry, or a re-entry by
one of the two tellers (it replaces that teller's earlier entry). A reconciled
batch takes no more entries. Results cannot be announced while any batch is
pending or mismatched.

A code is counted once: a phone ballot beats a paper ballot with the same
code, and between paper batches the lowest batch number wins; the others are
reported by `duplicate_codes` and left out of the tally.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from events.types import DomainEvent
from meetings.domain.rules import (
    IDENTIFIER,
    LEVELS,
    DomainError,
    Rules,
    category_name_zh,
)

# tally.py imports this module only for type checking: no import cycle.
from meetings.domain.tally import compute_results, results_event
from meetings.events import (
    AttendeeCheckedIn,
    BallotCast,
    BallotClosed,
    BallotCodesIssued,
    BallotOpened,
    CommentRecorded,
    MeetingAnnounced,
    MeetingClosed,
    MeetingConfigured,
    MeetingOpened,
    MeetingScheduled,
    PaperBallot,
    PaperBatchEntered,
    PaperBatchMismatchDetected,
    PaperBatchReconciled,
    QuestionAnswered,
    QuestionAsked,
    QuorumOverrideApproved,
    ReportEnded,
    ReportStarted,
    ResultsAnnounced,
    RosterEntry,
    SubjectEntry,
    ballot_receipt,
)

__all__ = [
    "BallotCheck",
    "BallotInvalid",
    "CodeAlreadyUsed",
    "DomainError",
    "Meeting",
    "PaperDifference",
    "QuorumNotMet",
    "QuorumStatus",
    "SealedBallot",
    "SealedLike",
    "UnknownCode",
    "WrongPhase",
]

Marks = Mapping[str, Mapping[str, str]]

PHASE_NAMES_ZH = {
    "new": "未安排",
    "scheduled": "已安排",
    "announced": "已公告",
    "opened": "会议进行中",
    "ballot_open": "测评进行中",
    "ballot_closed": "测评已结束",
    "results_announced": "结果已公布",
    "closed": "会议已结束",
}


# -- errors ------------------------------------------------------------------------------------


class WrongPhase(DomainError):
    code = "wrong_phase"


class NotConfigured(DomainError):
    code = "not_configured"


class InvalidCommand(DomainError):
    code = "invalid_command"


class LeadTimeTooShort(DomainError):
    code = "lead_time_too_short"


class NotOnRoster(DomainError):
    code = "not_on_roster"


class AlreadyCheckedIn(DomainError):
    code = "already_checked_in"


class QuorumNotMet(DomainError):
    code = "quorum_not_met"


class ReportOutOfOrder(DomainError):
    code = "report_out_of_order"


class ReportsIncomplete(DomainError):
    code = "reports_incomplete"


class UnknownSubject(DomainError):
    code = "unknown_subject"


class UnknownQuestion(DomainError):
    code = "unknown_question"


class UnknownCode(DomainError):
    code = "unknown_code"


class CodeAlreadyUsed(DomainError):
    code = "code_already_used"


class BallotInvalid(DomainError):
    code = "ballot_invalid"


class PaperBatchClosed(DomainError):
    code = "paper_batch_reconciled"


class PaperBatchesUnresolved(DomainError):
    code = "paper_batches_unresolved"


def _wrong_phase(action_zh: str, action_en: str, phase: str) -> WrongPhase:
    return WrongPhase(
        f"当前阶段（{PHASE_NAMES_ZH.get(phase, phase)}）不能{action_zh}",
        f"cannot {action_en} while the meeting is {phase}",
    )


# -- value objects returned to callers ------------------------------------------------------------


@dataclass(frozen=True)
class QuorumStatus:
    category: str
    roster: int
    present: int
    required: int

    @property
    def met(self) -> bool:
        return self.present >= self.required


@dataclass(frozen=True)
class SealedBallot:
    """A phone ballot held sealed by the Django layer until the ballot closes."""

    code_hash: str
    marks: Marks


class SealedLike(Protocol):
    """Anything with a code hash and marks (e.g. the ballot box's sealed rows)."""

    @property
    def code_hash(self) -> str: ...

    @property
    def marks(self) -> Marks: ...


@dataclass(frozen=True)
class BallotCheck:
    receipt: str
    already_cast: bool  # the identical ballot was cast before: answer idempotently


@dataclass(frozen=True)
class PaperDifference:
    """One ballot of a batch as each teller entered it (None: not entered by that teller)."""

    code_hash: str
    entries: dict[str, Marks | None]  # teller -> marks


@dataclass(frozen=True)
class DuplicateCode:
    code_hash: str
    counted_from: str  # "phone" or "paper:<batch_no>"
    ignored_from: tuple[str, ...]


# -- state --------------------------------------------------------------------------------------


@dataclass
class Report:
    subject_id: str
    started_at: datetime
    limit_seconds: int
    ended_at: datetime | None = None
    duration_seconds: int | None = None
    overtime_seconds: int | None = None


@dataclass
class Question:
    question_id: str
    subject_id: str
    text: str
    asked_by: str | None
    answer: str | None = None
    deferred: bool = False
    due_on: str | None = None


@dataclass
class PaperEntry:
    teller: str
    ballots: dict[str, dict[str, dict[str, str]]]  # code hash -> marks


@dataclass
class Meeting:
    """State of one meeting, folded from its events. Use `from_events`."""

    phase: str = "new"
    meeting_id: str = ""
    title: str = ""
    rules: Rules | None = None
    subjects: list[SubjectEntry] = field(default_factory=list)
    roster: dict[str, RosterEntry] = field(default_factory=dict)
    announced_starts_at: datetime | None = None
    lead_time_override_reason: str | None = None
    checked_in: dict[str, dict[str, str]] = field(default_factory=dict)  # category -> id -> name
    quorum_override: str | None = None
    reports: dict[str, Report] = field(default_factory=dict)
    current_report: str | None = None
    comments: list[CommentRecorded] = field(default_factory=list)
    questions: dict[str, Question] = field(default_factory=dict)
    issued: dict[str, str] = field(default_factory=dict)  # code hash -> category
    phone_ballots: dict[str, BallotCast] = field(default_factory=dict)
    paper_entries: dict[int, list[PaperEntry]] = field(default_factory=dict)
    results: ResultsAnnounced | None = None
    version: int = 0  # number of events folded

    # -- folding --------------------------------------------------------------------------

    @classmethod
    def from_events(cls, events: Iterable[DomainEvent]) -> Meeting:
        meeting = cls()
        for event in events:
            meeting.apply(event)
        return meeting

    def apply(self, event: DomainEvent) -> None:
        """Fold one event into the state (events are facts: no validation here)."""
        self.version += 1
        if isinstance(event, MeetingScheduled):
            self.phase = "scheduled"
            self.meeting_id = event.meeting_id
            self.title = event.title
        elif isinstance(event, MeetingConfigured):
            self.rules = Rules.from_data(event.rules)
            self.subjects = list(event.subjects)
            self.roster = {entry.member_id: entry for entry in event.roster}
        elif isinstance(event, MeetingAnnounced):
            self.phase = "announced"
            self.announced_starts_at = _parse(event.starts_at)
            self.lead_time_override_reason = event.lead_time_override_reason
        elif isinstance(event, AttendeeCheckedIn):
            self.checked_in.setdefault(event.category, {})[event.attendee_id] = event.name
        elif isinstance(event, QuorumOverrideApproved):
            self.quorum_override = event.reason
        elif isinstance(event, MeetingOpened):
            self.phase = "opened"
        elif isinstance(event, ReportStarted):
            self.reports[event.subject_id] = Report(event.subject_id, _parse(event.at), event.limit_seconds)
            self.current_report = event.subject_id
        elif isinstance(event, ReportEnded):
            report = self.reports[event.subject_id]
            report.ended_at = _parse(event.at)
            report.duration_seconds = event.duration_seconds
            report.overtime_seconds = event.overtime_seconds
            self.current_report = None
        elif isinstance(event, CommentRecorded):
            self.comments.append(event)
        elif isinstance(event, QuestionAsked):
            self.questions[event.question_id] = Question(event.question_id, event.subject, event.text, event.asked_by)
        elif isinstance(event, QuestionAnswered):
            question = self.questions[event.question_id]
            question.answer = event.answer
            question.deferred = event.deferred
            question.due_on = event.due_on
        elif isinstance(event, BallotCodesIssued):
            for code_hash in event.code_hashes:
                self.issued[code_hash] = event.category
        elif isinstance(event, BallotOpened):
            self.phase = "ballot_open"
        elif isinstance(event, BallotCast):
            if event.source == "paper":  # not produced by this aggregate; kept for completeness
                return
            self.phone_ballots[event.code_hash] = event
        elif isinstance(event, PaperBatchEntered):
            ballots = {b.code_hash: b.marks for b in event.ballots}
            self.paper_entries.setdefault(event.batch_no, []).append(PaperEntry(event.teller, ballots))
        elif isinstance(event, BallotClosed):
            self.phase = "ballot_closed"
        elif isinstance(event, ResultsAnnounced):
            self.phase = "results_announced"
            self.results = event
        elif isinstance(event, MeetingClosed):
            self.phase = "closed"
        # PaperBatchReconciled / PaperBatchMismatchDetected record what the status
        # (derived from the entries) was at that point; there is nothing more to fold.

    # -- queries --------------------------------------------------------------------------

    def require_rules(self) -> Rules:
        if self.rules is None:
            raise NotConfigured("会议尚未配置评议规则、对象和名册", "the meeting has no rules, subjects and roster yet")
        return self.rules

    def subject(self, subject_id: str) -> SubjectEntry:
        for subject in self.subjects:
            if subject.subject_id == subject_id:
                return subject
        raise UnknownSubject(f"没有编号为“{subject_id}”的述评对象", f"no subject {subject_id!r}")

    def roster_count(self, category: str) -> int:
        return sum(1 for entry in self.roster.values() if entry.category == category)

    def present_count(self, category: str) -> int:
        return len(self.checked_in.get(category, {}))

    def is_checked_in(self, attendee_id: str) -> bool:
        return any(attendee_id in ids for ids in self.checked_in.values())

    def quorum(self) -> list[QuorumStatus]:
        """Per quorum rule: roster size, present, required, met."""
        rules = self.require_rules()
        return [
            QuorumStatus(
                category=q.category,
                roster=self.roster_count(q.category),
                present=self.present_count(q.category),
                required=q.required(self.roster_count(q.category)),
            )
            for q in rules.quorum
        ]

    def quorum_met(self) -> bool:
        return all(status.met for status in self.quorum())

    def next_subject(self) -> SubjectEntry | None:
        """The next subject to report (agenda order), or None when all have reported."""
        for subject in self.subjects:
            if subject.subject_id not in self.reports:
                return subject
        return None

    def subjects_graded_by(self, category: str) -> list[SubjectEntry]:
        rules = self.require_rules()
        return [s for s in self.subjects if category in rules.categories_grading(s.level)]

    def used_code_hashes(self) -> set[str]:
        return set(self.phone_ballots)

    def paper_batch_status(self, batch_no: int) -> str:
        """"pending", "reconciled" or "mismatch" (see the module docstring)."""
        return self._batch(batch_no)[0]

    def _batch(self, batch_no: int) -> tuple[str, PaperEntry | None, list[PaperEntry]]:
        return _batch_status(self.paper_entries.get(batch_no, []))

    def paper_batches(self) -> dict[int, str]:
        return {batch_no: self.paper_batch_status(batch_no) for batch_no in sorted(self.paper_entries)}

    def paper_batch_differences(self, batch_no: int) -> list[PaperDifference]:
        """The ballots on which the tellers' latest entries of a batch disagree, side by side."""
        return _differences(self._batch(batch_no)[2])

    def paper_ballots(self) -> dict[int, dict[str, dict[str, dict[str, str]]]]:
        """The agreed content of each reconciled batch: batch number -> code hash -> marks."""
        agreed = {}
        for batch_no in sorted(self.paper_entries):
            status, entry, _ = self._batch(batch_no)
            if status == "reconciled" and entry is not None:
                agreed[batch_no] = entry.ballots
        return agreed

    def counted_ballots(self) -> list[tuple[str, str, Marks]]:
        """(code hash, source, marks) of each ballot counted: one per code, phone first."""
        counted: dict[str, tuple[str, str, Marks]] = {
            code: (code, "phone", cast.marks) for code, cast in self.phone_ballots.items()
        }
        for batch_no, ballots in self.paper_ballots().items():
            for code, marks in ballots.items():
                counted.setdefault(code, (code, f"paper:{batch_no}", marks))
        return [counted[code] for code in sorted(counted)]

    def duplicate_codes(self) -> list[DuplicateCode]:
        """Codes found more than once (phone and paper, or two batches), and which one counts."""
        sources: dict[str, list[str]] = {code: ["phone"] for code in self.phone_ballots}
        for batch_no, ballots in self.paper_ballots().items():
            for code in ballots:
                sources.setdefault(code, []).append(f"paper:{batch_no}")
        return [
            DuplicateCode(code_hash=code, counted_from=found[0], ignored_from=tuple(found[1:]))
            for code, found in sorted(sources.items())
            if len(found) > 1
        ]

    # -- ballot validation (shared by phone, sealed and paper ballots) --------------------------

    def validate_marks(self, *, code_hash: str, marks: Marks) -> str:
        """Check a ballot against the issued codes and the rules; return the voter's category."""
        rules = self.require_rules()
        category = self.issued.get(code_hash)
        if category is None:
            raise UnknownCode("测评码无效", "unknown ballot code")
        if not isinstance(marks, Mapping):
            raise BallotInvalid("选票格式不正确", "marks must be an object")
        expected = {s.subject_id: s for s in self.subjects_graded_by(category)}
        for subject_id in marks:
            if subject_id not in expected:
                raise BallotInvalid(
                    f"{category_name_zh(category)}不评议“{subject_id}”",
                    f"{category} does not grade subject {subject_id!r}",
                )
        criteria = {c.id: c for c in rules.criteria}
        for subject_id, subject in expected.items():
            subject_marks = marks.get(subject_id)
            if not isinstance(subject_marks, Mapping):
                raise BallotInvalid(f"未对“{subject.name}”作出评价", f"subject {subject_id!r} is not graded")
            for criterion_id in subject_marks:
                if criterion_id not in criteria:
                    raise BallotInvalid(
                        f"“{subject.name}”的评价含未知指标“{criterion_id}”",
                        f"subject {subject_id!r} has an unknown criterion {criterion_id!r}",
                    )
            for criterion in rules.criteria:
                grade_id = subject_marks.get(criterion.id)
                if grade_id is None:
                    raise BallotInvalid(
                        f"未对“{subject.name}”的“{criterion.name_zh}”作出评价",
                        f"subject {subject_id!r} is not graded on {criterion.id!r}",
                    )
                if not isinstance(grade_id, str) or rules.scale.grade(grade_id) is None:
                    raise BallotInvalid(
                        f"“{subject.name}”的“{criterion.name_zh}”评价等次“{grade_id}”不在“{rules.scale.name_zh}”中",
                        f"grade {grade_id!r} for {subject_id!r}/{criterion.id!r} is not in scale {rules.scale.id!r}",
                    )
        return category

    def check_ballot(
        self, *, code_hash: str, marks: Marks, used_code_hashes: AbstractSet[str] | Mapping[str, str]
    ) -> BallotCheck:
        """Validate a phone ballot at casting time (ballot open); nothing is appended.

        `used_code_hashes` are the codes already sealed by the Django layer; when
        it is a mapping code hash -> receipt, recasting the identical ballot is
        reported as `already_cast` instead of raising CodeAlreadyUsed.
        """
        self._require_phase("ballot_open", action_zh="投票", action_en="cast a ballot")
        self.validate_marks(code_hash=code_hash, marks=marks)
        receipt = ballot_receipt(code_hash, _plain_marks(marks))
        earlier: str | None = None
        if code_hash in self.phone_ballots:
            earlier = self.phone_ballots[code_hash].receipt
        elif code_hash in used_code_hashes:
            earlier = used_code_hashes[code_hash] if isinstance(used_code_hashes, Mapping) else ""
        if earlier is None:
            return BallotCheck(receipt=receipt, already_cast=False)
        if earlier == receipt:
            return BallotCheck(receipt=receipt, already_cast=True)
        raise CodeAlreadyUsed("该测评码已投过票", "this ballot code has already been used")

    # -- commands -----------------------------------------------------------------------------

    def _require_phase(self, *phases: str, action_zh: str, action_en: str) -> None:
        if self.phase not in phases:
            raise _wrong_phase(action_zh, action_en, self.phase)

    def schedule(self, *, meeting_id: str, title: str, township: str, village: str, starts_at: datetime, place: str) -> list[DomainEvent]:
        self._require_phase("new", action_zh="重复安排会议", action_en="schedule the meeting again")
        _require_text(title, "会议名称", "title")
        return [
            MeetingScheduled(
                meeting_id=meeting_id, title=title, township=township, village=village,
                starts_at=_iso(starts_at), place=place,
            )
        ]

    def configure(self, *, rules: Rules, subjects: list[SubjectEntry], roster: list[RosterEntry]) -> list[DomainEvent]:
        """Fix rules, subjects (in report order) and the roster snapshot; repeatable until announced."""
        self._require_phase("scheduled", action_zh="修改会议配置", action_en="configure the meeting")
        rules.validate()
        if not subjects:
            raise InvalidCommand("至少需要一个述评对象", "at least one subject is needed")
        seen: set[str] = set()
        for subject in subjects:
            if not IDENTIFIER.match(subject.subject_id) or subject.subject_id in seen:
                raise InvalidCommand(
                    f"述评对象编号“{subject.subject_id}”须为不重复的英文标识符",
                    f"subject id {subject.subject_id!r} must be a unique identifier",
                )
            seen.add(subject.subject_id)
            if subject.level not in LEVELS or not rules.categories_grading(subject.level):
                raise InvalidCommand(
                    f"述评对象“{subject.name}”的层级“{subject.level}”在规则中没有评议人",
                    f"subject {subject.subject_id!r} has level {subject.level!r} which no one grades",
                )
        members: set[str] = set()
        for entry in roster:
            if entry.member_id in members:
                raise InvalidCommand(f"名册中“{entry.name}”重复", f"roster member {entry.member_id!r} is listed twice")
            members.add(entry.member_id)
            if entry.category not in rules.voter_categories:
                raise InvalidCommand(
                    f"名册中“{entry.name}”的类别“{entry.category}”不在规则的参评类别中",
                    f"roster member {entry.member_id!r} has category {entry.category!r} not in the rules",
                )
        return [MeetingConfigured(rules=rules.to_data(), subjects=list(subjects), roster=list(roster))]

    def announce(
        self,
        *,
        starts_at: datetime,
        place: str,
        agenda: list[str],
        channels: list[str],
        now: datetime,
        override_reason: str | None = None,
    ) -> list[DomainEvent]:
        """Publish time, place and procedure; at least `announce_lead_days` ahead unless a reason is given."""
        self._require_phase("scheduled", action_zh="发布会议公告", action_en="announce the meeting")
        rules = self.require_rules()
        _require_text(place, "会议地点", "place")
        if not channels:
            raise InvalidCommand("至少需要一个公告渠道", "at least one announcement channel is needed")
        reason = (override_reason or "").strip() or None
        if starts_at - now < timedelta(days=rules.announce_lead_days) and reason is None:
            raise LeadTimeTooShort(
                f"会议须至少提前{rules.announce_lead_days}天公告；如确需缩短，请说明理由",
                f"the meeting must be announced at least {rules.announce_lead_days} days ahead unless a reason is given",
            )
        if starts_at - now >= timedelta(days=rules.announce_lead_days):
            reason = None  # no override needed: do not record one
        return [
            MeetingAnnounced(
                starts_at=_iso(starts_at), place=place, agenda=list(agenda), channels=list(channels),
                announced_at=_iso(now), lead_time_override_reason=reason,
            )
        ]

    def check_in(self, *, member_id: str) -> list[DomainEvent]:
        """Check in a roster member (category from the roster snapshot)."""
        self._require_phase("announced", "opened", action_zh="签到", action_en="check in")
        self.require_rules()
        entry = self.roster.get(member_id)
        if entry is None:
            raise NotOnRoster("此人不在本次会议名册中", "not on this meeting's roster")
        if self.is_checked_in(member_id):
            raise AlreadyCheckedIn(f"{entry.name}已签到，不能重复签到", f"{entry.name} has already checked in")
        return [AttendeeCheckedIn(attendee_id=entry.member_id, name=entry.name, category=entry.category)]

    def check_in_guest(self, *, guest_id: str, name: str) -> list[DomainEvent]:
        """Check in an invited guest (列席), not on the roster; category "guest"."""
        self._require_phase("announced", "opened", action_zh="签到", action_en="check in")
        self.require_rules()
        _require_text(name, "姓名", "name")
        if guest_id in self.roster or self.is_checked_in(guest_id):
            raise AlreadyCheckedIn(f"{name}已签到，不能重复签到", f"{name} has already checked in")
        return [AttendeeCheckedIn(attendee_id=guest_id, name=name, category="guest")]

    def override_quorum(self, *, reason: str, actor: str, now: datetime) -> list[DomainEvent]:
        """Record the host's decision to proceed without quorum, with the reason."""
        self._require_phase("announced", "opened", action_zh="批准不足法定人数开会", action_en="override the quorum")
        _require_text(reason, "理由", "reason")
        _require_text(actor, "批准人", "actor")
        return [QuorumOverrideApproved(reason=reason.strip(), actor=actor, at=_iso(now))]

    def open_meeting(self, *, now: datetime) -> list[DomainEvent]:
        self._require_phase("announced", action_zh="开始会议", action_en="open the meeting")
        return [MeetingOpened(at=_iso(now))]

    def start_report(self, *, subject_id: str, now: datetime) -> list[DomainEvent]:
        """Start the next subject's report, in the configured order."""
        self._require_phase("opened", action_zh="开始述职", action_en="start a report")
        rules = self.require_rules()
        subject = self.subject(subject_id)
        if self.current_report is not None:
            current = self.subject(self.current_report)
            raise ReportOutOfOrder(f"{current.name}的述职尚未结束", f"{current.subject_id!r} is still reporting")
        expected = self.next_subject()
        if expected is None or expected.subject_id != subject_id:
            raise ReportOutOfOrder(
                f"应按顺序述职：下一位是{expected.name if expected else '（无）'}，不是{subject.name}",
                f"reports go in agenda order: next is {expected.subject_id if expected else None!r}, not {subject_id!r}",
            )
        return [ReportStarted(subject_id=subject_id, at=_iso(now), limit_seconds=rules.time_limit(subject.level))]

    def end_report(self, *, subject_id: str, now: datetime) -> list[DomainEvent]:
        self._require_phase("opened", action_zh="结束述职", action_en="end a report")
        if self.current_report != subject_id:
            raise ReportOutOfOrder("该对象当前没有在述职", f"{subject_id!r} is not reporting now")
        report = self.reports[subject_id]
        duration = max(0, int((now - report.started_at).total_seconds()))
        overtime = max(0, duration - report.limit_seconds) if report.limit_seconds else 0
        return [ReportEnded(subject_id=subject_id, at=_iso(now), duration_seconds=duration, overtime_seconds=overtime)]

    def record_comment(
        self, *, comment_id: str, subject_id: str, text: str, author: str | None, now: datetime
    ) -> list[DomainEvent]:
        """Record a comment (点评) on a subject; author None means anonymous (背对背)."""
        self._require_phase("opened", action_zh="点评", action_en="comment")
        self.subject(subject_id)
        _require_text(text, "点评内容", "comment text")
        if any(c.comment_id == comment_id for c in self.comments):
            raise InvalidCommand("点评编号重复", f"comment {comment_id!r} already exists")
        return [
            CommentRecorded(
                comment_id=comment_id, subject_id=subject_id, text=text, author=author,
                anonymous=author is None, at=_iso(now),
            )
        ]

    def ask_question(self, *, question_id: str, subject_id: str, text: str, asked_by: str | None) -> list[DomainEvent]:
        """A question to a subject by a checked-in attendee, or anonymously (asked_by None)."""
        self._require_phase("opened", action_zh="提问", action_en="ask a question")
        self.subject(subject_id)
        _require_text(text, "问题内容", "question text")
        if question_id in self.questions:
            raise InvalidCommand("问题编号重复", f"question {question_id!r} already exists")
        if asked_by is not None and not self.is_checked_in(asked_by):
            raise NotOnRoster("提问人尚未签到", "the person asking has not checked in")
        return [QuestionAsked(question_id=question_id, text=text, subject=subject_id, asked_by=asked_by)]

    def answer_question(self, *, question_id: str, answer: str) -> list[DomainEvent]:
        """Answer on the spot."""
        self._require_phase("opened", "ballot_open", "ballot_closed", "results_announced", action_zh="答复问题", action_en="answer a question")
        self._open_question(question_id)
        _require_text(answer, "答复内容", "answer")
        return [QuestionAnswered(question_id=question_id, answer=answer, deferred=False, due_on=None)]

    def defer_question(self, *, question_id: str, promise: str, due_on: str) -> list[DomainEvent]:
        """Record the question for a later answer: what is promised and by when (YYYY-MM-DD)."""
        self._require_phase("opened", "ballot_open", "ballot_closed", "results_announced", action_zh="答复问题", action_en="answer a question")
        self._open_question(question_id)
        _require_text(promise, "承诺答复内容", "promise")
        try:
            datetime.strptime(due_on, "%Y-%m-%d")
        except (TypeError, ValueError):
            raise InvalidCommand("答复期限须为日期（YYYY-MM-DD）", "due_on must be a date YYYY-MM-DD") from None
        return [QuestionAnswered(question_id=question_id, answer=promise, deferred=True, due_on=due_on)]

    def _open_question(self, question_id: str) -> Question:
        question = self.questions.get(question_id)
        if question is None:
            raise UnknownQuestion("没有这个问题", f"no question {question_id!r}")
        if question.answer is not None:
            raise InvalidCommand("该问题已答复或已登记待答复", "the question has already been answered or deferred")
        return question

    def issue_ballot_codes(self, *, category: str, code_hashes: list[str]) -> list[DomainEvent]:
        """Record the hashes of one-time codes handed to voters of a category (codes are made elsewhere)."""
        self._require_phase("announced", "opened", "ballot_open", action_zh="发放测评码", action_en="issue ballot codes")
        rules = self.require_rules()
        if category not in rules.voter_categories:
            raise InvalidCommand(f"“{category}”不是本次会议的参评类别", f"{category!r} is not a voter category")
        if not code_hashes:
            raise InvalidCommand("没有测评码", "no codes given")
        for code_hash in code_hashes:
            if not _is_hex64(code_hash):
                raise InvalidCommand("测评码摘要须为64位小写十六进制", "code hashes must be 64 lowercase hex digits")
        if len(set(code_hashes)) != len(code_hashes) or any(c in self.issued for c in code_hashes):
            raise InvalidCommand("测评码重复", "a code hash is issued twice")
        return [BallotCodesIssued(category=category, count=len(code_hashes), code_hashes=list(code_hashes))]

    def open_ballot(self, *, now: datetime) -> list[DomainEvent]:
        """Open voting: all reports done, no report running, quorum met or overridden."""
        self._require_phase("opened", action_zh="开始测评", action_en="open the ballot")
        self.require_rules()
        if self.current_report is not None or self.next_subject() is not None:
            raise ReportsIncomplete("述职尚未全部结束，不能开始测评", "all reports must end before the ballot opens")
        if self.quorum_override is None:
            short = [status for status in self.quorum() if not status.met]
            if short:
                details_zh = "；".join(f"{category_name_zh(s.category)}应到{s.required}人，实到{s.present}人" for s in short)
                details_en = "; ".join(f"{s.category}: {s.present} present of {s.required} required" for s in short)
                raise QuorumNotMet(f"未达到法定人数：{details_zh}", f"quorum not met: {details_en}")
        return [BallotOpened(at=_iso(now))]

    def cast_ballot(self, *, code_hash: str, marks: Marks) -> list[DomainEvent]:
        """Cast one phone ballot directly (when ballots need not be sealed, e.g. in tests or replays).

        The identical ballot cast again returns [] (answer idempotently with the same receipt).
        """
        check = self.check_ballot(code_hash=code_hash, marks=marks, used_code_hashes=frozenset())
        if check.already_cast:
            return []
        return [BallotCast(code_hash=code_hash, marks=_plain_marks(marks), receipt=check.receipt, source="phone")]

    def close_ballot(self, *, sealed_ballots: Iterable[SealedLike], now: datetime) -> list[DomainEvent]:
        """Close voting: the sealed phone ballots as BallotCast sorted by code hash, then BallotClosed.

        Each sealed ballot is validated as at casting time; an identical duplicate is
        dropped, a differing one raises CodeAlreadyUsed.
        """
        self._require_phase("ballot_open", action_zh="结束测评", action_en="close the ballot")
        chosen: dict[str, BallotCast] = {}
        for sealed in sealed_ballots:
            receipts = {code: cast.receipt for code, cast in chosen.items()}
            check = self.check_ballot(code_hash=sealed.code_hash, marks=sealed.marks, used_code_hashes=receipts)
            if check.already_cast:
                continue
            chosen[sealed.code_hash] = BallotCast(
                code_hash=sealed.code_hash, marks=_plain_marks(sealed.marks), receipt=check.receipt, source="phone"
            )
        casts: list[DomainEvent] = [chosen[code] for code in sorted(chosen)]
        return [*casts, BallotClosed(at=_iso(now), phone_ballots=len(self.phone_ballots) + len(chosen))]

    def enter_paper_batch(
        self, *, batch_no: int, teller: str, ballots: list[PaperBallot], now: datetime
    ) -> list[DomainEvent]:
        """One teller's entry of a numbered batch of paper ballots.

        Returns [PaperBatchEntered] plus PaperBatchReconciled when this entry agrees
        with another teller's, or PaperBatchMismatchDetected when two or more
        tellers' latest entries now disagree (see the module docstring).
        """
        self._require_phase("ballot_open", "ballot_closed", action_zh="录入纸质选票", action_en="enter paper ballots")
        _require_text(teller, "计票员", "teller")
        if batch_no < 1:
            raise InvalidCommand("批次号须为正整数", "batch numbers are positive integers")
        if self.paper_batch_status(batch_no) == "reconciled":
            raise PaperBatchClosed(f"第{batch_no}批已核对一致，不能再录入", f"batch {batch_no} is reconciled; no more entries")
        seen: set[str] = set()
        for ballot in ballots:
            if ballot.code_hash in seen:
                raise BallotInvalid("同一批次中测评码重复", f"code {ballot.code_hash[:12]}… appears twice in the batch")
            seen.add(ballot.code_hash)
            self.validate_marks(code_hash=ballot.code_hash, marks=ballot.marks)
        entered = PaperBatchEntered(
            batch_no=batch_no, teller=teller,
            ballots=[PaperBallot(code_hash=b.code_hash, marks=_plain_marks(b.marks)) for b in ballots],
            at=_iso(now),
        )
        new_entry = PaperEntry(teller, {b.code_hash: b.marks for b in entered.ballots})
        status, agreed, entries = _batch_status([*self.paper_entries.get(batch_no, []), new_entry])
        events: list[DomainEvent] = [entered]
        if status == "reconciled" and agreed is not None:
            tellers = sorted(e.teller for e in entries if e.ballots == agreed.ballots)
            events.append(PaperBatchReconciled(batch_no=batch_no, tellers=tellers, ballot_count=len(agreed.ballots), at=_iso(now)))
        elif status == "mismatch":
            events.append(
                PaperBatchMismatchDetected(
                    batch_no=batch_no,
                    tellers=sorted(e.teller for e in entries),
                    code_hashes=[d.code_hash for d in _differences(entries)],
                    at=_iso(now),
                )
            )
        return events

    def announce_results(self, *, now: datetime) -> list[DomainEvent]:
        """Announce the tally (blocked while a paper batch is pending or mismatched)."""
        self._require_phase("ballot_closed", action_zh="公布结果", action_en="announce results")
        unresolved = {n: s for n, s in self.paper_batches().items() if s != "reconciled"}
        if unresolved:
            listed = "、".join(f"第{n}批（{'核对不一致' if s == 'mismatch' else '待第二人录入'}）" for n, s in unresolved.items())
            raise PaperBatchesUnresolved(
                f"纸质选票尚未核对一致：{listed}",
                f"paper batches not reconciled: {', '.join(f'{n} ({s})' for n, s in unresolved.items())}",
            )
        return [results_event(compute_results(self), now=now)]

    def close_meeting(self, *, now: datetime) -> list[DomainEvent]:
        self._require_phase("results_announced", action_zh="结束会议", action_en="close the meeting")
        return [MeetingClosed(at=_iso(now))]


# -- helpers --------------------------------------------------------------------------------------


def _batch_status(all_entries: list[PaperEntry]) -> tuple[str, PaperEntry | None, list[PaperEntry]]:
    """(status, agreed entry or None, latest entry per teller) of one paper batch."""
    latest: dict[str, PaperEntry] = {}
    for entry in all_entries:
        latest[entry.teller] = entry  # a re-entry replaces the teller's earlier one
    entries = list(latest.values())
    if len(entries) < 2:
        return "pending", None, entries
    for i, first in enumerate(entries):
        for second in entries[i + 1:]:
            if first.ballots == second.ballots:
                return "reconciled", first, entries
    return "mismatch", None, entries


def _differences(entries: list[PaperEntry]) -> list[PaperDifference]:
    codes = sorted({code for entry in entries for code in entry.ballots})
    differences = []
    for code in codes:
        seen: dict[str, Marks | None] = {entry.teller: entry.ballots.get(code) for entry in entries}
        values = list(seen.values())
        if any(value != values[0] for value in values):
            differences.append(PaperDifference(code_hash=code, entries=seen))
    return differences


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise InvalidCommand("时间须带时区", "times must be timezone-aware")
    return moment.isoformat()


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _require_text(value: str | None, what_zh: str, what_en: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand(f"{what_zh}不能为空", f"{what_en} is required")


def _is_hex64(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _plain_marks(marks: Marks) -> dict[str, dict[str, str]]:
    return {subject: dict(grades) for subject, grades in marks.items()}
