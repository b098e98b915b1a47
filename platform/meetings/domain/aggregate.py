"""The meeting aggregate: folds a meeting's events into state and decides commands.

`Meeting.from_events(events)` replays typed events. Command methods validate
against that state and return the new events (a list, possibly empty) or raise
a `DomainError`; they never change the state. The caller appends the events
and either refolds or calls `meeting.apply(event)` for each. No clock: every
command that depends on time takes `now` (an aware datetime).

Phases::

    scheduled -> announced -> opened -> ballot_open -> ballot_closed
              -> results_announced -> closed

Which command is allowed in which phase is the table ALLOWED_PHASES, in one
place. Configuration (`configure`) happens while scheduled. Check-in is open
while announced or opened. Reports, comments and questions happen while
opened; reports follow the configured subject order and all must end before
the ballot opens. Ballot codes can be issued from announcement until the
ballot closes (late arrivals). Voting (codes, ballots, paper batches, the
count) is in meetings.domain.voting, mixed into this class.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from events.types import DomainEvent
from meetings.domain.counts import CodeBatch
from meetings.domain.errors import (
    AlreadyCheckedIn,
    InvalidCommand,
    LeadTimeTooShort,
    NotConfigured,
    NotOnRoster,
    ReportOutOfOrder,
    UnknownQuestion,
    UnknownSubject,
    iso,
    require_text,
    wrong_phase,
)
from meetings.domain.rules import IDENTIFIER, LEVELS, SUBJECT_KINDS, Rules
from meetings.domain.voting import (
    PaperEntry,
    QuorumStatus,
    Voting,
)
from meetings.events import (
    AttendeeCheckedIn,
    BallotCast,
    BallotClosed,
    BallotCodesIssued,
    BallotCodesPrinted,
    BallotOpened,
    CommentRecorded,
    CountDiscrepancyAccepted,
    MeetingAnnounced,
    MeetingClosed,
    MeetingConfigured,
    MeetingOpened,
    MeetingScheduled,
    PaperBatchEntered,
    QuestionAnswered,
    QuestionAsked,
    QuorumOverrideApproved,
    ReportEnded,
    ReportStarted,
    ResultsAnnounced,
    RosterEntry,
    ScreenLinksRevoked,
    SubjectEntry,
)

__all__ = ["ALLOWED_PHASES", "Meeting"]

# The phases in which each command may run (domain.md: the meeting's procedure).
ALLOWED_PHASES: dict[str, tuple[str, ...]] = {
    "schedule": ("new",),
    "configure": ("scheduled",),
    "announce": ("scheduled",),
    "sign_in": ("announced", "opened"),
    "sign_in_guest": ("announced", "opened"),
    "override_quorum": ("announced", "opened"),
    "open_meeting": ("announced",),
    "start_report": ("opened",),
    "end_report": ("opened",),
    "record_comment": ("opened",),
    "ask_question": ("opened",),
    # A question deferred (recorded for a later answer) is answered later: after the meeting too.
    "answer_question": ("opened", "ballot_open", "ballot_closed", "results_announced", "closed"),
    "defer_question": ("opened", "ballot_open", "ballot_closed", "results_announced"),
    "issue_ballot_codes": ("announced", "opened", "ballot_open"),
    "mark_codes_printed": ("announced", "opened", "ballot_open", "ballot_closed"),
    "open_ballot": ("opened",),
    "cast_ballot": ("ballot_open",),
    "close_ballot": ("ballot_open",),
    "enter_paper_batch": ("ballot_open", "ballot_closed"),
    "accept_count_discrepancy": ("ballot_closed",),
    "announce_results": ("ballot_closed",),
    "close_meeting": ("results_announced",),
}

# Events after which what a state derived (paper batches' status, the counted
# ballots, the tally: Voting._derived) still holds: they change none of its
# inputs (ballots, paper entries, codes, rules, subjects, roster, check-ins),
# only the phase or a record of it. Any other event makes a state derive afresh.
KEEPS_DERIVED = (BallotClosed, ResultsAnnounced, MeetingClosed, ScreenLinksRevoked)


# -- value objects and state ----------------------------------------------------------------------


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
    answer: str | None = None  # the answer, on the spot or later
    deferred: bool = False  # recorded for a later answer
    promise: str | None = None  # when deferred: what was promised ...
    due_on: str | None = None  # ... and by when (YYYY-MM-DD)



@dataclass
class Meeting(Voting):
    """State of one meeting, folded from its events. Use `from_events`."""

    phase: str = "new"
    meeting_id: str = ""
    title: str = ""
    round_id: str | None = None
    rules: Rules | None = None
    subjects: list[SubjectEntry] = field(default_factory=list)
    roster: dict[str, RosterEntry] = field(default_factory=dict)
    starts_at: datetime | None = None  # as scheduled, then as announced
    place: str = ""
    announced_starts_at: datetime | None = None
    opened_at: datetime | None = None  # when the host opened it: the day it was held
    lead_time_override_reason: str | None = None
    host: str | None = None  # the account to run it (MeetingScheduled v3), None when not assigned
    announcement: MeetingAnnounced | None = None  # what was published: agenda, channels (the printable notice)
    checked_in: dict[str, dict[str, str]] = field(default_factory=dict)  # category -> id -> name
    quorum_override: str | None = None
    reports: dict[str, Report] = field(default_factory=dict)
    current_report: str | None = None
    comments: list[CommentRecorded] = field(default_factory=list)
    questions: dict[str, Question] = field(default_factory=dict)
    issued: dict[str, str] = field(default_factory=dict)  # code hash -> category
    code_batches: list[CodeBatch] = field(default_factory=list)  # in issue order: batch n at n - 1
    count_decision: CountDiscrepancyAccepted | None = None
    phone_ballots: dict[str, BallotCast] = field(default_factory=dict)
    paper_entries: dict[int, list[PaperEntry]] = field(default_factory=dict)
    results: ResultsAnnounced | None = None
    screen_links_from: int = 0  # screen links minted at an earlier version were revoked
    version: int = 0  # number of events folded

    # -- folding --------------------------------------------------------------------------

    def __deepcopy__(self, memo: dict[int, Any]) -> Meeting:
        """A copy to fold on without changing this state (events.repository fast-forwards copies).

        What `apply` changes are the fields, the containers in them and the
        mutable records in those (Report, Question, CodeBatch): all copied.
        Events and the other frozen values a state holds (and the contents
        of records such as a paper entry's ballots) are facts no fold
        changes: shared, not copied. A generic deepcopy walked every
        ballot's marks (about 40 ms for a 400-voter meeting, on the path
        from the close to the hall screens).
        """
        clone = copy.copy(self)
        for item in dataclasses.fields(self):
            setattr(clone, item.name, _copied(getattr(self, item.name), memo))
        return clone

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
            self.round_id = event.round_id
            self.starts_at = _parse(event.starts_at)
            self.place = event.place
            self.host = event.host
        elif isinstance(event, MeetingConfigured):
            self.rules = Rules.from_data(event.rules)
            self.subjects = list(event.subjects)
            self.roster = {entry.member_id: entry for entry in event.roster}
        elif isinstance(event, MeetingAnnounced):
            self.phase = "announced"
            self.announced_starts_at = self.starts_at = _parse(event.starts_at)
            self.place = event.place
            self.lead_time_override_reason = event.lead_time_override_reason
            self.announcement = event
        elif isinstance(event, AttendeeCheckedIn):
            self.checked_in.setdefault(event.category, {})[event.attendee_id] = event.name
        elif isinstance(event, QuorumOverrideApproved):
            self.quorum_override = event.reason
        elif isinstance(event, MeetingOpened):
            self.phase = "opened"
            self.opened_at = _parse(event.at)
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
            if event.deferred:
                question.deferred = True
                question.promise = event.answer
                question.due_on = event.due_on
            else:
                question.answer = event.answer
        elif isinstance(event, BallotCodesIssued):
            for code_hash in event.code_hashes:
                self.issued[code_hash] = event.category
            self.code_batches.append(CodeBatch(len(self.code_batches) + 1, event.category, event.count, event.margin))
        elif isinstance(event, BallotCodesPrinted):
            self.code_batches[event.batch_no - 1].printed = True
        elif isinstance(event, CountDiscrepancyAccepted):
            self.count_decision = event
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
        elif isinstance(event, ScreenLinksRevoked):
            self.screen_links_from = self.version
        if isinstance(event, KEEPS_DERIVED):
            self._keep_derived()
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

    # -- commands -----------------------------------------------------------------------------

    def _require_phase(self, command: str, *, action_zh: str, action_en: str) -> None:
        if self.phase not in ALLOWED_PHASES[command]:
            raise wrong_phase(action_zh, action_en, self.phase)

    def schedule(
        self, *, meeting_id: str, title: str, township: str, village: str, starts_at: datetime, place: str,
        round_id: str | None = None, host: str | None = None,
    ) -> list[DomainEvent]:
        self._require_phase("schedule", action_zh="重复安排会议", action_en="schedule the meeting again")
        require_text(title, "会议名称", "title")
        return [
            MeetingScheduled(
                meeting_id=meeting_id, title=title, township=township, village=village,
                starts_at=iso(starts_at), place=place, round_id=round_id, host=host,
            )
        ]

    def configure(self, *, rules: Rules, subjects: list[SubjectEntry], roster: list[RosterEntry]) -> list[DomainEvent]:
        """Fix rules, subjects (in report order) and the roster snapshot; repeatable until announced."""
        self._require_phase("configure", action_zh="修改会议配置", action_en="configure the meeting")
        rules.validate()
        rules.require_offered()
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
            if subject.kind not in SUBJECT_KINDS:  # the kind picks the subject's scale (Rules.scale_for)
                raise InvalidCommand(
                    f"述评对象“{subject.name}”的类型“{subject.kind}”须为 person（个人）或 body（组织）",
                    f"subject {subject.subject_id!r} has kind {subject.kind!r}, not person or body",
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
        self._require_phase("announce", action_zh="发布会议公告", action_en="announce the meeting")
        rules = self.require_rules()
        require_text(place, "会议地点", "place")
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
                starts_at=iso(starts_at), place=place, agenda=list(agenda), channels=list(channels),
                announced_at=iso(now), lead_time_override_reason=reason,
            )
        ]

    def sign_in(self, *, member_id: str) -> list[DomainEvent]:
        """Check in a roster member (category from the roster snapshot)."""
        self._require_phase("sign_in", action_zh="签到", action_en="check in")
        self.require_rules()
        entry = self.roster.get(member_id)
        if entry is None:
            raise NotOnRoster("此人不在本次会议名册中", "not on this meeting's roster")
        if self.is_checked_in(member_id):
            raise AlreadyCheckedIn(f"{entry.name}已签到，不能重复签到", f"{entry.name} has already checked in")
        return [AttendeeCheckedIn(attendee_id=entry.member_id, name=entry.name, category=entry.category)]

    def sign_in_guest(self, *, guest_id: str, name: str) -> list[DomainEvent]:
        """Check in an invited guest (列席), not on the roster; category "guest"."""
        self._require_phase("sign_in_guest", action_zh="签到", action_en="check in")
        self.require_rules()
        require_text(name, "姓名", "name")
        if guest_id in self.roster or self.is_checked_in(guest_id):
            raise AlreadyCheckedIn(f"{name}已签到，不能重复签到", f"{name} has already checked in")
        return [AttendeeCheckedIn(attendee_id=guest_id, name=name, category="guest")]

    def override_quorum(self, *, reason: str, actor: str, now: datetime) -> list[DomainEvent]:
        """Record the host's decision to proceed without quorum, with the reason."""
        self._require_phase("override_quorum", action_zh="批准不足法定人数开会", action_en="override the quorum")
        require_text(reason, "理由", "reason")
        require_text(actor, "批准人", "actor")
        return [QuorumOverrideApproved(reason=reason.strip(), actor=actor, at=iso(now))]

    def open_meeting(self, *, now: datetime) -> list[DomainEvent]:
        self._require_phase("open_meeting", action_zh="开始会议", action_en="open the meeting")
        return [MeetingOpened(at=iso(now))]

    def start_report(self, *, subject_id: str, now: datetime) -> list[DomainEvent]:
        """Start the next subject's report, in the configured order."""
        self._require_phase("start_report", action_zh="开始述职", action_en="start a report")
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
        return [ReportStarted(subject_id=subject_id, at=iso(now), limit_seconds=rules.time_limit(subject.level))]

    def end_report(self, *, subject_id: str, now: datetime) -> list[DomainEvent]:
        self._require_phase("end_report", action_zh="结束述职", action_en="end a report")
        if self.current_report != subject_id:
            raise ReportOutOfOrder("该对象当前没有在述职", f"{subject_id!r} is not reporting now")
        report = self.reports[subject_id]
        duration = max(0, int((now - report.started_at).total_seconds()))
        overtime = max(0, duration - report.limit_seconds) if report.limit_seconds else 0
        return [ReportEnded(subject_id=subject_id, at=iso(now), duration_seconds=duration, overtime_seconds=overtime)]

    def record_comment(
        self, *, comment_id: str, subject_id: str, text: str, author: str | None, now: datetime
    ) -> list[DomainEvent]:
        """Record a comment (点评) on a subject; author None means anonymous (背对背)."""
        self._require_phase("record_comment", action_zh="点评", action_en="comment")
        self.subject(subject_id)
        require_text(text, "点评内容", "comment text")
        if any(c.comment_id == comment_id for c in self.comments):
            raise InvalidCommand("点评编号重复", f"comment {comment_id!r} already exists")
        return [
            CommentRecorded(
                comment_id=comment_id, subject_id=subject_id, text=text, author=author,
                anonymous=author is None, at=iso(now),
            )
        ]

    def ask_question(self, *, question_id: str, subject_id: str, text: str, asked_by: str | None) -> list[DomainEvent]:
        """A question to a subject by a checked-in attendee, or anonymously (asked_by None)."""
        self._require_phase("ask_question", action_zh="提问", action_en="ask a question")
        self.subject(subject_id)
        require_text(text, "问题内容", "question text")
        if question_id in self.questions:
            raise InvalidCommand("问题编号重复", f"question {question_id!r} already exists")
        if asked_by is not None and not self.is_checked_in(asked_by):
            raise NotOnRoster("提问人尚未签到", "the person asking has not checked in")
        return [QuestionAsked(question_id=question_id, text=text, subject=subject_id, asked_by=asked_by)]

    def answer_question(self, *, question_id: str, answer: str) -> list[DomainEvent]:
        """Answer on the spot, or later a question recorded for a later answer (also after the meeting)."""
        self._require_phase("answer_question", action_zh="答复问题", action_en="answer a question")
        question = self._open_question(question_id)
        if self.phase == "closed" and not question.deferred:
            raise InvalidCommand(
                "会议已结束，只能答复登记为会后答复的问题", "after the meeting only deferred questions can be answered",
                code="question_not_deferred",
            )
        require_text(answer, "答复内容", "answer")
        return [QuestionAnswered(question_id=question_id, answer=answer, deferred=False, due_on=None)]

    def defer_question(self, *, question_id: str, promise: str, due_on: str) -> list[DomainEvent]:
        """Record the question for a later answer: what is promised and by when (YYYY-MM-DD)."""
        self._require_phase("defer_question", action_zh="登记会后答复", action_en="defer a question")
        if self._open_question(question_id).deferred:
            raise InvalidCommand("该问题已登记为会后答复", "the question is already deferred", code="question_deferred")
        require_text(promise, "承诺答复内容", "promise")
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
            raise InvalidCommand("该问题已答复", "the question has already been answered", code="question_answered")
        return question

    def close_meeting(self, *, now: datetime) -> list[DomainEvent]:
        self._require_phase("close_meeting", action_zh="结束会议", action_en="close the meeting")
        return [MeetingClosed(at=iso(now))]

    def revoke_screen_links(self, *, now: datetime) -> list[DomainEvent]:
        """Revoke every hall-screen link minted so far (in any phase: a leaked link must be stoppable)."""
        return [ScreenLinksRevoked(at=iso(now))]



_ATOMS = (str, int, float, bool, type(None), datetime)


def _copied(value: Any, memo: dict[int, Any]) -> Any:
    """`value` with its containers and mutable records copied, its frozen values shared (Meeting.__deepcopy__)."""
    if isinstance(value, _ATOMS):
        return value
    if type(value) is dict:
        return {key: _copied(item, memo) for key, item in value.items()}
    if type(value) is list:
        return [_copied(item, memo) for item in value]
    params = getattr(type(value), "__dataclass_params__", None)
    if params is not None:
        if params.frozen:
            return value
        if hasattr(value, "__dict__"):  # a record: a new one with the same fields (copy.copy, without its reduce)
            record = object.__new__(type(value))
            record.__dict__.update(value.__dict__)
            return record
    return copy.deepcopy(value, memo)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text)
