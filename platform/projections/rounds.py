"""Rounds (述评活动) of the county, with their rules and how many meetings they have (inline)."""

from __future__ import annotations

import json

from events.records import RecordedEvent
from projections.runtime import Cursor, Projection, register


class Rounds(Projection):
    name = "rounds"
    inline = True
    tables = ("proj_rounds",)
    handles = frozenset({"RoundOpened", "MeetingScheduled"})

    def apply(self, cursor: Cursor, event: RecordedEvent) -> None:
        data = event.data
        if event.type == "RoundOpened":
            cursor.execute(
                """
                INSERT INTO proj_rounds (round_id, name, year, variant, rules, opened_at, opened_by)
                VALUES (%s, %s, %s, %s, %s::jsonb, %s, %s)
                ON CONFLICT (round_id) DO UPDATE SET name = EXCLUDED.name, year = EXCLUDED.year,
                    variant = EXCLUDED.variant, rules = EXCLUDED.rules, opened_at = EXCLUDED.opened_at,
                    opened_by = EXCLUDED.opened_by
                """,
                [data["round_id"], data["name"], data["year"], data["rules"]["variant"],
                 json.dumps(data["rules"], ensure_ascii=False), event.recorded_at, event.metadata.get("actor")],
            )
        elif data.get("round_id"):  # MeetingScheduled of a round (v1 events named none)
            cursor.execute(
                "UPDATE proj_rounds SET meetings = meetings + 1 WHERE round_id = %s", [data["round_id"]]
            )


register(Rounds())
