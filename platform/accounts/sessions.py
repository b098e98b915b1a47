"""Sessions with two limits: an absolute one from the login and an idle one.

Django's own session age counts from the session's last save, so a session
that keeps being used never ends. This middleware keeps two times in the
session: when the account logged in (set by the user_logged_in signal) and
when it was last seen; a request after settings.SESSION_COOKIE_AGE from the
login, or after settings.SESSION_IDLE_SECONDS without a request, is logged
out before its view runs (a page then asks for the login again, the API
answers 401/403). "Last seen" is written at most once a minute, so a page
that polls does not write its session row at every request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

LOGIN_AT = "_shuping_login_at"
SEEN_AT = "_shuping_seen_at"
SEEN_RESOLUTION_SECONDS = 60


def stamp_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """user_logged_in: the session's clock starts at the login."""
    if request is not None and hasattr(request, "session"):
        now = time.time()
        request.session[LOGIN_AT] = now
        request.session[SEEN_AT] = now


class SessionLimitsMiddleware:
    """Log out a session past its absolute (SESSION_COOKIE_AGE) or idle (SESSION_IDLE_SECONDS) limit."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
            self.enforce(request)
        return self.get_response(request)

    @staticmethod
    def enforce(request: HttpRequest) -> None:
        session = request.session
        now = time.time()
        login_at, seen_at = session.get(LOGIN_AT), session.get(SEEN_AT)
        if not isinstance(login_at, float | int) or not isinstance(seen_at, float | int):
            # A session from before these limits: its clock starts now.
            session[LOGIN_AT] = session[SEEN_AT] = now
            return
        if now - login_at >= settings.SESSION_COOKIE_AGE or now - seen_at >= settings.SESSION_IDLE_SECONDS:
            logout(request)  # flushes the session; request.user is anonymous from here on
            return
        if now - seen_at >= SEEN_RESOLUTION_SECONDS:
            session[SEEN_AT] = now
