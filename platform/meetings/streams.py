"""Where a meeting's and a round's events live, and their current state through the one repository.

Reads of one meeting's live state (a hall screen, the console, a voter's
form) and the doors both load it here: one cache (events.repository), one
round trip when it is current.
"""

from __future__ import annotations

from datetime import UTC, datetime

from events import repository
from events.repository import Loaded
from meetings.domain.aggregate import Meeting
from meetings.domain.errors import UnknownMeeting, UnknownRound
from meetings.domain.round import Round

MEETING_PREFIX = "meeting-"
ROUND_PREFIX = "round-"


def meeting_stream(meeting_id: str) -> str:
    return f"{MEETING_PREFIX}{meeting_id}"


def round_stream(round_id: str) -> str:
    return f"{ROUND_PREFIX}{round_id}"


def now() -> datetime:
    """The clock the doors decide with (the aggregates take `now`, they read no clock)."""
    return datetime.now(UTC)


def load_meeting(meeting_id: str, *, known_head: tuple[int, str] | None = None) -> Loaded[Meeting]:
    """The meeting's current state (shared: do not mutate); UnknownMeeting if it was never scheduled.

    `known_head`: the stream's (version, head hash) just read from the database
    by the caller's own statement (repository.load).
    """
    loaded = repository.load(meeting_stream(meeting_id), Meeting, known_head=known_head)
    if loaded.version == 0:
        raise UnknownMeeting(meeting_id)
    return loaded


def meeting(meeting_id: str) -> Meeting:
    return load_meeting(meeting_id).state


def load_round(round_id: str) -> Loaded[Round]:
    loaded = repository.load(round_stream(round_id), Round)
    if loaded.version == 0:
        raise UnknownRound(round_id)
    return loaded
