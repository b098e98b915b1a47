"""A region's standings: each of its counties' aggregate figures for a year, read county by county.

The figures are computed in each county's schema (regions.figures) at the time
they are asked for; nothing is copied out of a county and stored. What leaves
a county is a row of counts and rates, named by the county's public name.
"""

from __future__ import annotations

from typing import Any

from django_tenants.utils import schema_context

from common.refusal import Refusal
from regions.figures import county_figures
from regions.models import Region

FIRST_YEAR, LAST_YEAR = 2000, 2100
SORT_KEYS = ("name", "participation", "flagged_share", "rectification", "meetings", "weak_listings",
             "adjustment_flags")


def parse_year(text: object) -> int:
    """A year in [2000, 2100] from a query string; a Refusal for anything else."""
    value = str(text or "").strip()
    if not value.isascii() or not value.isdigit() or not FIRST_YEAR <= int(value) <= LAST_YEAR:
        raise Refusal("年份应为 2000 至 2100 之间的四位数字", "a year is four digits from 2000 to 2100",
                      code="bad_year", http_status=400)
    return int(value)


def parse_sort(text: object) -> str:
    value = str(text or "name")
    if value not in SORT_KEYS:
        raise Refusal("无法按此列排序", "the standings cannot be sorted by that column", code="bad_sort",
                      http_status=400)
    return value


def standings(region: Region, year: int, *, sort: str = "name") -> list[dict[str, Any]]:
    """One row per county of `region` (sub-regions included): its name and its figures for `year`."""
    rows = []
    for county in region.all_counties():
        with schema_context(county.schema_name):
            figures = county_figures(year)
        rows.append({"county": county.name, "slug": county.schema_name, **figures})
    if sort == "name":
        return rows
    # Highest first; a county with nothing to divide goes last.
    return sorted(rows, key=lambda row: (row[sort] is None, -(row[sort] or 0), row["slug"]))
