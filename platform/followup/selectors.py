"""Reads of notices, objections and filings (from the notices projection; never the log).

`public` reads leave out what the public must not see: an objection's
contact. The county's reads include it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection

from meetings import desks

_NOTICE = (
    "SELECT notice_id, meeting_id, meeting_title, township, village, title, body, subjects, flagged_subjects,"
    " ballots_counted, eligible, participation_percent, head_hash, head_version, working_days, published_by,"
    " published_at, period_ends, supersedes, superseded_by, ended_at FROM proj_notices"
)
_OBJECTION = (
    "SELECT objection_id, notice_id, meeting_id, body, contact, raised_at, answer, answered_by, answered_at"
    " FROM proj_objections"
)


def _rows(sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _notice(row: dict[str, Any]) -> dict[str, Any]:
    row["subjects"] = json.loads(row["subjects"])
    row["flagged_subjects"] = json.loads(row["flagged_subjects"])
    return row


def notices_published(*, limit: int = 200) -> list[dict[str, Any]]:
    """Every published notice, newest first (superseded ones too: they stay visible, marked)."""
    return [_notice(r) for r in _rows(_NOTICE + " ORDER BY published_at DESC, notice_id LIMIT %s", [limit])]


def notice(notice_id: str) -> dict[str, Any] | None:
    rows = _rows(_NOTICE + " WHERE notice_id = %s", [notice_id])
    return _notice(rows[0]) if rows else None


def meeting_notices(meeting_id: str) -> list[dict[str, Any]]:
    """The meeting's notices, oldest first."""
    return [_notice(r) for r in _rows(_NOTICE + " WHERE meeting_id = %s ORDER BY published_at, notice_id",
                                      [meeting_id])]


def objections(*, notice_id: str | None = None, meeting_id: str | None = None,
               public: bool = True) -> list[dict[str, Any]]:
    """Objections of a notice or a meeting, oldest first; `public` drops the contact."""
    where, param = ("notice_id", notice_id) if notice_id is not None else ("meeting_id", meeting_id)
    rows = _rows(_OBJECTION + f" WHERE {where} = %s ORDER BY raised_at, objection_id", [param])
    if public:
        for row in rows:
            del row["contact"]
    return rows


def objection_meeting(objection_id: str) -> str | None:
    rows = _rows("SELECT meeting_id FROM proj_objections WHERE objection_id = %s", [objection_id])
    return rows[0]["meeting_id"] if rows else None


def filing(meeting_id: str) -> dict[str, Any] | None:
    rows = _rows("SELECT meeting_id, filing_id, notice_id, head_hash, filed_by, filed_at FROM proj_filings"
                 " WHERE meeting_id = %s", [meeting_id])
    return rows[0] if rows else None


def periods_due(now: datetime) -> list[dict[str, Any]]:
    """Current notices whose period is over at `now` but not yet recorded as ended."""
    return _rows("SELECT notice_id, meeting_id FROM proj_notices WHERE ended_at IS NULL AND superseded_by IS NULL"
                 " AND period_ends <= %s ORDER BY period_ends, notice_id", [now])


def late_count(now: datetime) -> int:
    """How many meetings are late (as in `filing_overview`), in one query: what the workspace's link shows."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM proj_notices n WHERE n.superseded_by IS NULL AND n.period_ends <= %s"
            " AND NOT EXISTS (SELECT 1 FROM proj_filings f WHERE f.meeting_id = n.meeting_id)", [now],
        )
        return int(cursor.fetchone()[0])


def filing_overview(now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Meetings after their results, by where they stand: to publish, in notice, late, filed.

    Late: the current notice's period is over at `now` and the results are
    not filed (waiting for an answer to an objection, or for the filing).
    """
    current = {r["meeting_id"]: _notice(r) for r in _rows(_NOTICE + " WHERE superseded_by IS NULL")}
    filed = {r["meeting_id"]: r for r in _rows(
        "SELECT meeting_id, filing_id, notice_id, head_hash, filed_by, filed_at FROM proj_filings")}
    unanswered = {r["meeting_id"]: r["n"] for r in _rows(
        "SELECT meeting_id, count(*) AS n FROM proj_objections WHERE answer IS NULL GROUP BY meeting_id")}
    out: dict[str, list[dict[str, Any]]] = {"to_publish": [], "in_notice": [], "late": [], "filed": []}
    for m in desks.meetings_all():
        if m["phase"] not in ("results_announced", "closed"):
            continue
        mid = m["meeting_id"]
        row = {"meeting": m, "notice": current.get(mid), "filing": filed.get(mid),
               "unanswered": unanswered.get(mid, 0)}
        if mid in filed:
            out["filed"].append(row)
        elif mid not in current:
            out["to_publish"].append(row)
        elif current[mid]["period_ends"] <= now:
            out["late"].append(row)
        else:
            out["in_notice"].append(row)
    return out
