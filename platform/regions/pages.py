"""The region's own pages on the platform's public host: its login and its counties' standings (/region/).

A region account lives in the public schema, so it is unknown on every county's
host (and a county account is unknown here): isolation by construction, as for
the operator. The standings page reads regions.standings only.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import logout
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.timezone import localdate
from django.views.decorators.cache import never_cache

from accounts.logins import LoginForm
from accounts.roles import may
from common.refusal import Refusal
from regions.models import Region
from regions.standings import parse_sort, parse_year, standings

LOGIN = "/region/login/"
METRICS = {
    "participation": ("参评率", "participation"),
    "flagged_share": ("不称职（差评）对象占比", "share of subjects flagged"),
    "rectification": ("整改完成率", "rectification completed"),
}
BAR_W, BAR_H, LABEL_W = 420, 26, 120


class RegionLoginView(LoginView):
    template_name = "region/login.html"
    redirect_authenticated_user = True
    form_class = LoginForm

    def get_default_redirect_url(self) -> str:
        return "/region/"


@never_cache
def region_logout(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        logout(request)
    return HttpResponseRedirect(LOGIN)


def _error(request: HttpRequest, error: Refusal) -> HttpResponse:
    return render(request, "region/error.html", {"error": error}, status=error.http_status or 400)


def bars(rows: list[dict[str, Any]], metric: str) -> dict[str, Any]:
    """Geometry of a horizontal bar per county (SVG attributes only: the CSP refuses style attributes)."""
    drawn = []
    for n, row in enumerate(rows):
        value = row[metric]
        drawn.append({"label": row["county"], "y": n * (BAR_H + 8), "text_y": n * (BAR_H + 8) + 18,
                      "width": f"{BAR_W * (value or 0) / 100:.1f}", "value": "—" if value is None else f"{value:.1f}%"})
    return {"bars": drawn, "height": max(1, len(rows)) * (BAR_H + 8), "width": LABEL_W + BAR_W + 70,
            "left": LABEL_W, "bar_h": BAR_H, "value_x": LABEL_W + BAR_W + 8}


@never_cache
def region_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_authenticated or not may(str(getattr(user, "role", "")), "page:region"):
        return HttpResponseRedirect(f"{LOGIN}?next=/region/")
    regions = list(Region.objects.filter(viewers=user))
    try:
        year = parse_year(request.GET.get("year", str(localdate().year)))
        sort = parse_sort(request.GET.get("sort", "name"))
        metric = request.GET.get("chart", "participation")
        if metric not in METRICS:
            raise Refusal("无此图表", "no such chart", code="bad_chart", http_status=400)
        wanted = request.GET.get("region")
        if wanted is not None:
            regions = [r for r in regions if str(r.pk) == wanted]
            if not regions:
                raise Refusal("没有这个地市/省，或您无权查看", "no such region, or not yours to see",
                              code="unknown_region", http_status=404)
    except Refusal as error:
        return _error(request, error)
    views = []
    for region in regions:
        rows = standings(region, year, sort=sort)
        views.append({"region": region, "rows": rows, "chart": bars(rows, metric)})
    return render(request, "region/standings.html", {
        "views": views, "year": year, "sort": sort, "metric": metric, "metrics": METRICS,
        "metric_zh": METRICS[metric][0], "metric_en": METRICS[metric][1],
    })
