"""Event types of a meeting's stream (the first ones; the meeting core adds more).

Past-tense names, one frozen dataclass each; the fields are the schema.
Each event carries what it needs to be read on its own (names, categories),
so later edits of the county's rosters never change a recorded meeting.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from events.chain import canonical_json
from events.types import DomainEvent, event_type, upcaster


@event_type(version=3)
@dataclass(frozen=True)
class MeetingScheduled(DomainEvent):
    meeting_id: str
    title: str
    township: str
    village: str
    starts_at: str  # ISO 8601 with offset, as entered by the county
    place: str
    # v2: the round (活动) the meeting belongs to; None for meetings recorded
    # before v2, which did not say.
    round_id: str | None = None
    # v3: the account (user name, role host) who is to run the meeting; None
    # for meetings recorded before v3 and for those scheduled without a host.
    host: str | None = None


@upcaster("MeetingScheduled", from_version=1)
def _meeting_scheduled_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    data["round_id"] = None
    return data


@upcaster("MeetingScheduled", from_version=2)
def _meeting_scheduled_v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    data["host"] = None
    return data


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


# Times in events are ISO 8601 strings with an offset ("2026-03-01T09:00:00+08:00"),
# written by the aggregate from the `now` it was given.


@event_type(version=2)
@dataclass(frozen=True)
class QuestionAnswered(DomainEvent):
    question_id: str
    answer: str  # the answer, or when deferred the promise made (e.g. "三日内书面答复")
    deferred: bool
    # v2: when deferred, the date (YYYY-MM-DD) by which the answer is promised.
    # Defaulted so that records written before v2 and callers of v1 stay valid.
    due_on: str | None = None


@upcaster("QuestionAnswered", from_version=1)
def _question_answered_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    data["due_on"] = None
    return data


def ballot_receipt(code_hash: str, marks: dict[str, dict[str, str]]) -> str:
    """The voter's receipt: lowercase hex SHA-256 of canonical {"code_hash", "marks"}.

    It proves, after the log is published, that a ballot with exactly these marks
    was counted under this code, without naming the voter.
    """
    return hashlib.sha256(canonical_json({"code_hash": code_hash, "marks": marks})).hexdigest()


@event_type(version=2)
@dataclass(frozen=True)
class BallotCast(DomainEvent):
    code_hash: str
    # subject id -> criterion id -> grade id (ASCII identifiers: the canonical
    # form of the hash chain takes only identifier keys; names live in the round's rules)
    marks: dict[str, dict[str, str]]
    # v2. Both have defaults so that code written against v1 (BallotCast(code_hash,
    # marks)) keeps working: an empty receipt is filled in from code_hash and marks.
    receipt: str = ""
    source: str = "phone"  # phone | paper

    def __post_init__(self) -> None:
        if not self.receipt:
            object.__setattr__(self, "receipt", ballot_receipt(self.code_hash, self.marks))


@upcaster("BallotCast", from_version=1)
def _ballot_cast_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    data["receipt"] = ballot_receipt(data["code_hash"], data["marks"])
    data["source"] = "phone"  # v1 only knew phone ballots
    return data


# -- configuration and announcement ---------------------------------------------------


@dataclass(frozen=True)
class SubjectEntry:
    """A subject (述评对象) in report order: a person or a body (村党支部, 村委会)."""

    subject_id: str  # ASCII identifier, used as key in ballot marks
    name: str
    level: str  # township | village
    kind: str = "person"  # person | body
    # MeetingConfigured v2: the registry entry the subject refers to (None for a
    # subject named for this meeting only), and the post held when the meeting
    # was configured (a snapshot: the log reads on its own, whatever the
    # registry says later). See meetings.registry.
    official_id: str | None = None
    body_id: str | None = None
    post: str | None = None


@dataclass(frozen=True)
class RosterEntry:
    """A member of the meeting's roster snapshot, with the voter category."""

    member_id: str
    name: str
    category: str


@event_type(version=2)
@dataclass(frozen=True)
class MeetingConfigured(DomainEvent):
    rules: dict[str, Any]  # Rules.to_data(); read back with Rules.from_data
    subjects: list[SubjectEntry]  # in report order
    roster: list[RosterEntry]


@upcaster("MeetingConfigured", from_version=1)
def _meeting_configured_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # v1 subjects were named for their meeting only: they refer to nothing in the registry.
    data["subjects"] = [{**subject, "official_id": None, "body_id": None, "post": None} for subject in data["subjects"]]
    return data


@event_type(version=1)
@dataclass(frozen=True)
class MeetingAnnounced(DomainEvent):
    starts_at: str
    place: str
    agenda: list[str]
    channels: list[str]  # notice_board | message_group | phone | broadcast | ...
    announced_at: str
    lead_time_override_reason: str | None  # set when announced later than the rule allows


@event_type(version=1)
@dataclass(frozen=True)
class QuorumOverrideApproved(DomainEvent):
    reason: str
    actor: str
    at: str


@event_type(version=1)
@dataclass(frozen=True)
class MeetingOpened(DomainEvent):
    at: str


# -- reports, comments --------------------------------------------------------------------


@event_type(version=1)
@dataclass(frozen=True)
class ReportStarted(DomainEvent):
    subject_id: str
    at: str
    limit_seconds: int


