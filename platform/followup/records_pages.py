"""A person's and a village's record (/records/officials/<id>/, /records/villages/<id>/), for the county.

Read-only pages for the organization department and auditors: every
meeting, grade, rate and flag over the years with a chart of the rates,
and the interviews, rectification items, comments and 组织调整 flags that
followed (followup.records).
"""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import quote

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from accounts.roles import Actor, may
from followup import comments_selectors, page_kit, records
from followup.actions.records import check_configure_results_export
from followup.records import percent_value
from followup.results_export import band_of, results_workbook

FORBIDDEN = {"status": 403, "code": "forbidden", "message_zh": "只有县委组织部和纪委审计可以查看干部和村的档案。",
             "message_en": "Only the county organization department and auditors see these records."}


@never_cache
@page_kit.gated("page:records", FORBIDDEN)
def official_record_page(request: HttpRequest, official_id: str) -> HttpResponse:
    record = records.official_record(official_id) if len(official_id) <= 64 else None
    if record is None:
        raise Http404("没有这名干部")
    return render(request, "followup/record_official.html", {"r": record})


@never_cache
@page_kit.gated("page:records", FORBIDDEN)
def village_record_page(request: HttpRequest, village_id: int) -> HttpResponse:
    record = records.village_record(village_id)
    if record is None:
        raise Http404("没有这个村（社区）")
    return render(request, "followup/record_village.html", {"r": record})


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _bands_from(text: str) -> list[tuple[str, str]]:
    """Bands typed one a line as "名称 上限", e.g. "优秀 10"."""
    bands = []
    for line in text.splitlines():
        if line.strip():
            name, _, bound = line.strip().rpartition(" ")
            bands.append((name.strip() or bound, bound if name.strip() else ""))
    return bands


def _configure_export(request: HttpRequest) -> str:
    check_configure_results_export(actor=Actor.of_user(request.user), bands=_bands_from(request.POST.get("bands", "")),
                                   over=request.POST.get("over", ""), command_id=page_kit.form_command_id(request))
    return "/records/export/"


@never_cache
@page_kit.gated("page:records", FORBIDDEN)
def results_export_page(request: HttpRequest) -> HttpResponse:
    """The export's bands (the county admin changes them here) and the link to the workbook, by year."""
    user: Any = request.user
    answer, error = page_kit.posted(request, lambda: _configure_export(request))
    if answer is not None:
        return answer
    bands, over = comments_selectors.export_config()
    years = sorted({r["year"] for r in comments_selectors.export_rows(year=None)}, reverse=True)
    return render(request, "followup/record_export.html", {
        "bands": bands, "over": over, "years": years, "error": error, "command_id": uuid.uuid4(),
        "may_write": may(user.role, "configure_results_export"),
        "bands_text": "\n".join(f"{b['name']} {b['up_to_percent']}" for b in bands),
    }, status=error.http_status if error else 200)


@never_cache
@page_kit.gated("page:records", FORBIDDEN)
def results_export_xlsx(request: HttpRequest) -> HttpResponse:
    """The results of registry officials as .xlsx for pay and appraisal; ?year=2026 for one year."""
    year_text = request.GET.get("year", "")
    year = int(year_text) if re.fullmatch(r"[0-9]{4}", year_text) else None
    bands, over = comments_selectors.export_config()
    rows = comments_selectors.export_rows(year=year)
    for row in rows:
        row["band"] = band_of(percent_value(row["unfavourable_percent"]), bands=bands, over=over)
    county = request.tenant.name  # type: ignore[attr-defined]
    response = HttpResponse(results_workbook(county=county, rows=rows, bands=bands, over=over), content_type=XLSX)
    filename = f"{county}{year or ''}述评结果.xlsx"
    response["Content-Disposition"] = (
        f"attachment; filename=\"results-{year or 'all'}.xlsx\"; filename*=UTF-8''{quote(filename)}"
    )
    return response
