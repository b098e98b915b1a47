"""Reads of the comment ledger and of the 组织调整 flags, from their projections."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection

from followup.adjustments import percent_of
from followup.comments import MANNERS, MODES
from followup.results_export import DEFAULT_BANDS, DEFAULT_OVER


def _rows(sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def comments_list(
    *, village_id: int | None = None, official_id: str | None = None, limit: int | None = None, offset: int = 0,
) -> list[dict[str, Any]]:
    """The comment ledger, newest first (optionally one village's or about one official), with the items each led to.

    `limit` and `offset`: one page of it (the county's page shows COMMENTS_PAGE at a time).
    """
    where, params = "", list[Any]()
    if village_id is not None:
        where, params = "WHERE village_id = %s", [village_id]
    elif official_id is not None:
        where, params = "WHERE official_id = %s", [official_id]
    rows = _rows(
        "SELECT comment_id, mode, manner, commenter, about, official_id, township, village, village_id, on_date,"
        f" text, contact, recorded_at, items FROM proj_followup_comments {where}"
        " ORDER BY on_date DESC, recorded_at DESC, comment_id"
        + (" LIMIT %s OFFSET %s" if limit is not None else ""),
        [*params, limit, offset] if limit is not None else params,
    )
    for row in rows:
        row["items"] = _json(row["items"])
        row["mode_zh"] = MODES.get(row["mode"], row["mode"])
        row["manner_zh"] = MANNERS.get(row["manner"], row["manner"])
    return rows


def comments_count() -> int:
    return int(_rows("SELECT count(*) AS n FROM proj_followup_comments")[0]["n"])


def announced_person_results() -> list[dict[str, Any]]:
    """Every announced result of a registry official, with the meeting's round, year and threshold."""
    return _rows(
        "SELECT s.official_id, s.name, s.meeting_id, m.title, m.round_id, r.name AS round_name, r.year,"
        " s.unfavourable_percent, s.flagged, COALESCE(r.rules->>'admonish_threshold', '3/10') AS threshold"
        " FROM proj_registry_subjects s JOIN proj_meeting_board m ON m.stream_id = s.stream_id"
        " JOIN proj_rounds r ON r.round_id = m.round_id"
        " WHERE s.official_id IS NOT NULL AND s.kind = 'person' AND s.flagged IS NOT NULL"
        " ORDER BY s.official_id, r.year, m.meeting_id"
    )


def adjustments_recorded() -> set[tuple[str, int]]:
    return {(r["official_id"], r["year"]) for r in _rows("SELECT official_id, year FROM proj_followup_adjustments")}


def adjustments_list(*, official_id: str | None = None) -> list[dict[str, Any]]:
    """Officials flagged for 组织调整, newest year first, each with its facts and rule."""
    where, params = ("WHERE official_id = %s", [official_id]) if official_id else ("", [])
    rows = _rows(f"SELECT official_id, year, name, facts, rule, flagged_at FROM proj_followup_adjustments {where}"
                 " ORDER BY year DESC, name, official_id", params)
    for row in rows:
        row["facts"] = _json(row["facts"])
        for fact in row["facts"]:
            fact["threshold_percent"] = percent_of(fact["threshold"])
    return rows


def export_config() -> tuple[list[dict[str, str]], str]:
    """The county's grade bands and the name above them (the defaults until the county sets its own)."""
    rows = _rows("SELECT bands, over FROM proj_followup_export_config WHERE id = 1")
    if not rows:
        return [{"name": b.name, "up_to_percent": b.up_to_percent} for b in DEFAULT_BANDS], DEFAULT_OVER
    return _json(rows[0]["bands"]), rows[0]["over"]


def export_rows(*, year: int | None) -> list[dict[str, Any]]:
    """One row per registry official and announced meeting (optionally of one year), with its 组织调整 flag."""
    where, params = (" AND r.year = %s", [year]) if year is not None else ("", [])
    return _rows(
        "SELECT s.official_id, s.name, s.post, m.township, m.village, r.year, r.name AS round_name, m.title,"
        " s.favourable_percent, s.unfavourable_percent, s.score, s.flagged,"
        " EXISTS (SELECT 1 FROM proj_followup_adjustments a WHERE a.official_id = s.official_id AND a.year = r.year)"
        " AS adjustment"
        " FROM proj_registry_subjects s JOIN proj_meeting_board m ON m.stream_id = s.stream_id"
        " JOIN proj_rounds r ON r.round_id = m.round_id"
        f" WHERE s.official_id IS NOT NULL AND s.kind = 'person' AND s.flagged IS NOT NULL{where}"
        " ORDER BY r.year, m.township, m.village, s.name, s.official_id, m.meeting_id",
        params,
    )
