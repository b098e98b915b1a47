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

FIGURES_SQL = """
WITH m AS (
    SELECT b.ballots_counted, b.subjects,
           COALESCE((b.results ->> 'eligible')::int, b.eligible) AS eligible,
           jsonb_array_length(b.flagged) AS flagged
    FROM proj_meeting_board b LEFT JOIN proj_rounds r ON r.round_id = b.round_id
    WHERE COALESCE(r.year, date_part('year', b.starts_at AT TIME ZONE 'Asia/Shanghai')::int) = %(year)s
)
SELECT
    (SELECT count(*) FROM m) AS meetings,
    (SELECT count(*) FROM m WHERE ballots_counted IS NOT NULL) AS meetings_with_results,
    (SELECT COALESCE(sum(ballots_counted), 0) FROM m WHERE ballots_counted IS NOT NULL) AS ballots_counted,
    (SELECT COALESCE(sum(eligible), 0) FROM m WHERE ballots_counted IS NOT NULL) AS eligible,
    (SELECT COALESCE(sum(subjects), 0) FROM m WHERE ballots_counted IS NOT NULL) AS subjects_graded,
    (SELECT COALESCE(sum(flagged), 0) FROM m WHERE ballots_counted IS NOT NULL) AS subjects_flagged,
    (SELECT count(*) FROM proj_ledger_items
      WHERE date_part('year', raised_at AT TIME ZONE 'Asia/Shanghai')::int = %(year)s) AS items_opened,
    (SELECT count(*) FROM proj_ledger_items
      WHERE date_part('year', raised_at AT TIME ZONE 'Asia/Shanghai')::int = %(year)s
        AND status IN ('done', 'closed')) AS items_done,
    (SELECT count(*) FROM proj_weak_listings WHERE quarter LIKE %(quarters)s) AS weak_listings,
    (SELECT count(*) FROM proj_followup_adjustments WHERE year = %(year)s) AS adjustment_flags
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
