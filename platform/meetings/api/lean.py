"""The ballot endpoint's fast path: the same contract as DRF's, without DRF on the way.

`POST /api/v/<meeting>/ballot/` is the one request a ballot burst is made of:
hundreds of phones at once at the close of every meeting. Through DRF it
builds a Request wrapper, negotiates content, runs authenticators and
permissions (none here), and validates with a serializer whose nested
DictFields deep-copy their fields for every ballot. This path does only what
the endpoint needs, for requests in the shape every phone sends:

- a JSON body (`Content-Type: application/json`, UTF-8, with a length within
  API_MAX_JSON_BYTES) that is an object of exactly `code` and `marks`, where
  `code` is a short string and `marks` maps ids to objects of short strings,
  each already in the form DRF's CharField would produce (no surrounding
  whitespace, not blank, no NUL or lone surrogate);
- an `Accept` header that DRF would answer with plain JSON, and no query string.

Everything else (another content type, broken JSON, a missing or extra
field, a number where a string belongs, a body too large, `Accept:
text/html`, ...) goes to the DRF view unchanged, which answers it exactly
as before: the error format, codes and messages of every refusal of input
are DRF's. Domain errors (malformed or unknown code, code used, wrong phase,
invalid marks, unknown meeting) are answered through the same exception
handler as the API's (shuping.api.exception_handler), rendered the way DRF's
JSONRenderer renders them. Nothing here logs anything about a ballot.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from meetings import codes, services
from shuping.api import ApiError, exception_handler
from shuping.db import current_schema

CODE_MAX = 40  # serializers.VoterBallotIn.code
GRADE_MAX = 64  # serializers.VoterBallotIn.marks' CharField
_JSON_ACCEPTS = {"*/*", "application/*", "application/json"}


def code_hash(county: str, meeting_id: str, code: str) -> str:
    """The code's hash, or a `malformed_code` error for text that cannot be a code."""
    if not codes.is_well_formed(codes.normalize_code(code)):
        raise ApiError("malformed_code", "测评码格式不对，请核对后重新输入", "malformed ballot code")
    return codes.code_hash(county, meeting_id, code)


def render(data: Any, status: int, allow: str) -> HttpResponse:
    """Bytes as DRF's JSONRenderer writes them (UNICODE_JSON, COMPACT_JSON), with DRF's headers."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    response = HttpResponse(text.encode(), status=status, content_type="application/json")
    response["Allow"] = allow
    return response


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # DRF's parser refuses NaN and Infinity too


def _plain_text(value: Any, limit: int) -> bool:
    """Whether DRF's CharField(max_length=limit) would take `value` and give it back unchanged."""
    if type(value) is not str or not value or len(value) > limit or value.strip() != value or "\x00" in value:
        return False
    try:
        value.encode("utf-8")  # a lone surrogate cannot be encoded (DRF refuses those)
    except UnicodeEncodeError:
        return False
    return True


def _ballot_body(request: HttpRequest) -> tuple[str, dict[str, dict[str, str]]] | None:
    """(code, marks) of a request in the common shape, or None for DRF to answer."""
    if request.content_type != "application/json" or request.META.get("QUERY_STRING"):
        return None  # (a query string may carry DRF's `format` override)
    charset = (request.content_params or {}).get("charset")
    if charset is not None and charset.lower() not in ("utf-8", "utf8"):
        return None
    accept = request.headers.get("Accept", "")
    if accept and ("indent" in accept or not any(
        item.split(";", 1)[0].strip().lower() in _JSON_ACCEPTS for item in accept.split(",")
    )):
        return None
    length = request.META.get("CONTENT_LENGTH") or ""
    if not length.isdigit() or int(length) > int(getattr(settings, "API_MAX_JSON_BYTES", 256 * 1024)):
        return None
    try:
        # Decoded as DRF's parser decodes it (UTF-8, strictly), not by json's guess.
        data = json.loads(request.body.decode("utf-8"), parse_constant=_reject_constant)
    except ValueError:
        return None
    if type(data) is not dict or len(data) != 2:
        return None
    code, marks = data.get("code"), data.get("marks")
    if not _plain_text(code, CODE_MAX) or type(marks) is not dict:
        return None
    for grades in marks.values():
        if type(grades) is not dict:
            return None
        for grade in grades.values():
            if not _plain_text(grade, GRADE_MAX):
                return None
    return str(code), marks


def ballot_view(drf_view: Callable[..., HttpResponse], allow: str) -> Callable[..., HttpResponse]:
    """The ballot endpoint: the fast path for the common shape, `drf_view` for anything else."""

    def view(request: HttpRequest, meeting_id: str) -> HttpResponse:
        body = _ballot_body(request) if request.method == "POST" else None
        if body is None:
            return drf_view(request, meeting_id=meeting_id)
        code, marks = body
        try:
            hashed = code_hash(str(current_schema()), meeting_id, code)
            receipt = services.cast_ballot(meeting_id, hashed, marks)
        except Exception as exc:  # noqa: BLE001 - the API's handler decides; what it does not know propagates
            handled = exception_handler(exc, {"request": request})
            if handled is None:
                raise
            response = render(handled.data, handled.status_code, allow)
            for name, value in handled.items():
                if name.lower() != "content-type":
                    response[name] = value
            return response
        return render(
            {"receipt": receipt.receipt, "repeated": receipt.repeated}, 200 if receipt.repeated else 201, allow
        )

    # What Django and drf-spectacular read off a view: CSRF exemption (a
    # voter has no session), and the APIView class the endpoint documents.
    view.csrf_exempt = True  # type: ignore[attr-defined]
    view.cls = drf_view.cls  # type: ignore[attr-defined]
    view.initkwargs = drf_view.initkwargs  # type: ignore[attr-defined]
    view.__name__ = getattr(drf_view, "__name__", "view")
    view.__doc__ = drf_view.__doc__
    return view
