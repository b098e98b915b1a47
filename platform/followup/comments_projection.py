"""The comment ledger and the 组织调整 flags as read models (inline).

Tables (followup/migrations/0005_comments.py):
- proj_followup_comments: one row per comment, with the items it led to;
- proj_followup_adjustments: one row per official and year flagged for 组织调整, with its facts and rule;
- proj_followup_export_config: the county's grade bands for the pay and appraisal export (one row).

Every value comes from the events (dates from their payloads, times from
recorded_at), so a rebuild equals the live rows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from typing import Any

from events.records import RecordedEvent
from projections.runtime import Cursor, Projection, register


def _plain(value: Any) -> Any:
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value


class Comments(Projection):
    name = "followup_comments"
    inline = True
    tables = ("proj_followup_comments",)
    handles = frozenset({"LedgerCommentRecorded", "CommentItemOpened"})

    def apply(self, cursor: Cursor, event: RecordedEvent) -> None:
        d = event.data
        if event.type == "LedgerCommentRecorded":
            cursor.execute(
                "INSERT INTO proj_followup_comments (comment_id, mode, manner, commenter, about, official_id,"
                " township, village, village_id, on_date, text, contact, recorded_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s::date, %s, %s, %s)",
                [d["comment_id"], d["mode"], d["manner"], d["commenter"], d["about"], d["official_id"],
                 d["township"], d["village"], d["village_id"], d["on"], d["text"], d["contact"], event.recorded_at],
            )
        elif event.type == "CommentItemOpened":
            cursor.execute(
                "UPDATE proj_followup_comments SET items = items || %s::jsonb WHERE comment_id = %s",
                [json.dumps([d["item_id"]]), d["comment_id"]],
            )


class Adjustments(Projection):
    name = "followup_adjustments"
    inline = True
    tables = ("proj_followup_adjustments",)
    handles = frozenset({"AdjustmentFlagged"})

    def apply(self, cursor: Cursor, event: RecordedEvent) -> None:
        d = event.data
        cursor.execute(
            "INSERT INTO proj_followup_adjustments (official_id, year, name, facts, rule, flagged_at)"
            " VALUES (%s, %s, %s, %s::jsonb, %s, %s)",
            [d["official_id"], d["year"], d["name"], json.dumps([_plain(f) for f in d["facts"]], ensure_ascii=False),
             d["rule"], event.recorded_at],
        )


class ResultsExport(Projection):
    """The county's latest configuration of the pay and appraisal export (one row)."""

    name = "followup_results_export"
    inline = True
    tables = ("proj_followup_export_config",)
    handles = frozenset({"ResultsExportConfigured"})

    def apply(self, cursor: Cursor, event: RecordedEvent) -> None:
        d = event.data
        cursor.execute(
            "INSERT INTO proj_followup_export_config (id, bands, over, configured_at) VALUES (1, %s::jsonb, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET bands = EXCLUDED.bands, over = EXCLUDED.over,"
            " configured_at = EXCLUDED.configured_at",
            [json.dumps([_plain(b) for b in d["bands"]], ensure_ascii=False), d["over"], event.recorded_at],
        )


register(Comments())
register(Adjustments())
register(ResultsExport())