@event_type(version=1)
@dataclass(frozen=True)
class ReportEnded(DomainEvent):
    subject_id: str
    at: str
    duration_seconds: int
    overtime_seconds: int  # 0 when within the limit


@event_type(version=1)
@dataclass(frozen=True)
class CommentRecorded(DomainEvent):
    comment_id: str
    subject_id: str
    text: str
    author: str | None  # None when anonymous (背对背)
    anonymous: bool
    at: str


# -- ballot ------------------------------------------------------------------------------------


@event_type(version=2)
@dataclass(frozen=True)
class BallotCodesIssued(DomainEvent):
    """One batch of codes; batches are numbered 1, 2, ... in the order of these events."""

    category: str
    count: int
    code_hashes: list[str]  # SHA-256 hex of each one-time code; never the codes
    # v2: the margin over the category's roster the host stated for this batch
    # (spare slips for spoiled ones); 0 for batches recorded before v2.
    margin: int = 0


@upcaster("BallotCodesIssued", from_version=1)
def _ballot_codes_issued_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    data["margin"] = 0
    return data


@event_type(version=1)
@dataclass(frozen=True)
class BallotCodesPrinted(DomainEvent):
    """The host confirms a batch of codes was printed (or written out): it leaves the print list."""

    batch_no: int
    at: str


@event_type(version=1)
@dataclass(frozen=True)
class BallotOpened(DomainEvent):
    at: str


@dataclass(frozen=True)
class PaperBallot:
    code_hash: str
    marks: dict[str, dict[str, str]]


@event_type(version=1)
@dataclass(frozen=True)
class PaperBatchEntered(DomainEvent):
    batch_no: int
    teller: str
    ballots: list[PaperBallot]
    at: str


@event_type(version=1)
@dataclass(frozen=True)
class PaperBatchReconciled(DomainEvent):
    batch_no: int
    tellers: list[str]  # the tellers whose entries agree
    ballot_count: int
    at: str


@event_type(version=1)
@dataclass(frozen=True)
class PaperBatchMismatchDetected(DomainEvent):
    batch_no: int
    tellers: list[str]  # the tellers whose latest entries disagree
    code_hashes: list[str]  # ballots that differ (missing on one side or other marks)
    at: str


@event_type(version=1)
@dataclass(frozen=True)
class BallotClosed(DomainEvent):
    at: str
    phone_ballots: int


@dataclass(frozen=True)
class CategoryCount:
    category: str
    ballots: int  # ballots counted with codes of this category
    present: int  # people of this category checked in


@event_type(version=1)
@dataclass(frozen=True)
class CountDiscrepancyAccepted(DomainEvent):
    """The host's recorded decision to announce although ballots exceed attendance (收回票数 > 到会人数).

    `categories` are the counts the decision was taken on; if they change
    afterwards (another paper batch), a new decision is needed.
    """

    reason: str
    actor: str
    categories: list[CategoryCount]
    at: str


# -- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GroupOutcome:
    group_id: str  # a voter category, or "other" for merged small categories
    categories: list[str]
    ballots: int
    counts: dict[str, dict[str, int]]  # criterion id -> grade id -> count


@dataclass(frozen=True)
class SubjectOutcome:
    subject_id: str
    name: str
    ballots: int
    counts: dict[str, dict[str, int]]  # criterion id -> grade id -> count (all groups)
    groups: list[GroupOutcome]
    favourable_percent: str  # display form, e.g. "87.5%" (see tally.display_percent)
    unfavourable_percent: str
    score_numerator: int  # weighted score as an exact fraction
    score_denominator: int
    score: str  # display form, e.g. "86.7"
    flagged: bool  # unfavourable rate >= the admonishment threshold
    # ResultsAnnounced v2: the id of the scale the subject was graded on (its kind's
    # scale in the rules: bodies and persons may differ). None in results recorded
    # before v2, when the rules had one scale for every subject: that scale.
    scale_id: str | None = None


@event_type(version=2)
@dataclass(frozen=True)
class ResultsAnnounced(DomainEvent):
    at: str
    ballots_counted: int
    phone_ballots: int
    paper_ballots: int
    eligible: int  # denominator of the participation rate
    participation_percent: str
    subjects: list[SubjectOutcome]
    flagged_subjects: list[str]


@upcaster("ResultsAnnounced", from_version=1)
def _results_announced_v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    data["subjects"] = [{**subject, "scale_id": None} for subject in data["subjects"]]
    return data


@event_type(version=1)
@dataclass(frozen=True)
class MeetingClosed(DomainEvent):
    at: str


@event_type(version=1)
@dataclass(frozen=True)
class ScreenLinksRevoked(DomainEvent):
    """Every hall-screen link minted before this event stops working (open screens are disconnected)."""

    at: str


# -- rounds (a stream of their own: round-<round_id>) --------------------------------------


@event_type(version=1)
@dataclass(frozen=True)
class RoundOpened(DomainEvent):
    """The county or township committee issued a round (活动通知) with its rules."""

    round_id: str
    name: str
    year: int
    rules: dict[str, Any]  # Rules.to_data(); meetings of the round copy it into their own log
