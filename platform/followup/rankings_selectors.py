"""Reads of the quarterly scores, rankings and 软弱涣散 listings (proj_scoring_criteria, proj_quarter_rankings,
proj_weak_listings): the criteria in force, a quarter's rankings per township and for the county, a village's
history, and what the rule needs.

The county ranking of a quarter is read, not recorded: it ranks every village
ranked by its township that quarter by total, under the same tie rule.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection

from followup.rankings import RankingFact, quarter_label, rank_totals


def _rows(sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def criteria_versions() -> list[dict[str, Any]]:
    """Every version of the county's criteria, newest first."""
    rows = _rows("SELECT criteria_version, criteria, reason, set_by, set_at FROM proj_scoring_criteria"
                 " ORDER BY criteria_version DESC")
    for row in rows:
        row["criteria"] = _loads(row["criteria"])
        row["full_marks"] = sum(c["max_points"] for c in row["criteria"])
    return rows


def criteria_current() -> dict[str, Any] | None:
    versions = criteria_versions()
    return versions[0] if versions else None


def quarters() -> list[str]:
    """Quarters with at least one township's ranking, newest first."""
    return [r["quarter"] for r in _rows("SELECT DISTINCT quarter FROM proj_quarter_rankings ORDER BY quarter DESC")]


_RANKING = """
SELECT r.township_id, r.quarter, r.village_id, r.township, r.village, r.points, r.total, r.rank, r.rank_from_bottom,
       r.villages_ranked, r.bottom_three, r.criteria_version, r.recorded_by,
       (w.village_id IS NOT NULL) AS listed_weak
FROM proj_quarter_rankings r LEFT JOIN proj_weak_listings w ON w.village_id = r.village_id AND w.quarter = r.quarter
"""


def _shaped(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    for row in rows:
        row["points"] = _loads(row["points"])
        row["quarter_label"] = quarter_label(row["quarter"])
    return rows


def quarter_rankings(quarter: str) -> dict[str, Any]:
    """A quarter's rankings: each township's (as recorded) and the county's (all villages, same tie rule)."""
    rows = _shaped(_rows(_RANKING + " WHERE r.quarter = %s ORDER BY r.township, r.rank, r.village, r.village_id",
                         [quarter]))
    townships: dict[int, dict[str, Any]] = {}
    for row in rows:
        townships.setdefault(row["township_id"], {"township_id": row["township_id"], "township": row["township"],
                                                  "villages": []})["villages"].append(row)
    county_ranks = rank_totals({row["village_id"]: row["total"] for row in rows})
    county = sorted(
        ({**row, "county_rank": county_ranks[row["village_id"]].rank} for row in rows),
        key=lambda r: (r["county_rank"], r["township"], r["village"], r["village_id"]),
    )
    return {"quarter": quarter, "quarter_label": quarter_label(quarter) if rows else quarter,
            "townships": list(townships.values()), "county": county}


def village_history(village_id: int) -> list[dict[str, Any]]:
    """Every quarterly ranking of the village, oldest first, with whether a listing was made at it."""
    return _shaped(_rows(_RANKING + " WHERE r.village_id = %s ORDER BY r.quarter", [village_id]))


def rule_histories(village_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """What the 软弱涣散 rule reads of villages (one query): rankings by quarter, the quarters in the bottom three."""
    by_village: dict[int, list[dict[str, Any]]] = {}
    for row in _rows(_RANKING + " WHERE r.village_id = ANY(%s) ORDER BY r.village_id, r.quarter", [list(village_ids)]):
        by_village.setdefault(row["village_id"], []).append(row)
    found: dict[int, dict[str, Any]] = {}
    for village_id, rows in by_village.items():
        last = rows[-1]
        history: dict[str, RankingFact | None] = {
            r["quarter"]: RankingFact(quarter=r["quarter"], rank=r["rank"], rank_from_bottom=r["rank_from_bottom"],
                                      villages_ranked=r["villages_ranked"], total=r["total"])
            for r in rows
        }
        found[village_id] = {"village_id": village_id, "village": last["village"], "township_id": last["township_id"],
                             "township": last["township"], "history": history,
                             "bottom": {r["quarter"] for r in rows if r["bottom_three"]}}
    return found


def rule_history(village_id: int) -> dict[str, Any] | None:
    """rule_histories of one village; None if it was never ranked."""
    return rule_histories([village_id]).get(village_id)


def bottom_three_quarters() -> dict[int, list[str]]:
    """For every village ever in a bottom three: those quarters, oldest first (what the sweeper looks at)."""
    found: dict[int, list[str]] = {}
    for row in _rows("SELECT village_id, quarter FROM proj_quarter_rankings WHERE bottom_three"
                     " ORDER BY village_id, quarter"):
        found.setdefault(row["village_id"], []).append(row["quarter"])
    return found


def weak_listings(*, village_id: int | None = None) -> list[dict[str, Any]]:
    """The 软弱涣散 listings with the rankings each cites, newest first."""
    where, params = ("WHERE village_id = %s", [village_id]) if village_id is not None else ("", [])
    rows = _rows("SELECT village_id, quarter, township_id, township, village, rankings, rule, item_id, listed_at"
                 f" FROM proj_weak_listings {where} ORDER BY quarter DESC, township, village", params)
    for row in rows:
        row["rankings"] = [{**r, "quarter_label": quarter_label(r["quarter"])} for r in _loads(row["rankings"])]
        row["quarter_label"] = quarter_label(row["quarter"])
    return rows
