"""Builders for the meeting tests: rules, roster, codes, and a meeting run up to a phase.

`events_until(phase)` runs the real commands and returns the events they
produced, so that tests read "given these events, when command, then events".
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from fractions import Fraction

from events.types import DomainEvent
from meetings.domain.aggregate import Meeting
from meetings.domain.rules import SCALE_HAO, Criterion, QuorumRule, Rules, one_scale
from meetings.domain.voting import SealedBallot
from meetings.events import RosterEntry, SubjectEntry

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 10, 9, 0, tzinfo=CST)  # the meeting starts
ANNOUNCED_AT = T0 - timedelta(days=5)

PHASES = ["scheduled", "announced", "opened", "ballot_open", "ballot_closed", "results_announced", "closed"]

RULES = Rules(
    variant="custom",
    scales=one_scale(SCALE_HAO),
    criteria=(Criterion("sixiang_jianshe", "思想建设"), Criterion("gongzuo_jixiao", "工作绩效")),
    voter_categories=("party_member", "representative", "guest"),
    graders={"village": ("party_member", "representative", "guest"), "township": ("party_member",)},
    category_weights={"party_member": 2, "representative": 1, "guest": 1},
    quorum=(QuorumRule("party_member", min_share=Fraction(4, 5)), QuorumRule("representative", min_count=3)),
    min_group_size=2,
)
SUBJECTS = [
    SubjectEntry(subject_id="zhibu", name="村党支部", level="village", kind="body"),
    SubjectEntry(subject_id="wang", name="王建国", level="village", kind="person"),
]
PARTY = [RosterEntry(member_id=f"p{i}", name=f"党员{i}", category="party_member") for i in range(1, 6)]
REPS = [RosterEntry(member_id=f"r{i}", name=f"代表{i}", category="representative") for i in range(1, 5)]
ROSTER = PARTY + REPS


def code(n: int | str) -> str:
    """The hash of a made-up one-time code."""
    return hashlib.sha256(f"code-{n}".encode()).hexdigest()


PARTY_CODES = [code(f"p{i}") for i in range(5)]
REP_CODES = [code(f"r{i}") for i in range(4)]


def marks(grade: str = "hao", *, subjects: Iterable[str] = ("zhibu", "wang")) -> dict[str, dict[str, str]]:
    return {s: {"sixiang_jianshe": grade, "gongzuo_jixiao": grade} for s in subjects}


class Run:
    """A meeting driven by commands; keeps the log and checks live state equals rebuilt."""

    def __init__(self, events: Iterable[DomainEvent] = ()) -> None:
        self.log: list[DomainEvent] = list(events)
        self.meeting = Meeting.from_events(self.log)

    def do(self, new: list[DomainEvent]) -> list[DomainEvent]:
        for event in new:
            self.meeting.apply(event)
            self.log.append(event)
        assert Meeting.from_events(self.log) == self.meeting  # live equals rebuilt
        return new


def events_until(
    phase: str,
    *,
    rules: Rules = RULES,
    present: Iterable[str] | None = None,
    sealed: Iterable[SealedBallot] | None = None,
) -> list[DomainEvent]:
    run = Run()
    m = lambda: run.meeting  # noqa: E731 (always the current state)
    run.do(m().schedule(meeting_id="m1", title="2026年一季度述评大会", township="城关镇", village="东村", starts_at=T0, place="村委会议室"))
    run.do(m().configure(rules=rules, subjects=SUBJECTS, roster=ROSTER))
    if phase == "scheduled":
        return run.log
    run.do(m().announce(starts_at=T0, place="村委会议室", agenda=["述职", "提问", "测评"], channels=["notice_board"], now=ANNOUNCED_AT))
    for member_id in present if present is not None else [e.member_id for e in ROSTER]:
        run.do(m().sign_in(member_id=member_id))
    run.do(m().issue_ballot_codes(category="party_member", code_hashes=PARTY_CODES))
    run.do(m().issue_ballot_codes(category="representative", code_hashes=REP_CODES))
    if phase == "announced":
        return run.log
    run.do(m().open_meeting(now=T0))
    if phase == "opened":
        return run.log
    at = T0
    for subject in SUBJECTS:
        run.do(m().start_report(subject_id=subject.subject_id, now=at))
        at += timedelta(minutes=5)
        run.do(m().end_report(subject_id=subject.subject_id, now=at))
    run.do(m().open_ballot(now=at))
    if phase == "ballot_open":
        return run.log
    if sealed is None:
        sealed = [SealedBallot(code_hash=c, marks=marks("hao")) for c in PARTY_CODES[:3]]
    run.do(m().close_ballot(sealed_ballots=sealed, now=at + timedelta(minutes=10)))
    if phase == "ballot_closed":
        return run.log
    run.do(m().announce_results(now=at + timedelta(minutes=11)))
    if phase == "results_announced":
        return run.log
    run.do(m().close_meeting(now=at + timedelta(minutes=20)))
    assert phase == "closed"
    return run.log


def meeting_at(phase: str, **kwargs: object) -> Meeting:
    return Meeting.from_events(events_until(phase, **kwargs))  # type: ignore[arg-type]


def with_rules(**changes: object) -> Rules:
    return replace(RULES, **changes)  # type: ignore[arg-type]
