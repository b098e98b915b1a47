"""Event types of a meeting's public notice (公示), its objections (异议) and its filing (备案).

They live in the stream `notices-<meeting id>` (followup.notices), one per
meeting: every notice published for the meeting (a correction is a new
notice that supersedes the one before), the objections raised against them
and their answers, the end of the notice period, and the filing.

An objection's contact is recorded (the county may need to reach the
objector) but no page for the public ever shows it; the objector's address
is never recorded anywhere (the public actor has no name).
"""

from __future__ import annotations

from dataclasses import dataclass

from events.types import DomainEvent, event_type


@dataclass(frozen=True)
class NoticeSubject:
    """One subject's line on a notice, as the results announced it (display forms, e.g. "87.5%")."""

    subject_id: str
    name: str
    ballots: int
    favourable_percent: str
    unfavourable_percent: str
    flagged: bool


@event_type(version=1)
@dataclass(frozen=True)
class NoticePublished(DomainEvent):
    """The organization department published a notice of a meeting's results; it never changes afterwards.

    `head_hash` is the meeting log's head as the hall screen showed it at the
    close (the hash of MeetingClosed, at `head_version` of the meeting's
    stream). The period runs from `at` to `period_ends` (`working_days`
    working days, followup.working_days). `supersedes` names the notice this
    one corrects, if any.
    """

    notice_id: str
    meeting_id: str
    meeting_title: str
    township: str
    village: str
    title: str
    text: str
    subjects: list[NoticeSubject]
    flagged_subjects: list[str]
    ballots_counted: int
    eligible: int
    participation_percent: str
    head_hash: str
    head_version: int
    working_days: int
    period_ends: str
    supersedes: str | None
    published_by: str
    at: str


@event_type(version=1)
@dataclass(frozen=True)
class ObjectionRaised(DomainEvent):
    """A member of the public objected to a notice during its period (no account, no address recorded)."""

    objection_id: str
    notice_id: str
    text: str
    contact: str | None
    at: str


@event_type(version=1)
@dataclass(frozen=True)
class ObjectionAnswered(DomainEvent):
    """The county answered an objection (who, when, what); the answer is public, the contact is not."""

    objection_id: str
    answer: str
    answered_by: str
    at: str


@event_type(version=1)
@dataclass(frozen=True)
class NoticePeriodEnded(DomainEvent):
    """The notice's period was over (recorded by the sweeper at `at`, on or after `period_ends`)."""

    notice_id: str
    period_ends: str
    at: str


@event_type(version=1)
@dataclass(frozen=True)
class ResultsFiled(DomainEvent):
    """The meeting's results were filed with the county organization department (报县委组织部备案)."""

    filing_id: str
    notice_id: str
    head_hash: str
    filed_by: str
    at: str
