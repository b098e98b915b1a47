"""Meeting commands outside the ballot: phases, announcement, check-in, quorum, reports, questions."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import timedelta

import pytest
from meeting_given import (
    ANNOUNCED_AT,
    PARTY_CODES,
    PHASES,
    REP_CODES,
    ROSTER,
    RULES,
    SUBJECTS,
    T0,
    Run,
    code,
    events_until,
    marks,
    meeting_at,
)

from events.types import DomainEvent
from meetings.domain.aggregate import Meeting
from meetings.domain.errors import (
    AlreadyCheckedIn,
    DomainError,
    InvalidCommand,
    LeadTimeTooShort,
    NotOnRoster,
    QuorumNotMet,
    ReportOutOfOrder,
    ReportsIncomplete,
    UnknownQuestion,
    WrongPhase,
)
from meetings.domain.voting import SealedBallot
from meetings.events import (
    AttendeeCheckedIn,
    BallotOpened,
    CommentRecorded,
    MeetingAnnounced,
    MeetingOpened,
    PaperBallot,
    QuestionAnswered,
    QuestionAsked,
    QuorumOverrideApproved,
    ReportEnded,
    ReportStarted,
)
from projections.phases import PHASE_OF_EVENT

Command = Callable[[Meeting], object]

# Each command with the phases in which it is allowed; in every other phase it must raise WrongPhase.
COMMANDS: dict[str, tuple[Command, set[str]]] = {
    "schedule": (lambda m: m.schedule(meeting_id="m2", title="述评大会", township="城关镇", village="东村", starts_at=T0, place="会议室"), {"new"}),
    "configure": (lambda m: m.configure(rules=RULES, subjects=SUBJECTS, roster=ROSTER), {"scheduled"}),
    "announce": (lambda m: m.announce(starts_at=T0, place="会议室", agenda=[], channels=["broadcast"], now=ANNOUNCED_AT), {"scheduled"}),
    "sign_in": (lambda m: m.sign_in(member_id="nobody"), {"announced", "opened"}),
    "sign_in_guest": (lambda m: m.sign_in_guest(guest_id="g9", name="驻村工作队"), {"announced", "opened"}),
    "override_quorum": (lambda m: m.override_quorum(reason="雨天", actor="host", now=T0), {"announced", "opened"}),
    "open_meeting": (lambda m: m.open_meeting(now=T0), {"announced"}),
    "start_report": (lambda m: m.start_report(subject_id="zhibu", now=T0), {"opened"}),
    "end_report": (lambda m: m.end_report(subject_id="zhibu", now=T0), {"opened"}),
    "record_comment": (lambda m: m.record_comment(comment_id="c1", subject_id="zhibu", text="好", author=None, now=T0), {"opened"}),
    "ask_question": (lambda m: m.ask_question(question_id="q9", subject_id="zhibu", text="路呢？", asked_by=None), {"opened"}),
    "answer_question": (lambda m: m.answer_question(question_id="q9", answer="修"), {"opened", "ballot_open", "ballot_closed", "results_announced", "closed"}),
    "defer_question": (lambda m: m.defer_question(question_id="q9", promise="下周答复", due_on="2026-03-20"), {"opened", "ballot_open", "ballot_closed", "results_announced"}),
    "issue_ballot_codes": (lambda m: m.issue_ballot_codes(category="guest", code_hashes=[code("g")], margin=1), {"announced", "opened", "ballot_open"}),
    "mark_codes_printed": (lambda m: m.mark_codes_printed(batch_no=1, now=T0), {"announced", "opened", "ballot_open", "ballot_closed"}),
    "accept_count_discrepancy": (lambda m: m.accept_count_discrepancy(reason="核实为一人误投两张", actor="host", now=T0), {"ballot_closed"}),
    "open_ballot": (lambda m: m.open_ballot(now=T0), {"opened"}),
    "cast_ballot": (lambda m: m.cast_ballot(code_hash=PARTY_CODES[4], marks={}), {"ballot_open"}),
    "close_ballot": (lambda m: m.close_ballot(sealed_ballots=[], now=T0), {"ballot_open"}),
    "enter_paper_batch": (lambda m: m.enter_paper_batch(batch_no=1, teller="t1", ballots=[], now=T0), {"ballot_open", "ballot_closed"}),
    "announce_results": (lambda m: m.announce_results(now=T0), {"ballot_closed"}),
    "close_meeting": (lambda m: m.close_meeting(now=T0), {"results_announced"}),
}

ALL_PHASES = ["new", *PHASES]
MEETINGS = {"new": Meeting(), **{phase: meeting_at(phase) for phase in PHASES}}


@pytest.mark.parametrize(
    ("name", "phase"),
    [(name, phase) for name, (_, allowed) in COMMANDS.items() for phase in ALL_PHASES if phase not in allowed],
)
def test_every_command_is_refused_outside_its_phases(name: str, phase: str) -> None:
    command, _ = COMMANDS[name]
    with pytest.raises(WrongPhase) as info:
        command(MEETINGS[phase])
    assert info.value.code == "wrong_phase"
    assert "当前阶段" in info.value.message_zh and phase in info.value.message_en


def _with_open_question(phase: str) -> Meeting:
    """The meeting in `phase`, with question q9 asked (and not answered) while it was opened."""
    events = events_until(phase)
    opened = next(i for i, e in enumerate(events) if isinstance(e, MeetingOpened)) + 1
    asked = QuestionAsked(question_id="q9", text="村道什么时候修？", subject="zhibu", asked_by=None)
    return Meeting.from_events([*events[:opened], asked, *events[opened:]])


def _deferred_question(phase: str) -> Meeting:
    """As _with_open_question, the question recorded for a later answer (the only kind answered after the close)."""
    meeting = _with_open_question(phase)
    if phase != "closed":
        return meeting
    events = events_until(phase)
    opened = next(i for i, e in enumerate(events) if isinstance(e, MeetingOpened)) + 1
    asked = QuestionAsked(question_id="q9", text="村道什么时候修？", subject="zhibu", asked_by=None)
    deferred = QuestionAnswered(question_id="q9", answer="会后答复", deferred=True, due_on="2026-03-20")
    return Meeting.from_events([*events[:opened], asked, deferred, *events[opened:]])


def _over_attendance(phase: str) -> Meeting:
    """Closed with five party members' ballots and four party members checked in."""
    present = ["p1", "p2", "p3", "p4", "r1", "r2", "r3"]
    sealed = [SealedBallot(code_hash=c, marks=marks("hao")) for c in PARTY_CODES]
    return meeting_at(phase, present=present, sealed=sealed)


