"""Errors Django answers itself, in our format: a JSON body under /api/, a Chinese page elsewhere.

DRF's views answer their errors through common.api.exception_handler. What
never reaches a DRF view is answered here, in the same format:

- Django's error views (`handler400`, `handler403`, `handler404`,
  `handler500` of the URL modules, and CSRF_FAILURE_VIEW): an unmatched
  route, an id that no path converter takes (common.paths), a body over
  DATA_UPLOAD_MAX_MEMORY_SIZE (413), a form without its CSRF token, and a
  bug (500);
- `HttpErrorsMiddleware`, the outermost middleware: gives every request an
  id (sent back as `X-Request-ID`, written on every log line of the request
  by `RequestIdFilter`), and rewrites any other error answer under /api/
  that is not JSON (a 405 of a non-DRF view, an HTML page of some library)
  into the error body, by its status.

Nothing here echoes what the client sent: the messages are fixed, so a
lone surrogate or a NUL in a path cannot break the answer's encoding.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.template import loader

from common.api import suspicious_refusal

REQUEST_ID_HEADER = "X-Request-ID"
API_PREFIX = "/api/"

# status -> (code, Chinese, English): the answer to an error nobody put into words.
_BY_STATUS: dict[int, tuple[str, str, str]] = {
    400: ("malformed_request", "无法处理该请求", "bad request"),
    401: ("not_authenticated", "请先登录", "authentication required"),
    403: ("forbidden", "您无权执行此操作", "forbidden"),
    404: ("not_found", "找不到该地址：请检查网址（编号只能含字母、数字和下划线）",
          "no such address (ids are letters, digits and underscores)"),
    405: ("method_not_allowed", "不支持该请求方法", "method not allowed"),
    406: ("not_acceptable", "无法提供所请求的格式", "not acceptable"),
    413: ("request_too_large", "请求内容过大", "request body too large"),
    415: ("unsupported_media_type", "请求格式不支持，请以 JSON 发送", "unsupported media type: send JSON"),
    429: ("throttled", "请求过于频繁，请稍后再试", "too many requests"),
    500: ("server_error", "服务器出错了，请稍后再试；如问题持续，请把请求编号告诉平台运营",
          "something went wrong on our side; quote the request id if it persists"),
}
_UNKNOWN_HOST = ("unknown_host", "未知的县区域名：请检查网址", "no county is served at this host name")


def request_id(request: HttpRequest) -> str:
    """The id HttpErrorsMiddleware gave this request ("-" outside it)."""
    return str(getattr(request, "request_id", "-"))


def is_api(request: HttpRequest) -> bool:
    path = request.path_info or ""
    return path.startswith(API_PREFIX) or path == API_PREFIX.rstrip("/")


def api_error(status: int, code: str, zh: str, en: str, details: Any = None) -> HttpResponse:
    """An error answer in the documented format (common.api.error_body), as DRF's renderer writes it."""
    body: dict[str, Any] = {"code": code, "message": zh, "message_en": en}
    if details is not None:
        body["details"] = details
    text = json.dumps({"error": body}, ensure_ascii=False, separators=(",", ":"))
    return HttpResponse(text.encode(), status=status, content_type="application/json")


def _for_status(request: HttpRequest, status: int) -> HttpResponse:
    code, zh, en = _BY_STATUS.get(status) or _BY_STATUS[500 if status >= 500 else 400]
    if status == 404 and getattr(request, "tenant", None) is None:
        code, zh, en = _UNKNOWN_HOST  # the county middleware found no county for the host
    details = {"request_id": request_id(request)} if status >= 500 else None
    return api_error(status, code, zh, en, details)


def _page(request: HttpRequest, template: str, status: int, **context: Any) -> HttpResponse:
    body = loader.get_template(template).render({"request_id": request_id(request), **context}, request)
    return HttpResponse(body, status=status)


# -- Django's error views (handler400/403/404/500 in shuping.urls_county and urls_public) --------


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django refused the request itself (a SuspiciousOperation): 413 for a body over its limit, else 400."""
    status = 413 if isinstance(exception, RequestDataTooBig) else 400
    if is_api(request):
        if isinstance(exception, SuspiciousOperation):
            refusal = suspicious_refusal(exception)
            return api_error(refusal.http_status, refusal.code, refusal.message_zh, refusal.message_en)
        return _for_status(request, status)
    code, zh, en = _BY_STATUS[status]
    return _page(request, "error.html", status, code=code, message_zh=zh, message_en=en)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return _for_status(request, 403)
    code, zh, en = _BY_STATUS[403]
    return _page(request, "error.html", 403, code=code, message_zh=zh, message_en=en)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a form sent without its page's token (Django's own page is English only)."""
    zh, en = "页面已过期或来源不明：请刷新页面后重试", "the form's security token is missing or wrong: reload the page"
    if is_api(request):
        return api_error(403, "csrf_failed", zh, en)
    return _page(request, "error.html", 403, code="csrf_failed", message_zh=zh, message_en=en)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api(request):
        return _for_status(request, 404)
    return _page(request, "404.html", 404)


def server_error(request: HttpRequest) -> HttpResponse:
    """A bug: Django has logged it (with the request id, RequestIdFilter); the answer names the id only."""
    if is_api(request):
        return _for_status(request, 500)
    try:
        # No request context: whatever failed (the database?) may fail again in a context processor.
        body = loader.get_template("500.html").render({"request_id": request_id(request)})
    except Exception:  # noqa: BLE001 - the page of last resort must not fail
        body = "<!doctype html><title>服务器错误 / Server error</title><h1>服务器出错了 / Server error</h1>"
    return HttpResponse(body, status=500)


# -- the middleware and the log filter -----------------------------------------------------------


class HttpErrorsMiddleware:
    """Outermost: a request id for every request, and the error format for every error under /api/."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # Random, and never taken from the client: a header that a client
        # chooses could not be trusted in the logs.
        request.request_id = secrets.token_hex(8)  # type: ignore[attr-defined]
        response = self.get_response(request)
        if response.status_code >= 400 and is_api(request) and not _is_json(response):
            response.close()  # what it holds (a file, a stream) is let go; the status is all we keep
            response = _for_status(request, response.status_code)
        response[REQUEST_ID_HEADER] = request.request_id  # type: ignore[attr-defined]
        return response


def _is_json(response: HttpResponse) -> bool:
    content_type = response.get("Content-Type", "")
    return content_type.split(";", 1)[0].strip().lower() == "application/json"


class RequestIdFilter(logging.Filter):
    """Puts `request_id` on every log record: the request's (Django's records carry it), or "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        record.request_id = request_id(request) if request is not None else "-"  # type: ignore[arg-type]
        return True
