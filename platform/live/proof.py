"""Public proof on a county's host, without login: a meeting's public log, and a voter's receipt lookup.

`/yanzheng/` (验证): a voter types the receipt their phone showed and learns
whether a ballot with it is in the counted set of a published meeting. The
page says which meeting, and nothing about the ballot: no marks (shown to
whoever holds a receipt, they would let a voter prove their vote to a buyer
in a way a glance over someone's shoulder at the page could not be denied),
no place among the ballots. The receipt is sent by POST, never in the URL,
so no access log pairs it with the address that asked; it is not logged.

`/yanzheng/logs/<meeting_id>.jsonl`: the meeting's public log
(meetings.public_log) once its results are announced.

`proof_links(meeting_id)` and the template `proof/_links.html` are what
other pages (the public notice) include to link here.
"""

from __future__ import annotations

import io
import re

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from common.county import current_schema
from common.rate_limits import over_limit
from common.refusal import Refusal
from live.pages import hall_error
from meetings.public_log import export_public_log, published_meeting, receipt_lookup

_RECEIPT = re.compile(r"[0-9a-f]{64}\Z")
MAX_INPUT = 200  # characters of the receipt field read at all


def proof_links(meeting_id: str) -> dict[str, str]:
    """The addresses of a meeting's public proof: its public log and the receipt lookup."""
    return {
        "public_log": reverse("proof-public-log", kwargs={"meeting_id": meeting_id}),
        "receipt_lookup": reverse("proof-receipt"),
        "verifier": "/shuping-verify.pyz",
    }


def _refused(request: HttpRequest, refusal: Refusal) -> HttpResponse:
    context = {"error": refusal}
    return render(request, "proof/receipt.html", context, status=refusal.http_status)


def _read_receipt(raw: str) -> str:
    text = raw[:MAX_INPUT + 1]
    if len(text) > MAX_INPUT or "\x00" in text:
        raise Refusal("回执格式不对：回执是 64 位数字和字母（0–9、a–f），请对照手机上显示的回执重新输入",
                      "a receipt is 64 characters 0-9 and a-f; copy it again from your phone", code="receipt_invalid")
    receipt = re.sub(r"\s+", "", text).lower()
    if not _RECEIPT.match(receipt):
        raise Refusal("回执格式不对：回执是 64 位数字和字母（0–9、a–f），请对照手机上显示的回执重新输入",
                      "a receipt is 64 characters 0-9 and a-f; copy it again from your phone", code="receipt_invalid")
    return receipt


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def receipt_page(request: HttpRequest) -> HttpResponse:
    """The form (GET) and its answer (POST): in the counted set of which meeting, or not found."""
    if request.method != "POST":
        return render(request, "proof/receipt.html", {})
    try:
        if over_limit(request, scope="receipt_lookup", rate=settings.RECEIPT_LOOKUP_RATE):
            raise Refusal("查询过于频繁，请稍后再试", "too many lookups; try again in a minute",
                          code="throttled", http_status=429)
        receipt = _read_receipt(request.POST.get("receipt", ""))
    except Refusal as refusal:
        return _refused(request, refusal)
    found = receipt_lookup(receipt)
    return render(request, "proof/receipt.html", {"checked": True, "found": found, "receipt": receipt})


@require_safe
def public_log(request: HttpRequest, meeting_id: str) -> HttpResponse:
    """The meeting's public log (JSON Lines), for anyone, once its results were announced."""
    try:
        meeting = published_meeting(meeting_id)
    except Refusal as refusal:
        return hall_error(request, status=404, code=refusal.code, zh=refusal.message_zh, en=refusal.message_en)
    if meeting is None:
        return hall_error(request, status=404, code="not_published", zh="该会议的结果尚未公布，公开日志在公布结果后提供",
                          en="the meeting's results are not announced yet; its public log is published with them")

    out = io.StringIO()
    export_public_log(current_schema(), meeting_id, out)
    response = HttpResponse(out.getvalue().encode("utf-8"), content_type="application/jsonl; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="shuping-public-{meeting_id}.jsonl"'
    return response
