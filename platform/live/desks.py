"""Each county role's own page after login, and the county's workspace.

The organization department (county_admin) lands on the workspace, a host on
the meetings they may run, a teller on the paper batches waiting for them, an
auditor on the list of logs, an observer on a read-only list
(accounts.roles.LANDING). Pages only read, through meetings.desks, from the
projections; every command goes from the hall pages to the API.
"""

from __future__ import annotations

from urllib.parse import quote

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.roles import LANDING
from events.verdicts import stream_verdicts
from followup.interviews_selectors import interviews_due
from followup.selectors import late_count
from live.pages import LOGIN_URL, hall_error, page_for
from live.workbook import round_workbook
from meetings import desks
from meetings.streams import meeting_stream

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def landing_url(user: object) -> str | None:
    """The page a logged-in account lands on, or None when its role has none."""
    if not getattr(user, "is_active", False):
        return None
    return LANDING.get(str(getattr(user, "role", "")))


@never_cache
def desk(request: HttpRequest) -> HttpResponse:
    """/desk/: to the logged-in person's own page (the brand link and the error pages point here)."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), LOGIN_URL)
    url = landing_url(request.user)
    if url is None:
        return hall_error(
            request, status=403, code="no_page_for_role",
            zh="您的账号没有可用的县区角色，无法打开任何页面。请联系县委组织部管理员分配角色。",
            en="Your account has no county role, so no page opens for it. Ask the county administrator for a role.",
        )
    return HttpResponseRedirect(url)


def _page(request: HttpRequest, template: str, **context: object) -> HttpResponse:
    return render(request, f"hall/{template}.html", {"county": request.tenant, **context})  # type: ignore[attr-defined]


@never_cache
@page_for("workspace")
def workspace(request: HttpRequest) -> HttpResponse:
    interviews = interviews_due(today=timezone.localdate())
    return _page(request, "workspace", interviews=interviews, **desks.workspace(), notices_late=late_count(timezone.now()))


@never_cache
@page_for("results_export")
def results_export(request: HttpRequest, round_id: str) -> HttpResponse:
    """The round's announced results as .xlsx (live.workbook)."""
    data = desks.round_results(round_id)
    if data is None:
        return hall_error(request, status=404, code="unknown_round", zh="没有这个述评活动。", en="No such round.")
    response = HttpResponse(round_workbook(data), content_type=XLSX)
    filename = f"{data['name']}-测评结果.xlsx"
    response["Content-Disposition"] = (
        f"attachment; filename=\"round-{round_id}-results.xlsx\"; filename*=UTF-8''{quote(filename)}"
    )
    return response


@never_cache
@page_for("results_export")  # who may export a round's results may read one meeting's
def meeting_results(request: HttpRequest, meeting_id: str) -> HttpResponse:
    """One meeting's results split by voter group (双评), with the participation rule and the score's formula."""
    data = desks.meeting_results(meeting_id)
    if data is None:
        return hall_error(request, status=404, code="results_not_announced",
                          zh="没有这个会议，或其结果尚未公布。", en="No such meeting, or its results are not announced yet.")
    return _page(request, "meeting_results", **data)


@never_cache
@page_for("my_meetings")
def my_meetings(request: HttpRequest) -> HttpResponse:
    today, host = timezone.localdate(), _host_of(request)
    interviews = interviews_due(today=today, host=host)
    return _page(request, "my_meetings", interviews=interviews, **desks.host_meetings(today=today, host=host))


def _host_of(request: HttpRequest) -> str | None:
    """The logged-in host's user name; None for the county administrator, who sees every meeting."""
    user = request.user
    return user.get_username() if getattr(user, "role", "") == "host" else None


@never_cache
@page_for("my_batches")
def my_batches(request: HttpRequest) -> HttpResponse:
    return _page(request, "my_batches", meetings=desks.teller_batches(teller=request.user.get_username()))


@never_cache
@page_for("audit")
def audit(request: HttpRequest) -> HttpResponse:
    meetings = desks.meetings_all()
    # The verifier's verdict on each log as the database holds it (cached per head: events.verdicts).
    verdicts = stream_verdicts(meeting_stream(row["meeting_id"]) for row in meetings)
    for row in meetings:
        verdict = verdicts.get(meeting_stream(row["meeting_id"]))
        row["verdict"] = verdict.to_data() if verdict else None
    return _page(request, "audit", meetings=meetings)


@never_cache
@page_for("meetings")
def meetings(request: HttpRequest) -> HttpResponse:
    return _page(request, "meetings", meetings=desks.meetings_all())
