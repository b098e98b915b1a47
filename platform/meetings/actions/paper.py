"""The door of the tellers: enter a numbered batch of paper ballots (each batch by two tellers)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from accounts.roles import Actor, require
from common.commands import CommandRef
from common.county import current_schema
from events.repository import Outcome
from meetings import codes
from meetings.actions._run import on_meeting
from meetings.domain.aggregate import Meeting
from meetings.events import PaperBallot
from meetings.streams import now


def check_enter_paper_batch(
    *, actor: Actor, meeting_id: str, batch_no: int, ballots: Sequence[dict[str, Any]], command_id: CommandRef
) -> Outcome[Meeting]:
    """One teller's entry of batch `batch_no`: each ballot's code as printed and its marks.

    The teller is the actor: a batch is reconciled only when two different
    tellers' entries agree (meetings.domain.voting).
    """
    require(actor, "enter_paper_batch")
    county = current_schema()
    paper = [
        PaperBallot(code_hash=codes.typed_code_hash(county, meeting_id, b["code"]), marks=b["marks"]) for b in ballots
    ]
    return on_meeting(
        meeting_id,
        lambda m: m.enter_paper_batch(batch_no=batch_no, teller=actor.name or "", ballots=paper, now=now()),
        actor=actor, command_id=command_id,
    )
