"""A person's and a village's record (/records/officials/<id>/, /records/villages/<id>/), for the county.

Read-only pages for the organization department and auditors: every
meeting, grade, rate and flag over the years with a chart of the rates,
and the interviews, rectification items, comments and 组织调整 flags that
followed (followup.records).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from accounts.roles import may
from followup import records

FORBIDDEN = {"status": 403, "code": "forbidden", "message_zh": "只有县委组织部和纪委审计可以查看干部和村的档案。",
             "message_en": "Only the county organization department and auditors see these records."}


def _gate(request: HttpRequest) -> HttpResponse | None:
    user: Any = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path(), "/login/")
    if not user.is_active or not may(user.role, "page:records"):
        return render(request, "hall/error.html", FORBIDDEN, status=403)
    return None


@never_cache
def official_record_page(request: HttpRequest, official_id: str) -> HttpResponse:
    refused = _gate(request)
    if refused:
        return refused
    record = records.official_record(official_id) if len(official_id) <= 64 else None
    if record is None:
        raise Http404("没有这名干部")
    return render(request, "followup/record_official.html", {"r": record})


@never_cache
def village_record_page(request: HttpRequest, village_id: int) -> HttpResponse:
    refused = _gate(request)
    if refused:
        return refused
    record = records.village_record(village_id)
    if record is None:
        raise Http404("没有这个村（社区）")
    return render(request, "followup/record_village.html", {"r": record})
