"""One repository: aggregates loaded from their streams (one cache per process), decisions appended.

A door (a `check_*` function of an actions module) reads
`load(stream, Aggregate)`, decides on the state, and appends with the version
and head hash it read (`append`): the store then writes in one statement, or
refuses with ConcurrencyConflict if another command got in first. `execute`
wraps that loop (decide, append, retry on a conflict, answer a retried
command with what it recorded the first time), which is what most doors do.

The cache: folding a stream on every command would be the slow part of a
busy hall (hundreds of check-ins, a ballot burst), so the process keeps the
last folded state of each stream (per county, stream and aggregate class) and
only folds what was appended since ("fast-forward"). An entry is trusted only
when the stream's version AND head hash are the ones it was folded to: a
state folded inside a transaction that later rolled back (or another history
that reached the same version) is never served. A cached state is never
changed in place: a newer version is built on a copy, so a state handed to
one request cannot change under another. This is the only cache of stream
heads in the platform; the store keeps none.

An aggregate is any class with a no-argument constructor, a `version`
attribute (events folded) and `apply(event)`; it decides in plain Python.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from django.db import transaction

from common.commands import CommandKey
from common.county import current_schema
from common.refusal import Refusal
from events import reading, store
from events.chain import GENESIS_HASH
from events.records import NO_STREAM, AppendResult, ConcurrencyConflict
from events.types import DomainEvent

MAX_RETRIES = 5
CACHE_SIZE = 512


class Aggregate(Protocol):
    version: int

    def apply(self, event: DomainEvent) -> None: ...


A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class Loaded(Generic[A]):
    """An aggregate's state as of (version, head) of its stream. Shared: do not mutate `state`."""

    stream_id: str
    state: A
    version: int
    head: str


@dataclass(frozen=True)
class Outcome(Generic[A]):
    """What a command did: the events it appended (or recorded before), and the state it was decided on."""

    events: list[DomainEvent]
    result: AppendResult | None  # None when the decision needed nothing appended
    state: A

    @property
    def replayed(self) -> bool:
        return bool(self.result and self.result.replayed)


_cache: OrderedDict[tuple[str, str, type], tuple[str, Any]] = OrderedDict()  # -> (head hash, state)
_cache_lock = threading.Lock()


def _key(stream_id: str, aggregate: type) -> tuple[str, str, type]:
    return (current_schema(), stream_id, aggregate)


def cached(stream_id: str, aggregate: type[A]) -> Loaded[A] | None:
    """The state this process last folded the stream to, without asking the database.

    Possibly stale: use it only where the database confirms the version and
    head before anything is written (the ballot box's seal does, in the
    statement that writes).
    """
    entry = _cache.get(_key(stream_id, aggregate))
    if entry is None:
        return None
    head, state = entry
    return Loaded(stream_id, state, state.version, head)


def load(stream_id: str, aggregate: type[A], *, known_head: tuple[int, str] | None = None) -> Loaded[A]:
    """The stream's aggregate as the database has it now (one round trip when cached).

    A stream that does not exist gives the aggregate's initial state at version 0.
    `known_head` is the stream's (version, head hash) when the caller has just read
    it in a statement of its own (no round trip at all when cached); it must
    come from the database, never from a cache.
    """
    key = _key(stream_id, aggregate)
    version, head = reading.stream_head(stream_id) if known_head is None else known_head
    with _cache_lock:
        entry = _cache.get(key)
        if entry is not None:
            _cache.move_to_end(key)
    state: A | None = None
    if entry is not None:
        cached_head, cached_state = entry
        if cached_state.version == version and cached_head == head:
            return Loaded(stream_id, cached_state, version, head)
        if 0 < cached_state.version < version:
            newer = reading.read_stream(stream_id, from_version=cached_state.version)
            if newer and newer[0].hash == cached_head:  # the same history, only longer
                state = copy.deepcopy(cached_state)
                for recorded_event in newer[1:]:
                    state.apply(recorded_event.typed())
    if state is None:
        state = aggregate()
        for recorded_event in reading.read_stream(stream_id) if version else []:
            state.apply(recorded_event.typed())
    if state.version != version:
        # Appended to between our two reads: fold what we read, cache nothing.
        return Loaded(stream_id, state, state.version, _head_of(stream_id, state.version))
    with _cache_lock:
        _cache[key] = (head, state)
        _cache.move_to_end(key)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return Loaded(stream_id, state, version, head)


