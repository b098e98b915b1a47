"""The door that issues ballot codes: plain codes for the host's printout, hashes for the log."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.roles import Actor, require
from common.commands import CommandRef
from common.county import current_schema
from common.refusal import Conflict
from events.repository import Outcome
from meetings import codes
from meetings.actions._run import on_meeting
from meetings.domain.aggregate import Meeting
from meetings.streams import now


@dataclass(frozen=True)
class IssuedCodes:
    category: str
    plain: list[str]  # exist only in this answer: printed on slips, never stored
    outcome: Outcome[Meeting]
    batch_no: int


def check_issue_ballot_codes(
    *, actor: Actor, meeting_id: str, category: str, count: int, margin: int = 0, command_id: CommandRef
) -> IssuedCodes:
    """Issue `count` one-time codes for voters of `category`; the log records only their hashes.

    The category's codes may not exceed who may vote plus `margin` (meetings.domain.counts).

    A retried command cannot show its codes again (they were never stored):
    it is refused with codes_not_repeatable, and the host issues a new batch.
    """
    require(actor, "issue_ballot_codes")
    county = current_schema()
    plain = codes.generate_codes(count)
    hashes = [codes.code_hash(county, meeting_id, c) for c in plain]
    outcome = on_meeting(
        meeting_id, lambda m: m.issue_ballot_codes(category=category, code_hashes=hashes, margin=margin),
        actor=actor, command_id=command_id,
    )
    if outcome.replayed:
        raise Conflict(
            "这批测评码已经生成；明码不保存，无法再次显示或打印。如遗失，请另行生成一批。",
            "these codes were issued before; plain codes are not kept and cannot be shown or printed again",
            code="codes_not_repeatable",
        )
    # The state is the one the batch was decided on: the batch is the next one.
    return IssuedCodes(category=category, plain=plain, outcome=outcome, batch_no=len(outcome.state.code_batches) + 1)


def check_mark_codes_printed(*, actor: Actor, meeting_id: str, batch_no: int, command_id: CommandRef) -> Outcome[Meeting]:
    """Record that batch `batch_no` was printed: it leaves the console's print list."""
    require(actor, "mark_codes_printed")
    return on_meeting(
        meeting_id, lambda m: m.mark_codes_printed(batch_no=batch_no, now=now()), actor=actor, command_id=command_id,
    )
