"""A county's aggregate figures for one year: the only thing a city or province reads of a county.

One statement over the county's projections, run on the county's connection
(its search_path): the aggregation happens inside the county schema and only
counts leave it. It reads the meeting board (ballots counted, eligible voters,
subjects, the number flagged), rounds (for the year), ledger items (status),
weak listings and 组织调整 flags (counted only). It never reads the event log,
ballots, receipts, attendees, the registry of persons or comments.

- participation (参评率) = ballots counted / eligible voters over the year's
  meetings with announced results: the same numerator and denominator the
  county's results use (meetings.domain.tally; projections 0006);
- flagged share = subjects flagged / subjects graded in those meetings;
- rectification completion = ledger items done or closed (已完成/已销号) / items
  opened in the year.
"""

from __future__ import annotations

from typing import Any

from django.db import connection

# The tables this module may read: tests/integration/test_region_standings.py holds every
# statement of a region's standings to this list.
SOURCES = ("proj_meeting_board", "proj_rounds", "proj_ledger_items", "proj_weak_listings",
           "proj_followup_adjustments")
# The statement's own names for its steps (common table expressions), not tables.
CTES = ("m", "board", "items")

FIGURES_SQL = """
WITH m AS (
    SELECT b.ballots_counted, b.subjects,
           COALESCE((b.results ->> 'eligible')::int, b.eligible) AS eligible,
           jsonb_array_length(b.flagged) AS flagged
    FROM proj_meeting_board b LEFT JOIN proj_rounds r ON r.round_id = b.round_id
    WHERE COALESCE(r.year, date_part('year', b.starts_at AT TIME ZONE 'Asia/Shanghai')::int) = %(year)s
), board AS (
    -- Rates count only the meetings whose results are in (ballots_counted set).
    SELECT count(*) AS meetings, count(ballots_counted) AS meetings_with_results,
           COALESCE(sum(ballots_counted), 0) AS ballots_counted,
           COALESCE(sum(eligible) FILTER (WHERE ballots_counted IS NOT NULL), 0) AS eligible,
           COALESCE(sum(subjects) FILTER (WHERE ballots_counted IS NOT NULL), 0) AS subjects_graded,
           COALESCE(sum(flagged) FILTER (WHERE ballots_counted IS NOT NULL), 0) AS subjects_flagged
    FROM m
), items AS (
    SELECT count(*) AS items_opened, count(*) FILTER (WHERE status IN ('done', 'closed')) AS items_done
    FROM proj_ledger_items WHERE date_part('year', raised_at AT TIME ZONE 'Asia/Shanghai')::int = %(year)s
)
SELECT board.*, items.*,
    (SELECT count(*) FROM proj_weak_listings WHERE quarter LIKE %(quarters)s) AS weak_listings,
    (SELECT count(*) FROM proj_followup_adjustments WHERE year = %(year)s) AS adjustment_flags
FROM board, items
"""

COUNTS = ("meetings", "meetings_with_results", "ballots_counted", "eligible", "subjects_graded",
          "subjects_flagged", "items_opened", "items_done", "weak_listings", "adjustment_flags")


def _percent(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def county_figures(year: int) -> dict[str, Any]:
    """This connection's county's figures for `year`: counts and the three rates (None where nothing to divide)."""
    with connection.cursor() as cursor:
        cursor.execute(FIGURES_SQL, {"year": int(year), "quarters": f"{int(year)}Q%"})
        row = cursor.fetchone()
    counts = {name: int(value) for name, value in zip(COUNTS, row, strict=True)}
    return {
        **counts,
        "participation": _percent(counts["ballots_counted"], counts["eligible"]),
        "flagged_share": _percent(counts["subjects_flagged"], counts["subjects_graded"]),
        "rectification": _percent(counts["items_done"], counts["items_opened"]),
    }
