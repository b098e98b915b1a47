"""What every API endpoint shares: one error format, body limits, role permissions.

Every error the API returns has the same shape, whatever raised it:

    {"error": {"code": "wrong_phase",
               "message": "投票尚未开始，不能投票",
               "message_en": "the ballot is not open",
               "details": {...}}}

`code` is stable (clients and tests branch on it); `message` is Chinese, for a
person; `message_en` is the English line; `details` is optional (field errors
of a form, the rows of a bad import, the two sides of a paper mismatch).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # rest_framework.views reads DRF settings at import: no import cycle
    from rest_framework.views import APIView


class ApiError(exceptions.APIException):
    """An error with our stable code and a Chinese and English message."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(
        self,
        code: str,
        message_zh: str,
        message_en: str,
        *,
        status_code: int | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(detail=message_zh, code=code)
        self.error_code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details
        if status_code is not None:
            self.status_code = status_code


def error_body(code: str, message_zh: str, message_en: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message_zh, "message_en": message_en}
    if details is not None:
        body["details"] = details
    return {"error": body}


# DRF's own exceptions, in our words. (code, Chinese, English)
_DRF_ERRORS: dict[type[exceptions.APIException], tuple[str, str, str]] = {
    exceptions.NotAuthenticated: ("not_authenticated", "请先登录", "authentication required"),
    exceptions.AuthenticationFailed: ("authentication_failed", "登录信息无效", "invalid credentials"),
    exceptions.PermissionDenied: ("forbidden", "您的角色无权执行此操作", "your role may not do this"),
    exceptions.NotFound: ("not_found", "找不到该对象", "not found"),
    exceptions.MethodNotAllowed: ("method_not_allowed", "不支持该请求方法", "method not allowed"),
    exceptions.NotAcceptable: ("not_acceptable", "无法提供所请求的格式", "not acceptable"),
    exceptions.UnsupportedMediaType: (
        "unsupported_media_type", "请求格式不支持，请以 JSON 发送", "unsupported media type: send JSON"
    ),
    exceptions.ParseError: ("malformed_request", "请求内容不是有效的 JSON", "malformed JSON body"),
    exceptions.Throttled: ("throttled", "请求过于频繁，请稍后再试", "too many requests"),
}


def _domain_status(code: str) -> int:
    if code in {"unknown_meeting", "unknown_round", "unknown_code", "not_found"}:
        return status.HTTP_404_NOT_FOUND
    if code in {"concurrency_conflict", "wrong_phase", "code_already_used", "already_checked_in"}:
        return status.HTTP_409_CONFLICT
    return status.HTTP_400_BAD_REQUEST


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's exception handler: every error in one format (see module docstring)."""
    from events.store import StoreError
    from events.types import EventSchemaError
    from meetings.domain.aggregate import DomainError

    if isinstance(exc, ApiError):
        return Response(error_body(exc.error_code, exc.message_zh, exc.message_en, exc.details), exc.status_code)
    if isinstance(exc, DomainError):
        details = getattr(exc, "details", None)
        return Response(error_body(exc.code, exc.message_zh, exc.message_en, details), _domain_status(exc.code))
    if isinstance(exc, StoreError):
        code = getattr(exc, "code", "store_error")
        return Response(error_body(code, exc.message_zh, exc.message_en), _domain_status(code))
    if isinstance(exc, EventSchemaError):
        return Response(error_body("invalid_event", exc.message_zh, exc.message_en), status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if isinstance(exc, exceptions.ValidationError):
        return Response(
            error_body("invalid_input", "输入有误，请检查标出的字段", "invalid input", exc.detail),
            status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, exceptions.APIException):
        for kind, (code, zh, en) in _DRF_ERRORS.items():
            if isinstance(exc, kind):
                response = Response(error_body(code, zh, en), exc.status_code)
                break
        else:
            response = Response(error_body("error", str(exc.detail), str(exc.detail)), exc.status_code)
        if isinstance(exc, (exceptions.NotAuthenticated, exceptions.AuthenticationFailed)):
            # DRF asks only the first authenticator (session, which has no
            # challenge) and so turns these into 403; a missing or bad login is 401.
            response.status_code = status.HTTP_401_UNAUTHORIZED
            response["WWW-Authenticate"] = getattr(exc, "auth_header", None) or 'Token realm="api"'
        elif getattr(exc, "auth_header", None):
            response["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None):
            response["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        return response
    return None  # a real bug: Django's 500 handling (logged, generic page)


class HasRole(BasePermission):
    """Allows users of the current county whose role is one of `roles`."""

    roles: frozenset[str] = frozenset()

    def has_permission(self, request: Request, view: APIView) -> bool:  # noqa: F821
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.role in self.roles)


def roles(*names: str) -> type[HasRole]:
    """Permission class for an endpoint: `permission_classes = [roles("host", "county_admin")]`."""
    return type(f"HasRole_{'_'.join(names)}", (HasRole,), {"roles": frozenset(names)})


READERS = ("county_admin", "host", "teller", "auditor", "observer")
