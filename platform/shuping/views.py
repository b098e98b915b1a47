"""Server-rendered pages of the foundation: the public landing, a county's home, the verifier download."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

import events.shuping_verify
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


@cache
def _verifier() -> bytes:
    return Path(events.shuping_verify.__file__).read_bytes()


@require_safe
def verifier_download(request: HttpRequest) -> HttpResponse:
    """The offline verifier (events/shuping_verify.py, one standard-library file), for anyone, without login."""
    body = _verifier()
    response = HttpResponse(body, content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="shuping-verify.py"'
    # The digest lets an auditor compare the download with the copy in the repository.
    response["X-Content-SHA256"] = hashlib.sha256(body).hexdigest()
    return response