def _head_of(stream_id: str, version: int) -> str:
    if version == 0:
        return GENESIS_HASH
    return reading.read_stream(stream_id, from_version=version, limit=1)[0].hash


def append(
    loaded: Loaded[Any], events: Sequence[DomainEvent], *, command_id: CommandKey | uuid.UUID | str,
    actor: str | None,
) -> AppendResult:
    """Append what was decided on `loaded`: the stream must still be at its version and head."""
    if loaded.version == 0:
        return store.append(loaded.stream_id, events, expected_version=NO_STREAM, command_id=command_id, actor=actor)
    return store.append(
        loaded.stream_id, events, expected_version=loaded.version, expected_head=loaded.head,
        command_id=command_id, actor=actor,
    )


def recorded(command_id: CommandKey | uuid.UUID | str) -> tuple[AppendResult, list[DomainEvent]] | None:
    """What a command appended when it ran (its result and events), or None if it never committed.

    IdempotencyKeyReused if the id was recorded for another request (see common.commands).
    """
    result = store.stored_result(CommandKey.of(command_id))
    if result is None:
        return None
    count = result.last_version - result.first_version + 1
    events = reading.read_stream(result.stream_id, from_version=result.first_version, limit=count)
    return result, [e.typed() for e in events]


def execute(
    stream_id: str,
    aggregate: type[A],
    decide: Callable[[A], Sequence[DomainEvent]],
    *,
    command_id: CommandKey | uuid.UUID | str | None,
    actor: str | None,
    exclusive: bool = False,
) -> Outcome[A]:
    """Decide a command on the stream's current state and append its events, retrying on conflicts.

    `decide(state)` returns the new events (possibly none) or raises a
    Refusal; it runs inside the append's transaction. With `exclusive`, the
    stream's row is locked FOR UPDATE before deciding (events.store.lock_stream),
    so that statements guarded by the shared lock (the ballot box) cannot run
    between the decision and the append. A retried command (same command id)
    gets what it recorded the first time, never the refusal that deciding it
    again on the newer state would give; the same id sent with another request
    (a CommandKey with another fingerprint) is refused with IdempotencyKeyReused.
    """
    command = CommandKey.of(command_id)
    for _attempt in range(MAX_RETRIES):
        loaded = load(stream_id, aggregate)
        try:
            with transaction.atomic():
                if exclusive and (store.lock_stream(stream_id) or (0, GENESIS_HASH)) != (
                    loaded.version, loaded.head
                ):
                    raise ConcurrencyConflict(stream_id, loaded.version, reading.stream_version(stream_id))
                try:
                    events = list(decide(loaded.state))
                except Refusal:
                    replay = _replay(command, loaded.state)
                    if replay is not None:
                        return replay
                    raise
                if not events:
                    return Outcome([], None, loaded.state)
                result = append(loaded, events, command_id=command, actor=actor)
                if not result.replayed:
                    _remember_on_commit(loaded, aggregate, events, result)
            if result.replayed:
                # Decided afresh (e.g. with a new random id) but recorded
                # before: answer with what was recorded.
                return _replay(command, loaded.state) or Outcome(events, result, loaded.state)
            return Outcome(events, result, loaded.state)
        except ConcurrencyConflict:
            replay = _replay(command, loaded.state)
            if replay is not None:
                return replay
            continue
    raise ConcurrencyConflict(stream_id, "current", reading.stream_version(stream_id))


def _remember_on_commit(loaded: Loaded[A], aggregate: type[A], events: Sequence[DomainEvent], result: AppendResult) -> None:
    """Once the append commits, cache the state it leads to (folded here on a copy).

    Whatever a command changed is read at once by the live layer (a snapshot
    for the screens right after the commit) and often by the next command:
    without this, the first of them read back and folded what was just
    appended (the close of a ballot appends every phone ballot). The entry
    is trusted like any other: only while the stream's version and head
    are these.
    """
    state = copy.deepcopy(loaded.state)
    for event in events:
        state.apply(event)
    if state.version != result.last_version:
        return
    key = _key(loaded.stream_id, aggregate)

    def remember() -> None:
        with _cache_lock:
            entry = _cache.get(key)
            if entry is not None and entry[1].version >= state.version:
                return  # a load got there first (or the stream moved on)
            _cache[key] = (result.head_hash, state)
            _cache.move_to_end(key)
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)

    transaction.on_commit(remember)


def _replay(command: CommandKey, state: A) -> Outcome[A] | None:
    found = recorded(command)
    if found is None:
        return None
    result, events = found
    return Outcome(events, result, state)
