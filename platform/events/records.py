"""What the event store hands out and refuses with: records, results, expected versions, errors."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from common.county import current_schema
from common.refusal import Refusal
from events import types as event_types


class StoreError(Refusal):
    """Base of the store's refusals; nothing was written."""

    code = "store_error"


class ConcurrencyConflict(StoreError):
    """The stream moved since the command read it; nothing was written."""

    code = "concurrency_conflict"
    http_status = 409

    def __init__(self, stream_id: str, expected: object, actual: int) -> None:
        super().__init__(
            f"会议记录已被他人更新（期望版本 {expected}，实际版本 {actual}），请刷新后重试",
            f"stream {stream_id} moved: expected version {expected}, found {actual}; reload and retry",
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class IdempotencyKeyReused(StoreError):
    """The command id was recorded for another request; this one ran nothing."""

    code = "idempotency_key_reused"
    http_status = 409

    def __init__(self) -> None:
        super().__init__(
            "该请求编号（Idempotency-Key）已用于另一条命令，本次命令未执行。请为新命令使用新的编号。",
            "this Idempotency-Key was used for another request; nothing was done. Use a new key for a new command",
        )


class NoCounty(StoreError):
    code = "no_county"


def current_county() -> str:
    """The county whose log the current connection reads and writes (its schema)."""
    schema = current_schema()
    if not schema or schema == "public":
        raise NoCounty("未选定县区", "no county selected: the event log lives in a county schema")
    return str(schema)


class _Expect:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NO_STREAM = _Expect("NO_STREAM")
"""Expected version for a stream that must not exist yet."""
ANY = _Expect("ANY")
"""Expected version that accepts whatever the stream's version is."""

ExpectedVersion = int | _Expect


@dataclass(frozen=True)
class RecordedEvent:
    position: int
    transaction_id: int
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    prev_hash: str
    hash: str

    @classmethod
    def of_row(cls, values: Iterable[Any]) -> RecordedEvent:
        """An event from its fields' values in declaration order (what events.reading selects).

        The same object as calling the class, built without the frozen
        dataclass's `__init__`, which sets each of the eleven fields through
        `object.__setattr__`: that was half of turning a row into an event, and
        a replay turns every event of a meeting's log. Frozen all the same:
        assigning to a field afterwards still raises.
        """
        event = object.__new__(cls)
        event.__dict__.update(zip(_FIELD_NAMES, values, strict=True))
        return event

    def typed(self) -> event_types.DomainEvent:
        """The event as its current typed record (old versions upcast and checked; see event_types.load)."""
        return event_types.load(self.type, self.schema_version, self.data, stored=True)

    def upcast_data(self) -> dict[str, Any]:
        return event_types.upcast(self.type, self.schema_version, self.data)


_FIELD_NAMES = tuple(f.name for f in fields(RecordedEvent))


@dataclass(frozen=True)
class AppendResult:
    county: str
    stream_id: str
    first_version: int
    last_version: int
    positions: list[int]
    hashes: list[str]
    head_hash: str
    command_id: str
    replayed: bool = False  # True when a retried command returned its first result


@dataclass(frozen=True)
class Checkpoint:
    """Where a reader of the whole log stands: (transaction_id, position)."""

    transaction_id: int = 0
    position: int = 0


START = Checkpoint()
"""Before the first event."""


def checkpoint_of(event: RecordedEvent) -> Checkpoint:
    return Checkpoint(transaction_id=event.transaction_id, position=event.position)


@dataclass
class Committed:
    """What the after-commit hook publishes for one append."""

    county: str
    stream_id: str
    positions: list[int]
    first_version: int
    last_version: int
    types: list[str] = field(default_factory=list)
