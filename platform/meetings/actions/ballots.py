"""Doors of the vote: open the ballot, cast a phone ballot, close the ballot, announce the results.

Casting is the hot path of a ballot burst and appends nothing: a phone ballot
is sealed in the ballot box (meetings.ballot_box) until the close, when the
sealed ballots are appended in code-hash order together with BallotClosed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from accounts.roles import Actor, require
from common.commands import CommandRef
from common.county import current_schema
from common.refusal import Refusal
from events import reading, repository
from events.records import ConcurrencyConflict
from events.repository import Outcome
from events.types import DomainEvent
from meetings import ballot_box, codes, question_quota
from meetings.actions._run import on_meeting
from meetings.domain.aggregate import Meeting
from meetings.domain.errors import CodeAlreadyUsed, DomainError
from meetings.streams import load_meeting, meeting_stream, now

MAX_RETRIES = 5


def check_open_ballot(*, actor: Actor, meeting_id: str, command_id: CommandRef) -> Outcome[Meeting]:
    """Open voting: all reports done, quorum met or overridden."""
    require(actor, "open_ballot")
    return on_meeting(meeting_id, lambda m: m.open_ballot(now=now()), actor=actor, command_id=command_id)


# -- casting -------------------------------------------------------------------------------


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


# The sealed size of a meeting's ballots, per state (county, meeting, version, head):
# working it out costs more than sealing a ballot, and it changes only with the rules.
_sizes: dict[tuple[str, str, int, str], int] = {}


def _sealed_size(meeting_id: str, version: int, head: str, meeting: Meeting) -> int:
    key = (current_schema(), meeting_id, version, head)
    size = _sizes.get(key)
    if size is None:
        if len(_sizes) >= 4096:
            _sizes.clear()
        size = _sizes[key] = ballot_box.size_bound(meeting.widest_marks())
    return size


@dataclass(frozen=True)
class Receipt:
    receipt: str
    repeated: bool  # the same ballot had been cast before with this code


def check_cast_ballot(*, actor: Actor, meeting_id: str, code: str, marks: dict[str, Any]) -> Receipt:
    """Seal one phone ballot; the same ballot again gets the same receipt.

    The hot path of a ballot burst, so it costs one database round trip when
    the meeting's state is in this process's cache: the ballot is validated
    against the cached state, and the statement that seals it takes the
    meeting stream's row FOR SHARE and stores it only if the stream is still
    at that state's version and head hash (ballot_box.seal_if_current). When
    the stream has moved, nothing is stored and the ballot is validated again
    on the current state. A refusal (wrong phase, unknown code, bad marks) is
    given only on a state just read from the database, never on a cached one.
    The ballot is stored encrypted under the meeting's key and padded to the
    meeting's size (ballot_box); the receipt is answered, never stored.
    """
    require(actor, "cast_ballot")
    code_hash = codes.typed_code_hash(current_schema(), meeting_id, code)
    stream = meeting_stream(meeting_id)
    loaded = repository.cached(stream, Meeting)
    for _attempt in range(MAX_RETRIES):
        fresh = loaded is None
        if loaded is None:
            loaded = load_meeting(meeting_id)
        meeting = loaded.state
        try:
            check = meeting.validate_ballot(code_hash=code_hash, marks=marks, used_code_hashes=set())
        except DomainError:
            if fresh:
                raise
            loaded = None  # the cached state may be behind: refuse only on the current one
            continue
        if check.already_cast:  # counted at the close: the phone retried after losing its answer
            return Receipt(check.receipt, repeated=True)
        try:
            outcome = ballot_box.seal_if_current(
                stream_id=stream, version=loaded.version, head_hash=loaded.head, meeting_id=meeting_id,
                code_hash=code_hash, marks=marks, receipt=check.receipt,
                size=_sealed_size(meeting_id, loaded.version, loaded.head, meeting),
            )
        except ballot_box.CodeAlreadyUsedHere:
            raise CodeAlreadyUsed("该测评码已投过票", "this ballot code has already been used") from None
        if isinstance(outcome, ballot_box.StreamMoved):
            loaded = None  # the meeting moved (e.g. the ballot closed): decide again on the new state
            continue
        if not outcome.repeated:
            for hook in list(_sealed_hooks):
                hook(meeting_id=meeting_id, version=loaded.version)
        return Receipt(outcome.receipt, outcome.repeated)
    raise ConcurrencyConflict(stream, "current", reading.stream_version(stream))


def check_ask_question_anonymously(
    *, actor: Actor, meeting_id: str, code: str, subject_id: str, text: str
) -> tuple[str, Outcome[Meeting]]:
    """A voter's question from the phone: the code shows they may ask; nothing records who asked.

    At most question_quota.limit() questions per code and meeting: one more is
    refused (429, question_limit) and appends nothing. The count is taken in
    the append's transaction, so a question the meeting refuses costs none.
    """
    require(actor, "ask_question_anonymously")
    code_hash = codes.typed_code_hash(current_schema(), meeting_id, code)
    load_meeting(meeting_id).state.voter_category(code_hash)
    question_id = f"q{uuid.uuid4().hex[:12]}"
    with transaction.atomic():
        if not question_quota.take(meeting_id=meeting_id, code_hash=code_hash):
            raise Refusal(
                f"每个测评码在本次会议中最多提问 {question_quota.limit()} 次，请把更多问题交给主持人",
                f"a ballot code may ask at most {question_quota.limit()} questions in this meeting",
                code="question_limit", http_status=429,
            )
        outcome = on_meeting(
            meeting_id,
            lambda m: m.ask_question(question_id=question_id, subject_id=subject_id, text=text, asked_by=None),
            actor=actor, command_id=None,
        )
    return question_id, outcome


# -- closing and counting --------------------------------------------------------------------


def check_close_ballot(*, actor: Actor, meeting_id: str, command_id: CommandRef) -> Outcome[Meeting]:
    """Close voting: the sealed ballots leave the box and enter the log, in code-hash order.

    Decided under the stream's exclusive lock (repository.execute with
    `exclusive`): a cast holds the same row FOR SHARE while it seals, so no
    ballot can be sealed between emptying the box and appending BallotClosed;
    and the box is emptied only if the append commits. The sealed ballots are
    opened with the meeting's key; one sealed under another secret refuses the
    close (ballot_box.BallotBoxKeyChanged) and leaves every ballot in the box.
    """
    require(actor, "close_ballot")

    def decide(meeting: Meeting) -> list[DomainEvent]:
        # Under the lock; if the meeting refuses (wrong phase), the rollback puts the ballots back.
        return meeting.close_ballot(sealed_ballots=ballot_box.take_all(meeting_id), now=now())

    return on_meeting(meeting_id, decide, actor=actor, command_id=command_id, exclusive=True)


def check_accept_count_discrepancy(
    *, actor: Actor, meeting_id: str, reason: str, command_id: CommandRef
) -> Outcome[Meeting]:
    """Record the host's decision, with a reason, to announce although ballots exceed attendance."""
    require(actor, "accept_count_discrepancy")
    return on_meeting(
        meeting_id, lambda m: m.accept_count_discrepancy(reason=reason, actor=actor.name or "", now=now()),
        actor=actor, command_id=command_id,
    )


def check_announce_results(*, actor: Actor, meeting_id: str, command_id: CommandRef) -> Outcome[Meeting]:
    """Announce the tally (refused while a paper batch is unresolved or ballots exceed attendance undecided)."""
    require(actor, "announce_results")
    return on_meeting(meeting_id, lambda m: m.announce_results(now=now()), actor=actor, command_id=command_id)
