"""What every API endpoint shares: one error format, body limits, command ids, parsing.

Every error the API returns has the same shape, whatever raised it:

    {"error": {"code": "wrong_phase",
               "message": "投票尚未开始，不能投票",
               "message_en": "the ballot is not open",
               "details": {...}}}

`code` is stable (clients and tests branch on it); `message` is Chinese, for a
person; `message_en` is the English line; `details` is optional (field errors
of a form, the rows of a bad import, the two sides of a paper mismatch).

Any `common.refusal.Refusal` carries its code and status, so the handler
needs no list of the platform's codes; only DRF's and Django's own
exceptions are put into our words here.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import (
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import Http404
from django.utils.http import parse_header_parameters
from rest_framework import exceptions, serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response

from common import limits
from common.commands import CommandKey
from common.refusal import Refusal


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


def refusal_response(refusal: Refusal) -> Response:
    return Response(
        error_body(refusal.code, refusal.message_zh, refusal.message_en, refusal.details), refusal.http_status
    )


def exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's exception handler: every error in one format (see module docstring)."""
    if isinstance(exc, Refusal):
        return refusal_response(exc)
    if isinstance(exc, SuspiciousOperation):
        # Django's own limits and checks, met while DRF reads the body
        # (DATA_UPLOAD_MAX_MEMORY_SIZE, DATA_UPLOAD_MAX_NUMBER_FIELDS/FILES, ...).
        return refusal_response(suspicious_refusal(exc))
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


def suspicious_refusal(exc: SuspiciousOperation) -> Refusal:
    """One of Django's refusals of a request (a SuspiciousOperation) in our words; never echoes it."""
    if isinstance(exc, RequestDataTooBig):
        return too_large(int(settings.DATA_UPLOAD_MAX_MEMORY_SIZE))
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return Refusal("请求中的字段或文件过多", "too many fields or files in the request", code="too_many_fields")
    return Refusal("无法处理该请求", "bad request", code="malformed_request")


class LimitedJSONParser(JSONParser):
    """UTF-8 JSON bodies up to settings.API_MAX_JSON_BYTES, parsed within common.limits.

    Larger bodies get 413 before parsing (on the declared length and on what
    is actually read, for chunked bodies without a length); another charset
    gets 415; depth, characters and keys are bounded by `limits.loads`, so
    DRF and the serializers never see a document that could break them.
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        charset = parse_header_parameters(media_type or "")[1].get("charset")
        if charset is not None and charset.strip().lower() not in ("utf-8", "utf8"):
            raise unsupported_charset()
        limit = max_json_bytes()
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and str(declared).isdigit() and int(declared) > limit:
            raise too_large(limit)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise too_large(limit)
        return limits.loads(raw)


def unsupported_charset() -> Refusal:
    return Refusal(
        "请求内容须为 UTF-8 编码的 JSON", "send JSON encoded as UTF-8 (no other charset)",
        code="unsupported_charset", http_status=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
    )


def max_json_bytes() -> int:
    return int(getattr(settings, "API_MAX_JSON_BYTES", 256 * 1024))


def too_large(limit: int) -> Refusal:
    return Refusal(
        f"请求内容过大（上限 {limit // 1024} KB）",
        f"request body too large (limit {limit // 1024} KB)",
        code="request_too_large",
        http_status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


_KEY_SCOPE = uuid.UUID("6f1d3a52-0c5e-4f7e-9a34-2f7c1b8d9e10")  # names the command ids derived from keys


def command_id(request: Request) -> CommandKey:
    """The command of a write: from the request's Idempotency-Key (a UUID), bound to this request.

    The key is scoped to whoever sends it (two accounts' keys never meet) and
    bound to the request's method, path (the command and its meeting) and
    body: a retry of the same request replays, the same key with another
    request is refused (events.store, IdempotencyKeyReused). Without a key a
    command gets a fresh id and is not repeatable.
    """
    key = request.headers.get("Idempotency-Key")
    if not key:
        return CommandKey(str(uuid.uuid4()))
    try:
        key = str(uuid.UUID(key))
    except ValueError:
        raise Refusal(
            "Idempotency-Key 须为 UUID", "Idempotency-Key must be a UUID", code="invalid_idempotency_key"
        ) from None
    user = request.user
    who = f"{user.role}:{user.username}" if user is not None and user.is_authenticated else "anonymous"
    return CommandKey(keyed_command_id(who=who, key=key), _fingerprint(request))


def keyed_command_id(*, who: str, key: str) -> str:
    """The command id that Idempotency-Key `key` (a UUID) names for `who` ("role:username" or "anonymous")."""
    return str(uuid.uuid5(_KEY_SCOPE, f"{who}\x00{key}"))


def _fingerprint(request: Request) -> str:
    data = request.data
    if hasattr(data, "lists"):  # a form's QueryDict
        data = {name: values for name, values in data.lists()}
    body = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    request_line = f"{request.method}\x00{request.path}\x00{body}"
    return hashlib.sha256(request_line.encode("utf-8", "surrogatepass")).hexdigest()


def parse(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The request body validated by `serializer_class` (a ValidationError becomes invalid_input).

    A form's names, values and file names are held to the rule JSON bodies
    are held to by their parser: no NUL, no lone surrogate (InvalidCharacters).
    """
    data = request.data
    if hasattr(data, "lists"):  # a form or multipart QueryDict; JSON was checked by LimitedJSONParser
        limits.require_clean_text(name for name, _ in data.lists())
        limits.require_clean_text(value for _, values in data.lists() for value in values if isinstance(value, str))
        limits.require_clean_text(upload.name or "" for _, uploads in request.FILES.lists() for upload in uploads)
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
