"""组织调整: an official rated 不称职 at or over the threshold two years running is flagged for adjustment.

Seed 003: "对连续两年被评为不称职的进行组织调整". The rule, as applied here:
an official (by registry id, so a new post or a new village does not reset
the count) is rated 不称职 in a year when, in an announced meeting of a round
of that year, the 不称职 rate on the person scale reached the round's
`Rules.admonish_threshold` (the same test that flags a subject for an
admonishment interview, `rate >= threshold`: a rate exactly at the threshold
counts). Rated so in year Y-1 and in year Y -> flagged for 组织调整 in year Y,
once, with the facts of both years (each meeting, its rate and threshold)
and the rule in words, so the county can defend it.

One stream per official and year: `adjustment-<official_id>-<year>`. The
sweeper (followup.adjustments_sweeps) records it with a command id derived
from official and year, so it is recorded once however often it runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from common.refusal import Conflict, Refusal
from events.types import DomainEvent, event_type

RULE = "连续两年测评不称职率达到或超过诫勉谈话阈值（本轮规则 admonish_threshold），进行组织调整"
_NAMESPACE = uuid.UUID("9e3c0a4b-51f2-4c1e-8d0b-6a7e2f4c5d31")


def adjustment_stream(official_id: str, year: int) -> str:
    return f"adjustment-{official_id}-{year}"


def adjustment_command_id(official_id: str, year: int) -> str:
    """Derived from the fact itself (official and year): a sweep run twice records once."""
    return str(uuid.uuid5(_NAMESPACE, f"adjustment\x1f{official_id}\x1f{year}"))


@dataclass(frozen=True)
class AdjustmentFact:
    """One meeting that rated the official 不称职 at or over its round's threshold."""

    year: int
    meeting_id: str
    meeting_title: str
    round_id: str
    round_name: str
    unfavourable_percent: str  # the announced display form, e.g. "30.0%"
    threshold: str  # the round's admonish_threshold as a fraction, e.g. "3/10"


@event_type(version=1)
@dataclass(frozen=True)
class AdjustmentFlagged(DomainEvent):
    """The official was rated 不称职 two years running and is flagged for 组织调整 (the rule and its facts)."""

    official_id: str
    name: str
    year: int
    facts: list[AdjustmentFact]
    rule: str


def percent_of(threshold: str) -> str:
    """"3/10" -> "30%" for people (the fraction stays in the event)."""
    num, _, den = threshold.partition("/")
    value = int(num) * 100 / int(den or 1)
    return f"{value:g}%"


def due(rows: Iterable[Mapping[str, Any]]) -> dict[tuple[str, int], list[AdjustmentFact]]:
    """Which (official, year) are due for 组织调整, with their facts, from announced registry results.

    Each row: official_id, year, meeting_id, title, round_id, round_name,
    unfavourable_percent, flagged (the tally's `rate >= threshold`), threshold.
    """
    rated: dict[str, dict[int, list[AdjustmentFact]]] = {}
    for row in rows:
        if not row["flagged"] or row["year"] is None:
            continue
        fact = AdjustmentFact(
            year=int(row["year"]), meeting_id=str(row["meeting_id"]), meeting_title=str(row["title"]),
            round_id=str(row["round_id"]), round_name=str(row["round_name"]),
            unfavourable_percent=str(row["unfavourable_percent"]), threshold=str(row["threshold"]),
        )
        rated.setdefault(str(row["official_id"]), {}).setdefault(fact.year, []).append(fact)
    found: dict[tuple[str, int], list[AdjustmentFact]] = {}
    for official_id, years in rated.items():
        for year in sorted(years):
            if year - 1 in years:
                found[(official_id, year)] = years[year - 1] + years[year]
    return found


@dataclass
class Adjustment:
    flagged: bool = False
    version: int = 0

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        if isinstance(event, AdjustmentFlagged):
            self.flagged = True

    def flag(self, *, official_id: str, name: str, year: int, facts: list[AdjustmentFact]) -> list[DomainEvent]:
        if self.flagged:
            raise Conflict("该干部本年度已列入组织调整", "already flagged for this year", code="adjustment_exists")
        years = {fact.year for fact in facts}
        if years != {year - 1, year}:
            raise Refusal("组织调整须有连续两年不称职的测评结果", "adjustment needs 不称职 results in two consecutive years",
                          code="adjustment_not_due")
        return [AdjustmentFlagged(official_id=official_id, name=name, year=year, facts=list(facts), rule=RULE)]
