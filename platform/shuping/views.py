"""Server-rendered pages of the foundation: the public landing and a county's home."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from accounts.roles import LANDING
from common.county import current_schema
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
