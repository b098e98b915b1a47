"""The ballot endpoint's fast path: the same contract as DRF's, without DRF on the way.

`POST /api/v/<meeting>/ballot/` is the one request a ballot burst is made of:
hundreds of phones at once at the close of every meeting. Through DRF it
builds a Request wrapper, negotiates content, runs authenticators and
permissions (none here), and validates with a serializer whose nested
DictFields deep-copy their fields for every ballot. This path does only what
the endpoint needs, for requests in the shape every phone sends:

- a JSON body (`Content-Type: application/json`, UTF-8, with a length within
  API_MAX_JSON_BYTES) that common.limits.loads takes (bounded depth, no NUL
  or lone surrogate in any key or string), an object of exactly `code` and `marks`, where
  `code` is a short string and `marks` maps ids to objects of short strings,
  each already in the form DRF's CharField would produce (no surrounding
  whitespace, not blank, no NUL or lone surrogate);
- an `Accept` header that DRF would answer with plain JSON, and no query string.

Everything else (another content type, broken JSON, a missing or extra
field, a number where a string belongs, a body too large, `Accept:
text/html`, ...) goes to the DRF view unchanged, which answers it exactly
as before: the error format, codes and messages of every refusal of input
are DRF's. Both paths call the same door (check_cast_ballot); its refusals
(malformed or unknown code, code used, wrong phase, invalid marks, unknown
meeting) are answered through the API's exception handler
(common.api.exception_handler), rendered the way DRF's JSONRenderer renders
them. The limits are the serializer's (VoterBallotIn), read from it. The
endpoint is wired in meetings.api.urls as `fast_path(VoterBallotApi)`.
Nothing here logs anything about a ballot.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from rest_framework.views import APIView

from accounts.roles import A_VOTER
from common import limits
from common.api import exception_handler, max_json_bytes
from common.refusal import Refusal
from meetings.actions.ballots import check_cast_ballot
from meetings.api.serializers import VoterBallotIn

_FIELDS = VoterBallotIn().fields
CODE_MAX: int = _FIELDS["code"].max_length
GRADE_MAX: int = _FIELDS["marks"].child.child.max_length
_JSON_ACCEPTS = {"*/*", "application/*", "application/json"}


def render(data: Any, status: int, allow: str) -> HttpResponse:
    """Bytes as DRF's JSONRenderer writes them (UNICODE_JSON, COMPACT_JSON), with DRF's headers."""
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    response = HttpResponse(text.encode(), status=status, content_type="application/json")
    response["Allow"] = allow
    return response


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
    if not length.isdigit() or int(length) > max_json_bytes():
        return None
    try:
        # Parsed as DRF's parser parses it (common.api.LimitedJSONParser): the
        # same bounds, so whatever it would refuse is left to it to answer.
        data = limits.loads(request.body)
    except Refusal:
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


def fast_path(view_class: type[APIView]) -> Callable[..., HttpResponse]:
    """The ballot endpoint: the fast path for the common shape, `view_class`'s DRF view for anything else."""
    drf_view = view_class.as_view()
    allow = ", ".join(view_class().allowed_methods)

    def view(request: HttpRequest, meeting_id: str) -> HttpResponse:
        body = _ballot_body(request) if request.method == "POST" else None
        if body is None:
            return drf_view(request, meeting_id=meeting_id)
        code, marks = body
        try:
            receipt = check_cast_ballot(actor=A_VOTER, meeting_id=meeting_id, code=code, marks=marks)
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
