"""The interviews and the rectification ledger as read models (inline).

Tables (followup/migrations/0003_ledger.py):
- proj_followup_interviews: one row per interview, with its record and plan;
- proj_ledger_items: one row per item, with its status (in_progress,
  overdue, done, closed) recomputed from its measures after each change;
- proj_ledger_measures: one row per measure, with its evidence.

Inline, so the page that has just recorded a measure lists it. Every value
comes from the events (dates from their payloads, times from recorded_at),
so a rebuild equals the live rows.
"""

from __future__ import annotations

import json

from events.records import RecordedEvent
from projections.runtime import Cursor, Projection, register


class Interviews(Projection):
    name = "followup_interviews"
    inline = True
    tables = ("proj_followup_interviews",)
    handles = frozenset({"InterviewOpened", "InterviewHeld", "RectificationPlanFiled"})

    def apply(self, cursor: Cursor, event: RecordedEvent) -> None:
        d = event.data
        if event.type == "InterviewOpened":
            cursor.execute(
                "INSERT INTO proj_followup_interviews (interview_id, meeting_id, subject_id, subject_name, township,"
                " village, unfavourable_percent, kind, opened_on, due_on, state)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s::date, %s::date, 'opened')",
                [d["interview_id"], d["meeting_id"], d["subject_id"], d["subject_name"], d["township"], d["village"],
                 d["unfavourable_percent"], d["kind"], d["opened_on"], d["due_on"]],
            )
        elif event.type == "InterviewHeld":
            cursor.execute(
                "UPDATE proj_followup_interviews SET state = 'held', kind = %s, interviewer = %s, held_on = %s::date,"
                " record = %s WHERE interview_id = %s",
                [d["kind"], d["interviewer"], d["held_on"], d["record"], d["interview_id"]],
            )
        elif event.type == "RectificationPlanFiled":
            cursor.execute(
                "UPDATE proj_followup_interviews SET state = 'planned', plan = %s, plan_deadline = %s::date"
                " WHERE interview_id = %s",
                [d["plan"], d["deadline"], d["interview_id"]],
            )


# The item's status follows from its measures and its review.
_ITEM_STATUS = """
UPDATE proj_ledger_items i SET status = CASE
    WHEN i.review_passed THEN 'closed'
    WHEN EXISTS (SELECT 1 FROM proj_ledger_measures m WHERE m.item_id = i.item_id AND m.status = 'overdue') THEN 'overdue'
    WHEN EXISTS (SELECT 1 FROM proj_ledger_measures m WHERE m.item_id = i.item_id)
         AND NOT EXISTS (SELECT 1 FROM proj_ledger_measures m WHERE m.item_id = i.item_id AND m.status <> 'done')
         THEN 'done'
    ELSE 'in_progress' END
WHERE i.item_id = %s
"""


class Ledger(Projection):
    name = "ledger"
    inline = True
    tables = ("proj_ledger_items", "proj_ledger_measures")
    handles = frozenset({"LedgerItemRaised", "MeasureAdded", "MeasureCompleted", "MeasureDeadlinePassed",
                         "LedgerItemReviewed"})

    def apply(self, cursor: Cursor, event: RecordedEvent) -> None:
        d = event.data
        if event.type == "LedgerItemRaised":
            cursor.execute(
                "INSERT INTO proj_ledger_items (item_id, source_kind, source_ref, meeting_id, township, village,"
                " problem, note, raised_by, raised_at, status)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'in_progress')",
                [d["item_id"], d["source_kind"], d["source_ref"], d["meeting_id"], d["township"], d["village"],
                 d["problem"], d["note"], d["raised_by"], event.recorded_at],
            )
            return
        if event.type == "MeasureAdded":
            cursor.execute(
                "INSERT INTO proj_ledger_measures (item_id, measure_no, text, owner, deadline, status)"
                " VALUES (%s, %s, %s, %s, %s::date, 'in_progress')",
                [d["item_id"], d["measure_no"], d["text"], d["owner"], d["deadline"]],
            )
        elif event.type == "MeasureCompleted":
            cursor.execute(
                "UPDATE proj_ledger_measures SET status = 'done', completed_on = %s::date, completed_by = %s,"
                " evidence = %s, files = %s::jsonb WHERE item_id = %s AND measure_no = %s",
                [d["completed_on"], d["completed_by"], d["evidence"], json.dumps(d["files"], ensure_ascii=False),
                 d["item_id"], d["measure_no"]],
            )
        elif event.type == "MeasureDeadlinePassed":
            cursor.execute(
                "UPDATE proj_ledger_measures SET status = 'overdue' WHERE item_id = %s AND measure_no = %s"
                " AND status <> 'done'",
                [d["item_id"], d["measure_no"]],
            )
        elif event.type == "LedgerItemReviewed":
            cursor.execute(
                "UPDATE proj_ledger_items SET reviewed_by = %s, review_passed = %s, review_note = %s, reviewed_at = %s"
                " WHERE item_id = %s",
                [d["reviewer"], d["passed"], d["note"], event.recorded_at, d["item_id"]],
            )
        cursor.execute(_ITEM_STATUS, [d["item_id"]])


register(Interviews())
register(Ledger())
