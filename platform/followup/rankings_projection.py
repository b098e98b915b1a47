"""Quarterly scores, rankings and 软弱涣散 listings as read models (inline).

Tables (followup/migrations/0004_year.py): proj_scoring_criteria (every
version of the county's criteria), proj_quarter_rankings (one row per
township, quarter and village, with the ranks the event recorded) and
proj_weak_listings (one row per listing, with the rankings it cites).
Every value comes from the events (times from recorded_at), so a rebuild
equals the live rows.
"""

from __future__ import annotations

import json
from typing import Any

from events.records import RecordedEvent
from projections.runtime import Cursor, Projection, register


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class Rankings(Projection):
    name = "followup_rankings"
    inline = True
    tables = ("proj_scoring_criteria", "proj_quarter_rankings", "proj_weak_listings")
    handles = frozenset({"ScoringCriteriaSet", "QuarterScoresRecorded", "WeakOrganizationListed"})

    def apply(self, cursor: Cursor, event: RecordedEvent) -> None:
        d = event.data
        if event.type == "ScoringCriteriaSet":
            cursor.execute(
                "INSERT INTO proj_scoring_criteria (criteria_version, criteria, reason, set_by, set_at)"
                " VALUES (%s, %s::jsonb, %s, %s, %s)",
                [d["criteria_version"], _json(d["criteria"]), d["reason"], d["set_by"], event.recorded_at],
            )
        elif event.type == "QuarterScoresRecorded":
            ranked = len(d["villages"])
            for v in d["villages"]:
                cursor.execute(
                    "INSERT INTO proj_quarter_rankings (township_id, quarter, village_id, township, village, points,"
                    " total, rank, rank_from_bottom, villages_ranked, bottom_three, criteria_version, recorded_by)"
                    " VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s, %s)",
                    [d["township_id"], d["quarter"], v["village_id"], d["township"], v["village"], _json(v["points"]),
                     v["total"], v["rank"], v["rank_from_bottom"], ranked, v["bottom_three"], d["criteria_version"],
                     d["recorded_by"]],
                )
        elif event.type == "WeakOrganizationListed":
            cursor.execute(
                "INSERT INTO proj_weak_listings (village_id, quarter, township_id, township, village, rankings, rule,"
                " item_id, listed_at) VALUES (%s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s)",
                [d["village_id"], d["quarter"], d["township_id"], d["township"], d["village"], _json(d["rankings"]),
                 d["rule"], d["item_id"], event.recorded_at],
            )


register(Rankings())