def _reporting(phase: str) -> Meeting:
    run = Run(events_until(phase))
    run.do(run.meeting.start_report(subject_id="zhibu", now=T0))
    return run.meeting


# The state in which a command can succeed in an allowed phase, where the
# plain meeting of that phase would refuse it for another reason.
READY: dict[str, Callable[[str], Meeting]] = {
    "sign_in": lambda phase: meeting_at(phase, present=["p1"]),
    "end_report": _reporting,
    "answer_question": _deferred_question,
    "defer_question": _with_open_question,
    "accept_count_discrepancy": _over_attendance,
    "open_ballot": lambda phase: Meeting.from_events(events_until("ballot_open")[:-1]),  # reports done, quorum met
}
SUCCEEDS: dict[str, Command] = {  # where the refusal table's arguments could not succeed
    "sign_in": lambda m: m.sign_in(member_id="p2"),
    "cast_ballot": lambda m: m.cast_ballot(code_hash=PARTY_CODES[4], marks=marks("hao")),
    "enter_paper_batch": lambda m: m.enter_paper_batch(
        batch_no=1, teller="t1", ballots=[PaperBallot(code_hash=REP_CODES[0], marks=marks("hao"))], now=T0
    ),
}


@pytest.mark.parametrize(
    ("name", "phase"),
    [(name, phase) for name, (_, allowed) in COMMANDS.items() for phase in ALL_PHASES if phase in allowed],
)
def test_every_command_runs_in_every_phase_where_the_rules_allow_it(name: str, phase: str) -> None:
    # The table above is written here, independently of the aggregate's own
    # ALLOWED_PHASES: a command allowed in fewer phases than the rules say fails here.
    command = SUCCEEDS.get(name, COMMANDS[name][0])
    meeting = READY[name](phase) if name in READY else MEETINGS[phase]
    assert meeting.phase == phase
    events = command(meeting)
    assert isinstance(events, list) and events and all(isinstance(e, DomainEvent) for e in events)
    after = copy.deepcopy(meeting)
    for event in events:  # what was decided folds onto the state it was decided on
        after.apply(event)
    assert after.version == meeting.version + len(events)


