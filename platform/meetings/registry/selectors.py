"""Reads of the registry for pages and the API, from the registry projection (projections.registry).

A constant number of queries per list, however many officials the county has.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from django.db import connection

from common import limits
from meetings.models import Township
from meetings.registry.domain import BODY_KINDS

SEARCH_MAX = 50


def _rows(sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def search_terms(*, township: str, q: str) -> tuple[int | None, str]:
    """A list's filters from a query string: a township id (else None) and a name to look for.

    Refuses (invalid_characters) a name holding a NUL or a lone surrogate,
    which PostgreSQL could not take; cuts it at SEARCH_MAX characters.
    """
    limits.require_clean_text([q])
    township_id = int(township) if re.fullmatch(r"[0-9]{1,9}", township) else None
    return township_id, q.strip()[:SEARCH_MAX]


def _like(text: str) -> str:
    escaped = text.strip()[:SEARCH_MAX].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def townships() -> list[dict[str, Any]]:
    """The county's map (townships with their villages), from the reference tables."""
    return [
        {"township_id": t.pk, "name": t.name,
         "villages": [{"village_id": v.pk, "name": v.name} for v in t.villages.all()]}
        for t in Township.objects.prefetch_related("villages").order_by("name")
    ]


def bodies_list(*, township_id: int | None = None, q: str = "") -> list[dict[str, Any]]:
    """Bodies by township and village (the township's own bodies first), optionally by name."""
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if township_id is not None:
        where.append("township_id = %s")
        params.append(township_id)
    if q.strip():
        where.append("name ILIKE %s")
        params.append(_like(q))
    rows = _rows(
        "SELECT body_id, name, kind, township_id, township, village_id, village FROM proj_registry_bodies"
        f" WHERE {' AND '.join(where)} ORDER BY township, village NULLS FIRST, kind, name, body_id",
        params,
    )
    for row in rows:
        row["kind_zh"] = BODY_KINDS.get(row["kind"], row["kind"])
    return rows


def officials_list(*, township_id: int | None = None, q: str = "", official_id: str | None = None) -> list[dict[str, Any]]:
    """Officials with their current and past posts, by name; `township_id` keeps those with a post there."""
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if official_id is not None:
        where.append("o.official_id = %s")
        params.append(official_id)
    if q.strip():
        where.append("o.name ILIKE %s")
        params.append(_like(q))
    if township_id is not None:
        where.append(
            "EXISTS (SELECT 1 FROM proj_registry_posts p JOIN proj_registry_bodies b USING (body_id)"
            " WHERE p.official_id = o.official_id AND b.township_id = %s)"
        )
        params.append(township_id)
    officials = _rows(
        "SELECT o.official_id, o.name, o.gender, o.corrections, COALESCE(("
        "  SELECT json_agg(json_build_object('post_no', p.post_no, 'body_id', p.body_id, 'body', b.name,"
        "    'township', b.township, 'village', b.village, 'post', p.post,"
        "    'from_date', p.from_date, 'to_date', p.to_date) ORDER BY p.to_date IS NULL DESC, p.from_date DESC, p.post_no)"
        "  FROM proj_registry_posts p JOIN proj_registry_bodies b USING (body_id) WHERE p.official_id = o.official_id"
        "), '[]') AS posts"
        f" FROM proj_registry_officials o WHERE {' AND '.join(where)} ORDER BY o.name, o.official_id",
        params,
    )
    for official in officials:
        posts = official["posts"]
        if isinstance(posts, str):
            posts = json.loads(posts)
        official["posts"] = posts
        official["current_posts"] = [p for p in posts if p["to_date"] is None]
        official["past_posts"] = [p for p in posts if p["to_date"] is not None]
    return officials


def official_get(official_id: str) -> dict[str, Any] | None:
    found = officials_list(official_id=official_id)
    return found[0] if found else None


_SUBJECTS = (
    "SELECT s.official_id, s.body_id, s.meeting_id, s.subject_id, s.name, s.post, s.kind, s.level, m.title,"
    " m.township, m.village, m.starts_at, m.phase, m.round_id, r.name AS round_name, r.year, s.ballots,"
    " s.favourable_percent, s.unfavourable_percent, s.score, s.flagged"
    " FROM proj_registry_subjects s"
    " LEFT JOIN proj_meeting_board m ON m.stream_id = s.stream_id"
    " LEFT JOIN proj_rounds r ON r.round_id = m.round_id"
)
_SUBJECTS_ORDER = " ORDER BY r.year NULLS FIRST, m.starts_at, s.meeting_id"


def registry_subjects(*, official_id: str | None = None, body_id: str | None = None) -> list[dict[str, Any]]:
    """Every meeting in which this official (or body) was a subject, oldest first, with the results once announced.

    The same registry id across meetings and rounds is what lets the county
    follow one person's grades year after year.
    """
    column, value = ("official_id", official_id) if official_id is not None else ("body_id", body_id)
    return _rows(_SUBJECTS + f" WHERE s.{column} = %s" + _SUBJECTS_ORDER, [value])


def subjects_of_officials(official_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """registry_subjects for many officials at once (one query), by official id."""
    found: dict[str, list[dict[str, Any]]] = {official_id: [] for official_id in official_ids}
    for row in _rows(_SUBJECTS + " WHERE s.official_id = ANY(%s)" + _SUBJECTS_ORDER, [list(official_ids)]):
        found[row["official_id"]].append(row)
    return found


def village_officials(village_id: int) -> list[str]:
    """Ids of the officials holding a post in a body of this village now, in the order they took it."""
    rows = _rows(
        "SELECT p.official_id FROM proj_registry_posts p JOIN proj_registry_bodies b USING (body_id)"
        " JOIN proj_registry_officials o USING (official_id)"
        " WHERE b.village_id = %s AND p.to_date IS NULL"
        " GROUP BY p.official_id ORDER BY min(b.kind), min(o.registered_at), p.official_id",
        [village_id],
    )
    return [row["official_id"] for row in rows]
