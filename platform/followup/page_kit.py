"""What every county page of followup does around its work: the role gate, the form's POST, its command id and dates.

A page is a plain form page: a GET draws it; each form posts one operation,
the view calls its door and redirects back (POST, redirect, GET), or draws
the page again with the refusal in Chinese and what was typed kept.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render

from accounts.roles import may
from common.refusal import Refusal
from meetings.registry import selectors as registry

View = Callable[..., HttpResponse]

# Whoever reaches a form's POST has passed the page's gate (may read it):
# what they are refused is the writing, which is the county administrators'.
WRITE_FORBIDDEN = {"status": 403, "code": "forbidden",
                   "message_zh": "本页的登记和修改只能由县委组织部办理；您可以查看，不能修改。",
                   "message_en": "Only the county organization department records on this page; you may read it."}


def gate(request: HttpRequest, action: str, forbidden: dict[str, Any]) -> HttpResponse | None:
    """None when the user may open the page (`action`, a `page:` name of accounts.roles); else the answer to send:
    the login page for a visitor, a Chinese 403 (`forbidden`: the error page's context) for a role without it."""
    user: Any = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path(), "/login/")
    if not user.is_active or not may(user.role, action):
        return render(request, "hall/error.html", forbidden, status=403)
    return None


def gated(action: str, forbidden: dict[str, Any]) -> Callable[[View], View]:
    """The view, behind `gate`: it runs only for a user who may open the page."""

    def wrap(view: View) -> View:
        @functools.wraps(view)
        def gated_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            refused = gate(request, action, forbidden)
            return refused if refused is not None else view(request, *args, **kwargs)

        return gated_view

    return wrap


def posted(
    request: HttpRequest, act: Callable[[], str], *, write: str | None = None,
) -> tuple[HttpResponse | None, Refusal | None]:
    """A form's POST, done: (the answer to send, None), or (None, the refusal to draw the page with).

    Not a POST: (None, None). A role that may not `write` (when given) gets the 403 page
    saying that only the county administrators write here (WRITE_FORBIDDEN: true while every
    page write is theirs in accounts.roles); otherwise `act` calls the door and says where to
    go next, and the answer is a redirect there.
    """
    if request.method != "POST":
        return None, None
    if write is not None:
        user: Any = request.user
        if not may(user.role, write):
            return render(request, "hall/error.html", WRITE_FORBIDDEN, status=403), None
    try:
        return HttpResponseRedirect(act()), None
    except Refusal as refused:
        return None, refused


def pickers(request: HttpRequest) -> tuple[int | None, dict[str, Any]]:
    """A form's official picker narrowed by the query string (?township=ID&q=name): the township
    picked (for the page's village picker) and what followup/_pick_official.html draws.

    A county has thousands of officials: a desk picks a township, or types a
    name, before it picks one. Unreadable terms narrow nothing.
    """
    try:
        township_id, q = registry.search_terms(township=request.GET.get("township", ""), q=request.GET.get("q", ""))
    except Refusal:
        township_id, q = None, ""
    return township_id, {
        "townships": registry.townships(), "picked_township": township_id, "q": q,
        "officials": registry.officials_list(township_id=township_id, q=q),
    }


def query_number(request: HttpRequest, key: str, *, digits: int) -> int | None:
    """A positive whole number of at most `digits` digits from the query string; else None (unreadable is absent)."""
    value = request.GET.get(key, "")
    return int(value) if 0 < len(value) <= digits and value.isascii() and value.isdigit() and int(value) > 0 else None


def narrowing(request: HttpRequest) -> dict[str, str]:
    """The pickers' terms as typed in the query string (township, q), to carry on in links and redirects."""
    return {key: request.GET[key] for key in ("township", "q") if request.GET.get(key)}


def with_narrowing(path: str, request: HttpRequest, **more: Any) -> str:
    """`path` with the pickers' terms (and `more`) in its query string, so a desk stays narrowed."""
    query = urlencode({**narrowing(request), **more})
    return f"{path}?{query}" if query else path


def command_id(value: str | None) -> str | None:
    """The form's command id as a canonical UUID, or None (a new one is made) when absent or not a UUID."""
    try:
        return str(uuid.UUID(str(value))) if value else None
    except ValueError:
        return None


def form_command_id(request: HttpRequest) -> str | None:
    """The posted form's command id (`command_id`)."""
    return command_id(request.POST.get("command_id"))


_YEAR_MONTH_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def form_date(value: str | None, field: str) -> date | None:
    """A date typed in a form (年-月-日); empty is None (the door says whether that is allowed)."""
    if not value:
        return None
    return required_date(value, field)


def required_date(value: str | None, field: str) -> date:
    """A date typed in a form (年-月-日), refused as `bad_date` (naming `field`) when empty or not a date.

    Only 年-月-日 with its dashes: date.fromisoformat alone also reads 20260115
    and week dates (2026-W03-4), which no one typing a date in a form means.
    """
    text = str(value or "")
    try:
        if not _YEAR_MONTH_DAY.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise Refusal("日期格式应为 年-月-日，例如 2026-01-15", "a date is YYYY-MM-DD", code="bad_date",
                      details={"field": field}) from None
