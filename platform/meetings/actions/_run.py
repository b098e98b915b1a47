"""What every meeting door does once it has authorized and validated: decide and append."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from accounts.roles import Actor
from common.commands import CommandRef
from events import repository
from events.repository import Outcome
from events.types import DomainEvent
from meetings.domain.aggregate import Meeting
from meetings.domain.errors import UnknownMeeting
from meetings.streams import meeting_stream


def on_meeting(
    meeting_id: str,
    decide: Callable[[Meeting], Sequence[DomainEvent]],
    *,
    actor: Actor,
    command_id: CommandRef,
    exclusive: bool = False,
) -> Outcome[Meeting]:
    """Decide a command on the meeting's current state and append what it decided.

    UnknownMeeting for a meeting that was never scheduled. A retried command
    (same command id) gets what it recorded the first time.
    """

    def decide_on_existing(meeting: Meeting) -> Sequence[DomainEvent]:
        if meeting.version == 0:
            raise UnknownMeeting(meeting_id)
        return decide(meeting)

    return repository.execute(
        meeting_stream(meeting_id), Meeting, decide_on_existing,
        command_id=command_id, actor=actor.name, exclusive=exclusive,
    )
