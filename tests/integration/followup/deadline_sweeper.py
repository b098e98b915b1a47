"""A test-only deadline and its sweeper: the smallest thing time can make due.

A county's `test-deadline` stream holds TestDeadlineSet(deadline); the
sweeper `test_deadline` appends TestDeadlinePassed once `now` has reached it,
through events.repository, with a command id derived from the fact (as
followup.sweeps asks of every sweeper). It decides from the deadline alone,
not from whether the stream already says "passed": that a second sweep
records nothing is the store's doing (one command id, one effect), which is
what the tests check.

Imported by the tests (which register the sweeper and remove it after) and
by `worker_with_deadline.py`, a real worker process that has it registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from events import reading, repository
from events.types import DomainEvent, event_type
from followup import sweeps

STREAM = "test-deadline"
NAME = "test_deadline"


@event_type(version=1)
@dataclass(frozen=True)
class TestDeadlineSet(DomainEvent):
    deadline: str  # ISO 8601 with a zone


@event_type(version=1)
@dataclass(frozen=True)
class TestDeadlinePassed(DomainEvent):
    deadline: str
    noticed_at: str


class Deadline:
    """The aggregate of the test stream: the last deadline set."""

    def __init__(self) -> None:
        self.version = 0
        self.deadline: str | None = None

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        if isinstance(event, TestDeadlineSet):
            self.deadline = event.deadline


def set_deadline(deadline: datetime) -> None:
    """Record a deadline in the current county (what a door would do for a real one)."""
    repository.execute(
        STREAM, Deadline, lambda state: [TestDeadlineSet(deadline=deadline.isoformat())],
        command_id=None, actor="test",
    )


def sweep_deadline(now: datetime) -> int:
    """The sweeper: record that the deadline passed once `now` reaches it."""
    if reading.stream_version(STREAM) == 0:
        return 0  # not one of this test's counties
    loaded = repository.load(STREAM, Deadline)
    deadline = loaded.state.deadline
    if deadline is None or now < datetime.fromisoformat(deadline):
        return 0
    repository.execute(
        STREAM, Deadline,
        lambda state: [TestDeadlinePassed(deadline=deadline, noticed_at=now.isoformat())],
        command_id=sweeps.fact_command_id("test-deadline-passed", deadline), actor="sweeper",
    )
    return 1


def passed() -> list[str]:
    """The deadlines recorded as passed in the current county, one entry per event."""
    return [e.data["deadline"] for e in reading.read_stream(STREAM) if e.type == "TestDeadlinePassed"]


def register() -> None:
    sweeps.sweeper(NAME)(sweep_deadline)


def unregister() -> None:
    sweeps.SWEEPERS.pop(NAME, None)
