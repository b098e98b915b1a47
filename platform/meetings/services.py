"""The one door for writes to a meeting: check_* validates and authorizes, do_* appends.

Views, consumers and CLI commands call these; nothing else appends meeting
events. A command is decided by the plain-Python aggregate
(`meetings.domain.aggregate.Meeting`) against the meeting's state folded from
its stream, and the events it returns are appended with the version the state
was folded at: if another command got in first the append fails with a
ConcurrencyConflict, the state is refolded and the command decided again (a
few times, then the conflict is reported).

Folding a meeting's stream on every command would be the slow part of a busy
hall (hundreds of check-ins, a ballot burst), so each process keeps the last
folded state of a meeting per county and only folds what was appended since.
A cached state is never changed in place: a newer version is built on a copy,
so a state handed to one request cannot change under another.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import transaction

from events import store
from events.store import ANY, NO_STREAM, AppendResult, ConcurrencyConflict
from events.types import DomainEvent
from meetings import ballot_box
from meetings.domain.aggregate import CodeAlreadyUsed, DomainError, Meeting
from shuping.db import current_schema

MAX_RETRIES = 5
_CACHE_SIZE = 512


def stream_of(meeting_id: str) -> str:
    return f"meeting-{meeting_id}"


def now() -> datetime:
    return datetime.now(UTC)


class UnknownMeeting(DomainError):
    code = "unknown_meeting"

    def __init__(self, meeting_id: str) -> None:
        super().__init__(f"找不到会议 {meeting_id}", f"no meeting {meeting_id}")


# -- folding with a per-process cache ------------------------------------------------------

_cache: OrderedDict[tuple[str, str], tuple[str, Meeting]] = OrderedDict()  # -> (head hash, state)
_cache_lock = threading.Lock()


def load(meeting_id: str, *, must_exist: bool = True) -> Meeting:
    """The meeting's current state (a shared, read-only object: do not mutate).

    The cache entry is trusted only when the stream's head hash is the one it
    was folded to: a state folded inside a transaction that later rolled back
    (and a new stream that reached the same version) can never be served.
    """
    return _load(meeting_id, must_exist=must_exist)[1]


def _load(meeting_id: str, *, must_exist: bool = True) -> tuple[str, Meeting]:
    """(head hash, state) of the meeting as the database has it now (one round trip when cached)."""
    county = str(current_schema())
    stream = stream_of(meeting_id)
    key = (county, stream)
    version, head = store.stream_head(stream)
    with _cache_lock:
        entry = _cache.get(key)
        if entry is not None:
            _cache.move_to_end(key)
    state: Meeting | None = None
    if entry is not None:
        cached_head, cached = entry
        if cached.version == version and cached_head == head:
            return head, cached
        if 0 < cached.version < version:
            events = store.read_stream(stream, from_version=cached.version)
            if events and events[0].hash == cached_head:
                state = copy.deepcopy(cached)
                for recorded in events[1:]:
                    state.apply(recorded.typed())
    if state is None:
        state = Meeting()
        for recorded in store.read_stream(stream) if version else []:
            state.apply(recorded.typed())
    if must_exist and state.version == 0:
        raise UnknownMeeting(meeting_id)
    if state.version == version:
        with _cache_lock:
            _cache[key] = (head, state)
            _cache.move_to_end(key)
            while len(_cache) > _CACHE_SIZE:
                _cache.popitem(last=False)
    return head, state


def _last_loaded(meeting_id: str) -> tuple[str, Meeting] | None:
    """(head hash, state) this process last folded the meeting to, without asking the database.

    Possibly stale: use it only where the database confirms the head before
    anything is written (cast_ballot does, in the statement that writes).
    """
    return _cache.get((str(current_schema()), stream_of(meeting_id)))


@dataclass(frozen=True)
class Outcome:
    events: list[DomainEvent]
    result: AppendResult | None  # None when the command decided nothing needed appending
    meeting: Meeting  # the state the command was decided on


def execute(
    meeting_id: str,
    decide: Callable[[Meeting], Sequence[DomainEvent]],
    *,
    command_id: uuid.UUID | str | None,
    actor: str | None,
    new_meeting: bool = False,
    before_append: Callable[[Meeting, list[DomainEvent]], list[DomainEvent]] | None = None,
) -> Outcome:
    """Decide a command on the current state and append its events (retrying on conflicts).

    `before_append`, when given, runs inside the append transaction with the
    decided events and returns the events to append (closing the ballot uses it
    to take the sealed ballots out of the box in the same transaction).
    """
    command = str(command_id or uuid.uuid4())
    stream = stream_of(meeting_id)
    for _attempt in range(MAX_RETRIES):
        meeting = load(meeting_id, must_exist=not new_meeting)
        if new_meeting and meeting.version:
            # The command may be a retry of the one that created it.
            replay = _replay(command, meeting)
            if replay is not None:
                return replay
        expected: Any = NO_STREAM if meeting.version == 0 else meeting.version
        try:
            with transaction.atomic():
                try:
                    events = list(decide(meeting))
                    if before_append is not None:
                        events = before_append(meeting, events)
                except DomainError:
                    # A retry of a command that was applied (its answer was
                    # lost on the way) must get that answer, not the error that
                    # deciding it again on the new state would give.
                    replay = _replay(command, meeting)
                    if replay is not None:
                        return replay
                    raise
                if not events:
                    return Outcome([], None, meeting)
                result = store.append(stream, events, expected_version=expected, command_id=command, actor=actor)
            if result.replayed:
                # Decided afresh (e.g. with a new random question id) but
                # recorded before: answer with what was recorded.
                return _replay(command, meeting) or Outcome(events, result, meeting)
            return Outcome(events, result, meeting)
        except ConcurrencyConflict:
            replay = _replay(command, meeting)
            if replay is not None:
                return replay
            continue
    raise ConcurrencyConflict(stream, "current", store.stream_version(stream))


def _replay(command: str, meeting: Meeting) -> Outcome | None:
    """The outcome recorded for `command` (its events read back from the log), if it was applied."""
    result = _replayed(command)
    if result is None:
        return None
    count = result.last_version - result.first_version + 1
    recorded = store.read_stream(result.stream_id, from_version=result.first_version, limit=count)
    return Outcome([r.typed() for r in recorded], result, meeting)


def _replayed(command: str) -> AppendResult | None:
    return store._stored_result(command)


# -- ballots (the hot path: no append per ballot, see ballot_box) ---------------------------


_sealed_hooks: list[Callable[..., None]] = []


def on_ballot_sealed(hook: Callable[..., None]) -> None:
    """Call `hook(meeting_id=, version=)` once a new ballot is sealed.

    It runs right after the sealing statement, in the caller's transaction if
    there is one (so what it defers with `transaction.on_commit` runs after
    that commits) and after the autocommit otherwise. The live layer registers
    one that publishes the turnout after commit; the hook learns nothing about
    the ballot itself.
    """
    if hook not in _sealed_hooks:
        _sealed_hooks.append(hook)


@dataclass(frozen=True)
class Receipt:
    receipt: str
    repeated: bool


def cast_ballot(meeting_id: str, code_hash: str, marks: dict[str, Any]) -> Receipt:
    """Seal one phone ballot; the same ballot again gets the same receipt.

    The hot path of a ballot burst, so it costs one database round trip when
    the meeting's state is in this process's cache: the ballot is checked
    against the cached state, and the statement that stores it takes the
    meeting stream's row FOR SHARE and stores it only if the stream is still
    at that state's version and head hash (ballot_box.seal_if_current). When
    the stream has moved, nothing is stored and the ballot is checked again
    on the current state. A refusal (wrong phase, unknown code, bad marks) is
    given only on a state just read from the database, never on a cached one.
    """
    stream = stream_of(meeting_id)
    entry = _last_loaded(meeting_id)
    for _attempt in range(MAX_RETRIES):
        fresh = entry is None
        head, meeting = entry if entry is not None else _load(meeting_id)
        try:
            check = meeting.check_ballot(code_hash=code_hash, marks=marks, used_code_hashes=set())
        except DomainError:
            if fresh:
                raise
            entry = None  # the cached state may be behind: refuse only on the current one
            continue
        try:
            outcome = ballot_box.seal_if_current(
                stream_id=stream, version=meeting.version, head_hash=head, meeting_id=meeting_id,
                code_hash=code_hash, marks=marks, receipt=check.receipt,
            )
        except ballot_box.CodeAlreadyUsedHere:
            raise CodeAlreadyUsed("该测评码已投过票", "this ballot code has already been used") from None
        if isinstance(outcome, ballot_box.StreamMoved):
            entry = None  # the meeting moved (e.g. the ballot closed): decide again on the new state
            continue
        if not outcome.repeated:
            for hook in list(_sealed_hooks):
                hook(meeting_id=meeting_id, version=meeting.version)
        return Receipt(outcome.receipt, outcome.repeated)
    raise ConcurrencyConflict(stream, "current", store.stream_version(stream))


def close_ballot(meeting_id: str, *, command_id: str | None, actor: str | None) -> Outcome:
    def take_sealed(meeting: Meeting, _decided: list[DomainEvent]) -> list[DomainEvent]:
        # Inside the append transaction: the box is emptied only if the append commits.
        store_lock_for_update(stream_of(meeting_id))
        sealed = ballot_box.take_all(meeting_id)
        return meeting.close_ballot(sealed_ballots=sealed, now=now())

    return execute(meeting_id, lambda m: [], command_id=command_id, actor=actor, before_append=take_sealed)


def store_lock_for_update(stream_id: str) -> None:
    """Take the stream's row lock before reading the box (casts hold it FOR SHARE)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM event_streams WHERE stream_id = %s FOR UPDATE", [stream_id])


def turnout(meeting_id: str) -> int:
    """Ballots cast so far: sealed phone ballots, or those in the log after the close."""
    meeting = load(meeting_id)
    return len(meeting.phone_ballots) + ballot_box.count(meeting_id)


__all__ = ["ANY", "Outcome", "Receipt", "UnknownMeeting", "cast_ballot", "close_ballot", "execute", "load", "now"]
