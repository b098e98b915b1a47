"""Server-rendered pages of the foundation: the public landing, a county's home, the verifier download."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from accounts.roles import LANDING
from common.county import current_schema
from events import shuping_verify_build
from meetings.models import RosterMember, Township, Village


def public_home(request: HttpRequest) -> HttpResponse:
    return render(request, "shuping/public_home.html")


def county_home(request: HttpRequest) -> HttpResponse:
    townships = Township.objects.prefetch_related("villages").annotate(n=Count("villages"))
    context = {
        "county": request.tenant,  # type: ignore[attr-defined]
        "townships": townships,
        "village_count": Village.objects.count(),
        "roster_count": RosterMember.objects.exclude(category="guest").count(),
        # a logged-in person's own page (accounts.roles.LANDING); the login form otherwise
        "landing": LANDING.get(str(getattr(request.user, "role", ""))) if request.user.is_authenticated else None,
    }
    return render(request, "shuping/county_home.html", context)


def health(request: HttpRequest) -> JsonResponse:
    """Liveness probe for the reverse proxy; touches the database."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok", "schema": current_schema()})


@require_safe
def verifier_download(request: HttpRequest) -> HttpResponse:
    """The offline verifier (the events/shuping_verify package as one zipapp), for anyone, without login."""
    body = shuping_verify_build.built()
    response = HttpResponse(body, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{shuping_verify_build.FILENAME}"'
    # The digest lets an auditor compare the download with one built from the repository.
    response["X-Content-SHA256"] = shuping_verify_build.sha256()
    return response


@require_safe
def verifier_old_link(request: HttpRequest) -> HttpResponse:
    """/shuping-verify.py, printed on older notices: the single file is now the zipapp."""
    return HttpResponsePermanentRedirect("/" + shuping_verify_build.FILENAME)
