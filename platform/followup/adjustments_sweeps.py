"""The sweeper "adjustments": every official rated 不称职 two years running is flagged for 组织调整, once.

It reads announced results of registry officials (proj_registry_subjects
with the meeting's round and its rules), lets followup.adjustments.due pick
who is due, and records each through the door with a command id derived
from official and year: a sweep run twice (or by two workers) records once.
"""

from __future__ import annotations

from datetime import datetime

from accounts.roles import platform_actor
from followup import comments_selectors
from followup.actions.comments import check_flag_adjustment
from followup.adjustments import due
from followup.sweeps import sweeper

SWEEPER = platform_actor("sweeper")


@sweeper("adjustments")
def flag_due_adjustments(now: datetime) -> int:
    rows = comments_selectors.announced_person_results()
    names = {row["official_id"]: row["name"] for row in rows}
    done = comments_selectors.adjustments_recorded()
    recorded = 0
    for (official_id, year), facts in sorted(due(rows).items()):
        if (official_id, year) in done:
            continue
        outcome = check_flag_adjustment(actor=SWEEPER, official_id=official_id, name=names[official_id], year=year,
                                        facts=facts)
        recorded += 1 if outcome.events and not outcome.replayed else 0
    return recorded