@pytest.mark.parametrize("phase", PHASES)
def test_phases_fold_from_events(phase: str) -> None:
    assert MEETINGS[phase].phase == phase


def test_a_meeting_cannot_be_scheduled_twice_nor_announced_unconfigured() -> None:
    scheduled = Meeting.from_events(events_until("scheduled")[:1])
    with pytest.raises(WrongPhase):
        scheduled.schedule(meeting_id="m", title="t", township="x", village="y", starts_at=T0, place="p")
    with pytest.raises(DomainError) as info:
        scheduled.announce(starts_at=T0, place="会议室", agenda=[], channels=["broadcast"], now=ANNOUNCED_AT)
    assert info.value.code == "not_configured"


def test_announcing_late_needs_a_reason_which_is_recorded() -> None:
    meeting = meeting_at("scheduled")
    late = T0 - timedelta(days=2, hours=23)
    with pytest.raises(LeadTimeTooShort) as info:
        meeting.announce(starts_at=T0, place="会议室", agenda=["述职"], channels=["message_group"], now=late)
    assert "至少提前3天" in info.value.message_zh
    with pytest.raises(LeadTimeTooShort):
        meeting.announce(starts_at=T0, place="会议室", agenda=[], channels=["phone"], now=late, override_reason="   ")
    [event] = meeting.announce(starts_at=T0, place="会议室", agenda=["述职"], channels=["phone"], now=late, override_reason="防汛任务提前")
    assert isinstance(event, MeetingAnnounced) and event.lead_time_override_reason == "防汛任务提前"
    assert event.announced_at == late.isoformat() and event.starts_at == T0.isoformat()


def test_announcing_exactly_three_days_ahead_needs_no_reason() -> None:
    [event] = meeting_at("scheduled").announce(
        starts_at=T0, place="会议室", agenda=[], channels=["broadcast"], now=T0 - timedelta(days=3), override_reason="不需要"
    )
    assert isinstance(event, MeetingAnnounced) and event.lead_time_override_reason is None


def test_check_in_by_roster_then_refuses_a_second_check_in_and_strangers() -> None:
    run = Run(events_until("announced", present=[]))
    [event] = run.do(run.meeting.sign_in(member_id="p1"))
    assert event == AttendeeCheckedIn(attendee_id="p1", name="党员1", category="party_member")
    with pytest.raises(AlreadyCheckedIn) as info:
        run.meeting.sign_in(member_id="p1")
    assert "已签到" in info.value.message_zh
    with pytest.raises(NotOnRoster):
        run.meeting.sign_in(member_id="x9")
    [guest] = run.do(run.meeting.sign_in_guest(guest_id="g1", name="扶贫工作队李明"))
    assert guest == AttendeeCheckedIn(attendee_id="g1", name="扶贫工作队李明", category="guest")
    with pytest.raises(AlreadyCheckedIn):
        run.meeting.sign_in_guest(guest_id="g1", name="扶贫工作队李明")
    with pytest.raises(AlreadyCheckedIn):  # a roster member cannot come in as a guest
        run.meeting.sign_in_guest(guest_id="p2", name="党员2")


def _ready_for_ballot(present: list[str]) -> Run:
    run = Run(events_until("opened", present=present))
    for subject in SUBJECTS:
        run.do(run.meeting.start_report(subject_id=subject.subject_id, now=T0))
        run.do(run.meeting.end_report(subject_id=subject.subject_id, now=T0 + timedelta(minutes=3)))
    return run


