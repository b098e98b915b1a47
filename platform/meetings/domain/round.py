"""The round aggregate (述评活动): a county's or township's call for meetings, with its rules.

A round is a stream of its own (`round-<round_id>`): it is opened with its
rules, and meetings are scheduled in it (each meeting copies the rules into
its own log, so a recorded meeting never changes when a round does).
"""

from __future__ import annotations

from dataclasses import dataclass

from events.types import DomainEvent
from meetings.domain.errors import InvalidCommand, NotConfigured, require_text
from meetings.domain.rules import Rules
from meetings.events import RoundOpened


@dataclass
class Round:
    round_id: str = ""
    name: str = ""
    year: int = 0
    rules: Rules | None = None
    version: int = 0

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        if isinstance(event, RoundOpened):
            self.round_id = event.round_id
            self.name = event.name
            self.year = event.year
            self.rules = Rules.from_data(event.rules)

    def require_rules(self) -> Rules:
        if self.rules is None:
            raise NotConfigured("述评活动尚未设定规则", "the round has no rules")
        return self.rules

    def open(self, *, round_id: str, name: str, year: int, rules: Rules) -> list[DomainEvent]:
        """Open the round with its rules (validated here); a round is opened once."""
        if self.version:
            raise InvalidCommand("该述评活动已经发起", f"round {round_id} is already open")
        require_text(name, "活动名称", "name")
        rules.validate()
        rules.require_offered()
        return [RoundOpened(round_id=round_id, name=name, year=year, rules=rules.to_data())]
