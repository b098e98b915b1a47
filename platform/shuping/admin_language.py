"""The Django admin speaks Chinese whatever the browser asks for.

County users never need the admin; where it remains (operators, reference
data) its chrome is zh-Hans, like every other page. LocaleMiddleware picks a
language from Accept-Language first; this middleware, right after it,
switches requests under /admin/ back to Chinese before the view runs.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

ADMIN_PREFIX = "/admin/"


class AdminInChineseMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(ADMIN_PREFIX):
            return self.get_response(request)
        translation.activate(settings.LANGUAGE_CODE)
        request.LANGUAGE_CODE = settings.LANGUAGE_CODE  # type: ignore[attr-defined]
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", settings.LANGUAGE_CODE)
        return response