def test_quorum_blocks_the_ballot_until_met() -> None:
    # 5 party members: 4/5 -> 4 required; representatives: at least 3.
    run = _ready_for_ballot(["p1", "p2", "p3", "r1", "r2", "r3"])
    status = {s.category: s for s in run.meeting.quorum()}
    assert (status["party_member"].roster, status["party_member"].present, status["party_member"].required) == (5, 3, 4)
    assert not status["party_member"].met and status["representative"].met
    with pytest.raises(QuorumNotMet) as info:
        run.meeting.open_ballot(now=T0)
    assert "党员应到4人，实到3人" in info.value.message_zh
    run.do(run.meeting.sign_in(member_id="p4"))  # late arrival: check-in is open while opened
    assert run.meeting.quorum_met()
    assert isinstance(run.meeting.open_ballot(now=T0)[0], BallotOpened)


def test_quorum_override_is_recorded_and_lets_the_ballot_open() -> None:
    run = _ready_for_ballot(["p1"])
    with pytest.raises(InvalidCommand):
        run.meeting.override_quorum(reason=" ", actor="host", now=T0)
    [override] = run.do(run.meeting.override_quorum(reason="外出务工党员多，经镇党委同意", actor="host-1", now=T0))
    assert override == QuorumOverrideApproved(reason="外出务工党员多，经镇党委同意", actor="host-1", at=T0.isoformat())
    assert not run.meeting.quorum_met()
    assert isinstance(run.meeting.open_ballot(now=T0)[0], BallotOpened)


def test_reports_go_in_order_and_overtime_is_measured() -> None:
    run = Run(events_until("opened"))
    with pytest.raises(ReportOutOfOrder) as info:
        run.meeting.start_report(subject_id="wang", now=T0)
    assert "下一位是村党支部" in info.value.message_zh
    [started] = run.do(run.meeting.start_report(subject_id="zhibu", now=T0))
    assert started == ReportStarted(subject_id="zhibu", at=T0.isoformat(), limit_seconds=480)
    with pytest.raises(ReportOutOfOrder):  # one at a time
        run.meeting.start_report(subject_id="wang", now=T0)
    with pytest.raises(ReportsIncomplete):
        run.meeting.open_ballot(now=T0)
    [ended] = run.do(run.meeting.end_report(subject_id="zhibu", now=T0 + timedelta(minutes=9, seconds=5)))
    assert ended == ReportEnded(subject_id="zhibu", at=(T0 + timedelta(minutes=9, seconds=5)).isoformat(), duration_seconds=545, overtime_seconds=65)
    run.do(run.meeting.start_report(subject_id="wang", now=T0 + timedelta(minutes=10)))
    [ended] = run.do(run.meeting.end_report(subject_id="wang", now=T0 + timedelta(minutes=17)))
    assert isinstance(ended, ReportEnded) and (ended.duration_seconds, ended.overtime_seconds) == (420, 0)
    assert run.meeting.next_subject() is None
    with pytest.raises(ReportOutOfOrder):
        run.meeting.end_report(subject_id="wang", now=T0)


def test_comments_record_who_on_whom_or_anonymous() -> None:
    run = Run(events_until("opened"))
    [named] = run.do(run.meeting.record_comment(comment_id="c1", subject_id="wang", text="村道修缮进度慢", author="leader-1", now=T0))
    [anonymous] = run.do(run.meeting.record_comment(comment_id="c2", subject_id="zhibu", text="财务公开不及时", author=None, now=T0))
    assert named == CommentRecorded(comment_id="c1", subject_id="wang", text="村道修缮进度慢", author="leader-1", anonymous=False, at=T0.isoformat())
    assert isinstance(anonymous, CommentRecorded) and anonymous.anonymous and anonymous.author is None
    with pytest.raises(InvalidCommand):
        run.meeting.record_comment(comment_id="c1", subject_id="wang", text="重复", author=None, now=T0)
    with pytest.raises(DomainError) as info:
        run.meeting.record_comment(comment_id="c3", subject_id="li", text="?", author=None, now=T0)
    assert info.value.code == "unknown_subject"


