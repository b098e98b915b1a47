"""Event types of a meeting's stream (the first ones; the meeting core adds more).

Past-tense names, one frozen dataclass each; the fields are the schema.
Each event carries what it needs to be read on its own (names, categories),
so later edits of the county's rosters never change a recorded meeting.
"""

from __future__ import annotations

from dataclasses import dataclass

from events.types import DomainEvent, event_type


@event_type(version=1)
@dataclass(frozen=True)
class MeetingScheduled(DomainEvent):
    meeting_id: str
    title: str
    township: str
    village: str
    starts_at: str  # ISO 8601 with offset, as entered by the county
    place: str


@event_type(version=1)
@dataclass(frozen=True)
class AttendeeCheckedIn(DomainEvent):
    attendee_id: str
    name: str
    category: str  # party_member | representative | guest


@event_type(version=1)
@dataclass(frozen=True)
class QuestionAsked(DomainEvent):
    question_id: str
    text: str
    subject: str
    asked_by: str | None  # None when asked anonymously


@event_type(version=1)
@dataclass(frozen=True)
class QuestionAnswered(DomainEvent):
    question_id: str
    answer: str
    deferred: bool


@event_type(version=1)
@dataclass(frozen=True)
class BallotCast(DomainEvent):
    code_hash: str
    # subject id -> criterion id -> grade id (ASCII identifiers: the canonical
    # form of the hash chain takes only identifier keys; names live in the round's rules)
    marks: dict[str, dict[str, str]]
