"""The sweeper of the 软弱涣散 rule ("weak_organizations").

After each quarter's rankings, every village whose township ranked it in the
bottom three in three consecutive quarters (not already cited by a listing)
is listed through the rule's door, with command ids derived from the village
and the quarter: a sweep run twice (or by two workers) records once.
"""

from __future__ import annotations

from datetime import datetime

from accounts.roles import platform_actor
from followup import rankings_selectors
from followup.actions.rankings import check_list_weak_organization
from followup.rankings import streak_due
from followup.sweeps import sweeper

SWEEPER = platform_actor("sweeper")


def due_listings() -> list[tuple[int, str]]:
    """(village, quarter) pairs where the rule applies and no listing was recorded yet, oldest quarter first."""
    listed: dict[int, set[str]] = {}
    for listing in rankings_selectors.weak_listings():
        listed.setdefault(listing["village_id"], set()).update(r["quarter"] for r in listing["rankings"])
    due: list[tuple[int, str]] = []
    candidates = {v: qs for v, qs in rankings_selectors.bottom_three_quarters().items() if len(qs) >= 3}
    records = rankings_selectors.rule_histories(list(candidates))
    for village_id, bottom_quarters in candidates.items():
        record = records[village_id]
        used = set(listed.get(village_id, set()))
        for quarter in bottom_quarters:
            streak = streak_due(record["history"], record["bottom"], quarter, used)
            if streak:
                used.update(streak)
                due.append((village_id, quarter))
    return sorted(due, key=lambda d: (d[1], d[0]))


@sweeper("weak_organizations")
def list_weak_organizations(now: datetime) -> int:
    recorded = 0
    for village_id, quarter in due_listings():
        outcome = check_list_weak_organization(actor=SWEEPER, village_id=village_id, quarter=quarter)
        recorded += 1 if outcome.events and not outcome.replayed else 0
    return recorded