def test_questions_answered_on_the_spot_or_deferred_with_a_promise() -> None:
    run = Run(events_until("opened"))
    [asked] = run.do(run.meeting.ask_question(question_id="q1", subject_id="wang", text="低保名单为何不公示？", asked_by="r2"))
    assert asked == QuestionAsked(question_id="q1", text="低保名单为何不公示？", subject="wang", asked_by="r2")
    run.do(run.meeting.ask_question(question_id="q2", subject_id="zhibu", text="集体收入用在哪里？", asked_by=None))
    with pytest.raises(NotOnRoster):
        run.meeting.ask_question(question_id="q3", subject_id="wang", text="?", asked_by="p9")
    with pytest.raises(InvalidCommand):
        run.meeting.ask_question(question_id="q1", subject_id="wang", text="again", asked_by=None)
    [answered] = run.do(run.meeting.answer_question(question_id="q1", answer="本周五前张榜公示"))
    assert answered == QuestionAnswered(question_id="q1", answer="本周五前张榜公示", deferred=False, due_on=None)
    with pytest.raises(InvalidCommand):
        run.meeting.defer_question(question_id="q2", promise="会后核实答复", due_on="3月20日")
    [deferred] = run.do(run.meeting.defer_question(question_id="q2", promise="会后核实后书面答复", due_on="2026-03-20"))
    assert deferred == QuestionAnswered(question_id="q2", answer="会后核实后书面答复", deferred=True, due_on="2026-03-20")
    assert run.meeting.questions["q2"].deferred and run.meeting.questions["q2"].due_on == "2026-03-20"
    with pytest.raises(InvalidCommand) as deferred_again:
        run.meeting.defer_question(question_id="q2", promise="再议", due_on="2026-03-30")
    assert deferred_again.value.code == "question_deferred"
    with pytest.raises(InvalidCommand) as again:
        run.meeting.answer_question(question_id="q1", answer="again")
    assert again.value.code == "question_answered"
    with pytest.raises(UnknownQuestion):
        run.meeting.answer_question(question_id="q7", answer="?")


def test_a_deferred_question_is_answered_later_even_after_the_meeting_closed() -> None:
    run = Run(events_until("opened"))
    run.do(run.meeting.ask_question(question_id="q1", subject_id="wang", text="低保名单为何不公示？", asked_by=None))
    run.do(run.meeting.ask_question(question_id="q2", subject_id="wang", text="村道何时修？", asked_by=None))
    run.do(run.meeting.defer_question(question_id="q1", promise="会后核实后书面答复", due_on="2026-03-20"))
    for event in events_until("closed")[len(events_until("opened")):]:
        run.do([event])
    assert run.meeting.phase == "closed"
    [answered] = run.do(run.meeting.answer_question(question_id="q1", answer="已于3月18日张榜公示"))
    assert answered == QuestionAnswered(question_id="q1", answer="已于3月18日张榜公示", deferred=False, due_on=None)
    question = run.meeting.questions["q1"]
    assert (question.answer, question.promise, question.due_on) == ("已于3月18日张榜公示", "会后核实后书面答复", "2026-03-20")
    with pytest.raises(InvalidCommand) as info:  # answered once
        run.meeting.answer_question(question_id="q1", answer="again")
    assert info.value.code == "question_answered"
    with pytest.raises(InvalidCommand) as not_deferred:  # after the close, only what was promised for later
        run.meeting.answer_question(question_id="q2", answer="会后才答")
    assert not_deferred.value.code == "question_not_deferred" and "会后答复" in not_deferred.value.message_zh


def test_a_full_run_produces_events_that_pass_their_schemas() -> None:
    from events.types import NewEvent, load, validate

    log = events_until("closed")
    run = Run()
    for event in log:
        new = NewEvent.of(event)
        validate(new.type, new.data)
        assert load(new.type, new.schema_version, new.data) == event
        run.do([event])
    assert run.meeting.phase == "closed"


def test_the_events_said_to_move_the_phase_are_exactly_those_that_do() -> None:
    """live.relay sends a snapshot at once when its notice names one of PHASE_OF_EVENT: the list must be the fold's."""
    meeting = Meeting()
    moved: dict[str, str] = {}
    for event in events_until("closed"):
        before = meeting.phase
        meeting.apply(event)
        if meeting.phase != before:
            moved[type(event).__name__] = meeting.phase
    assert moved == PHASE_OF_EVENT
