"""Doors of a round (述评活动): open it with its rules."""

from __future__ import annotations

import uuid
from typing import Any

from accounts.roles import Actor, require
from common.commands import CommandRef
from events import repository
from meetings.domain.errors import RulesInvalid
from meetings.domain.round import Round
from meetings.domain.rules import Rules, preset
from meetings.streams import ROUND_PREFIX, round_stream


def check_open_round(
    *, actor: Actor, name: str, year: int, variant: str, rules: dict[str, Any] | None, command_id: CommandRef
) -> str:
    """Open a round from a preset (`variant`) or full `rules` of that variant; its round id."""
    require(actor, "open_round")
    chosen = Rules.from_data(rules) if rules is not None else preset(variant)
    if chosen.variant != variant:
        raise RulesInvalid("规则与所选类型不一致", "rules.variant differs from variant")
    round_id = f"r{uuid.uuid4().hex[:12]}"
    outcome = repository.execute(
        round_stream(round_id), Round,
        lambda r: r.open(round_id=round_id, name=name, year=year, rules=chosen),
        command_id=command_id, actor=actor.name,
    )
    # A retried command answers with the round it created the first time.
    assert outcome.result is not None
    return outcome.result.stream_id.removeprefix(ROUND_PREFIX)
