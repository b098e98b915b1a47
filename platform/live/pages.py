"""Pages of the live hall: login, county dashboard, host console, hall screen, teller, voter's phone.

The views are thin on purpose. Each checks who may see the page (a login
with a role, or the hall screen's signed token), mints the token that opens
the page's websocket (common.tokens) and renders a template. Everything live
arrives over that websocket (live.consumers); every command goes from the
page's script to the REST API (meetings.api) with the session's CSRF token,
never through the websocket and never through these views.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth import logout
from django.contrib.auth.views import LoginView, redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

from accounts.logins import LoginForm
from accounts.roles import LANDING, may
from common import tokens
from common.county import current_schema
from common.refusal import Refusal
from live import screen_links
from meetings.streams import meeting, now

LOGIN_URL = "/login/"

View = Callable[..., HttpResponse]


def hall_error(request: HttpRequest, *, status: int, code: str, zh: str, en: str) -> HttpResponse:
    """A page that says in Chinese (and English) why the page cannot be shown."""
    context = {"status": status, "code": code, "message_zh": zh, "message_en": en}
    return render(request, "hall/error.html", context, status=status)


def page_for(page: str) -> Callable[[View], View]:
    """Login (else to /login/?next=…) and a role that may open `page` (accounts.roles; else a 403 page in Chinese)."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not user.is_authenticated:
                return redirect_to_login(request.get_full_path(), LOGIN_URL)
            if not user.is_active or not may(user.role, f"page:{page}"):  # type: ignore[union-attr]
                return hall_error(
                    request, status=403, code="forbidden",
                    zh="您的角色无权打开此页面。如需使用，请联系县委组织部管理员。",
                    en="Your role may not open this page. Ask the county administrator.",
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


def _meeting_title(request: HttpRequest, meeting_id: str) -> str | HttpResponse:
    """The meeting's title, or the Chinese 404 page for an unknown meeting."""
    try:
        return meeting(meeting_id).title
    except Refusal as error:
        return hall_error(request, status=404, code=error.code, zh=error.message_zh, en=error.message_en)


def _screen_url(request: HttpRequest, meeting_id: str) -> str:
    token = screen_links.mint(meeting_id, now=now())
    return request.build_absolute_uri(f"/hall/{meeting_id}/screen/?{urlencode({'t': token})}")


# -- login -------------------------------------------------------------------------------------


class HallLoginView(LoginView):
    """The county's login (also offered on the county's home page); then to the role's own page."""

    template_name = "hall/login.html"
    redirect_authenticated_user = True
    form_class = LoginForm

    def get_default_redirect_url(self) -> str:
        return LANDING.get(str(getattr(self.request.user, "role", "")), "/desk/")


@never_cache
def logout_page(request: HttpRequest) -> HttpResponse:
    """POST logs out (a GET must not: a link or an image could log a host out mid-meeting)."""
    if request.method == "POST":
        logout(request)
        return HttpResponseRedirect(LOGIN_URL)
    return render(request, "hall/logout.html")


# -- pages ---------------------------------------------------------------------------------------


@never_cache
@ensure_csrf_cookie
@page_for("dashboard")
def dashboard(request: HttpRequest) -> HttpResponse:
    county = current_schema()
    return render(request, "hall/dashboard.html", {
        "county": request.tenant,  # type: ignore[attr-defined]
        "live_token": tokens.issue(county=county, meeting_id=tokens.COUNTY_WIDE, kind="dashboard"),
        "role": request.user.role,  # type: ignore[union-attr]
    })


@never_cache
@ensure_csrf_cookie
@page_for("console")
def console(request: HttpRequest, meeting_id: str) -> HttpResponse:
    title = _meeting_title(request, meeting_id)  # an unknown meeting: its 404 page, before minting a link
    if isinstance(title, HttpResponse):
        return title
    return _staff_page(request, meeting_id, "console", screen_url=_screen_url(request, meeting_id))


@never_cache
@ensure_csrf_cookie
@page_for("teller")
def teller(request: HttpRequest, meeting_id: str) -> HttpResponse:
    return _staff_page(request, meeting_id, "teller")


def _staff_page(request: HttpRequest, meeting_id: str, kind: str, **extra: Any) -> HttpResponse:
    """A logged-in page of one meeting (hall/<kind>.html) with its live token of that kind."""
    title = _meeting_title(request, meeting_id)
    if isinstance(title, HttpResponse):
        return title
    return render(request, f"hall/{kind}.html", {
        "meeting_id": meeting_id,
        "title": title,
        "live_token": tokens.issue(county=current_schema(), meeting_id=meeting_id, kind=kind),
        **extra,
    })


@never_cache
@page_for("screen_open")
def screen_open(request: HttpRequest, meeting_id: str) -> HttpResponse:
    """From the dashboard: a fresh hall-screen link for a host or the county administrator."""
    title = _meeting_title(request, meeting_id)
    if isinstance(title, HttpResponse):
        return title
    return HttpResponseRedirect(_screen_url(request, meeting_id))


@never_cache
def screen(request: HttpRequest, meeting_id: str) -> HttpResponse:
    """The hall screen: no login, a signed read-only token for this meeting (checked here and by the websocket)."""
    token = request.GET.get("t")
    try:
        tokens.check(token, county=current_schema(), meeting_id=meeting_id, kind="screen")
        title = _meeting_title(request, meeting_id)
        if isinstance(title, HttpResponse):
            return title
        screen_links.check(token, county=current_schema(), meeting_id=meeting_id)
    except tokens.TokenRefused as refused:
        return hall_error(request, status=403, code=refused.code, zh=refused.message_zh, en=refused.message_en)
    return render(request, "hall/screen.html", {"meeting_id": meeting_id, "title": title, "live_token": token})


def phone(request: HttpRequest, meeting_id: str) -> HttpResponse:
    """The voter's page. Static on purpose: at a ballot burst it costs no database read,
    and the code stays in the URL fragment, which the browser never sends here."""
    response = render(request, "hall/phone.html", {"meeting_id": meeting_id})
    response["Referrer-Policy"] = "no-referrer"
    return response
