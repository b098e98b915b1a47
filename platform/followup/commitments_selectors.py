"""Reads of two-way commitments (proj_commitments and its versions, progress and scores).

A commitment reads with every version (the signed one first, each amendment
with its reason), its progress reports and its quarterly scores; the public
pages (双向公开) show the same, nothing internal is kept in these tables.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection

from followup.commitments import DIRECTIONS


def _rows(sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


_COMMITMENTS = """
SELECT commitment_id, direction, official_id, official_name, post, township_id, township, village_id, village, year,
       signed_on, version_no, recorded_by
FROM proj_commitments
"""


def _complete(commitments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [c["commitment_id"] for c in commitments]
    versions: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    progress: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    scores: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for row in _rows("SELECT * FROM proj_commitment_versions WHERE commitment_id = ANY(%s)"
                         " ORDER BY commitment_id, version_no", [ids]):
            row["tasks"], row["goals"] = _loads(row["tasks"]), _loads(row["goals"])
            versions[row["commitment_id"]].append(row)
        for row in _rows("SELECT * FROM proj_commitment_progress WHERE commitment_id = ANY(%s)"
                         " ORDER BY commitment_id, report_no", [ids]):
            progress[row["commitment_id"]].append(row)
        for row in _rows("SELECT * FROM proj_commitment_scores WHERE commitment_id = ANY(%s)"
                         " ORDER BY commitment_id, quarter", [ids]):
            scores[row["commitment_id"]].append(row)
    for c in commitments:
        c["direction_name"] = DIRECTIONS.get(c["direction"], c["direction"])
        c["versions"] = versions[c["commitment_id"]]
        c["current"] = c["versions"][-1] if c["versions"] else None
        c["progress"] = progress[c["commitment_id"]]
        c["scores"] = scores[c["commitment_id"]]
    return commitments


def commitments_list(
    *, year: int | None = None, village_id: int | None = None, official_id: str | None = None,
) -> list[dict[str, Any]]:
    """Commitments with versions, progress and scores, by township, village, direction and official."""
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    for column, value in (("year", year), ("village_id", village_id), ("official_id", official_id)):
        if value is not None:
            where.append(f"{column} = %s")
            params.append(value)
    sql = _COMMITMENTS + f" WHERE {' AND '.join(where)}" + \
        " ORDER BY year DESC, township, village, direction, official_name, commitment_id"
    return _complete(_rows(sql, params))


def commitment_years() -> list[int]:
    """The years that have commitments, newest first."""
    return [row["year"] for row in _rows("SELECT DISTINCT year FROM proj_commitments ORDER BY year DESC")]


def commitment_get(commitment_id: str) -> dict[str, Any] | None:
    found = _complete(_rows(_COMMITMENTS + " WHERE commitment_id = %s", [commitment_id]))
    return found[0] if found else None
