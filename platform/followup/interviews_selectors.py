"""Reads of interviews (from proj_followup_interviews) and of the flags they come from (the meeting board)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from django.db import connection

from followup.interviews import KINDS


def _rows(sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


_FLAGGED = """
SELECT b.meeting_id, f->>'subject_id' AS subject_id, f->>'name' AS subject_name, b.township, b.village,
       COALESCE((SELECT s->>'unfavourable_percent' FROM jsonb_array_elements(b.results->'subjects') s
                 WHERE s->>'subject_id' = f->>'subject_id' LIMIT 1), '') AS unfavourable_percent,
       COALESCE(b.results->>'at', '') AS announced_at
FROM proj_meeting_board b CROSS JOIN LATERAL jsonb_array_elements(b.flagged) f
WHERE b.phase IN ('results_announced', 'closed') AND b.results IS NOT NULL
"""


def flagged_subject(*, meeting_id: str, subject_id: str) -> dict[str, Any] | None:
    """A subject flagged in a meeting's announced results (the rule: unfavourable rate >= the threshold)."""
    rows = _rows(_FLAGGED + " AND b.meeting_id = %s AND f->>'subject_id' = %s", [meeting_id, subject_id])
    return rows[0] if rows else None


def flagged_without_interview() -> list[dict[str, Any]]:
    """Flagged subjects of announced results that have no interview yet (what the sweeper opens)."""
    return _rows(
        _FLAGGED + " AND NOT EXISTS (SELECT 1 FROM proj_followup_interviews i"
        " WHERE i.meeting_id = b.meeting_id AND i.subject_id = f->>'subject_id') ORDER BY b.meeting_id, 2"
    )


_LIST = """
SELECT i.interview_id, i.meeting_id, i.subject_id, i.subject_name, i.township, i.village, i.unfavourable_percent,
       i.kind, i.opened_on, i.due_on, i.state, i.interviewer, i.held_on, i.record, i.plan, i.plan_deadline,
       b.title AS meeting_title, b.host
FROM proj_followup_interviews i LEFT JOIN proj_meeting_board b ON b.meeting_id = i.meeting_id
"""


def _shape(row: dict[str, Any], today: date) -> dict[str, Any]:
    row["kind_name"] = KINDS.get(row["kind"], row["kind"])
    row["overdue"] = row["state"] == "opened" and row["due_on"] < today
    row["state_name"] = {"opened": "待谈话", "held": "已谈话，待交整改方案", "planned": "已交整改方案"}[row["state"]]
    if row["overdue"]:
        row["state_name"] = "逾期未谈话"
    return row


def interviews_list(*, today: date) -> list[dict[str, Any]]:
    """Every interview, the ones still to hold first (oldest due date first)."""
    rows = _rows(_LIST + " ORDER BY i.state = 'planned', i.due_on, i.interview_id")
    return [_shape(r, today) for r in rows]


def interviews_due(*, today: date, host: str | None = None) -> dict[str, list[dict[str, Any]]]:
    """Interviews not yet held, split into due and overdue; with `host`, of that host's meetings and unassigned ones."""
    sql = _LIST + " WHERE i.state = 'opened'"
    params: list[Any] = []
    if host is not None:
        sql += " AND (b.host = %s OR b.host IS NULL)"  # as on "my meetings": an unassigned meeting is any host's
        params.append(host)
    rows = [_shape(r, today) for r in _rows(sql + " ORDER BY i.due_on, i.interview_id", params)]
    return {"due": [r for r in rows if not r["overdue"]], "overdue": [r for r in rows if r["overdue"]]}


def interview(interview_id: str, *, today: date) -> dict[str, Any] | None:
    rows = _rows(_LIST + " WHERE i.interview_id = %s", [interview_id])
    return _shape(rows[0], today) if rows else None
