"""/gongshi/: the county's public notices, for anyone, without a login (mobile first, Chinese).

The list, a notice with its objections and their answers (never the
objector's contact), the form to raise an objection, and the notice as an
A4 PDF for the village board: the log's head hash printed in full and as a
QR code that opens this notice's page.

Objections are limited per client address (`OBJECTION_RATE`, counted by
common.rate_limits in the store every server process shares). The address
itself is neither stored nor logged: the counter's key is an HMAC of it under
the site's secret key, and it expires with the window.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import Any
from urllib.parse import quote

from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.roles import A_MEMBER_OF_PUBLIC
from common.api import keyed_command_id
from common.county import current_schema
from common.limits import clean_text
from common.rate_limits import over_limit
from common.refusal import Refusal
from followup import selectors
from followup.actions.notices import MAX_CONTACT, MAX_OBJECTION, check_raise_objection

PDF = "application/pdf"
QR_SCALE = 4  # pixels per module of the PNG (printed 32 mm wide)
QR_BORDER = 2
PDF_CACHE_SECONDS = 6 * 3600


OBJECTION_RATE = "5/h"  # per client address, across counties


def _notice_or_404(notice_id: str) -> dict[str, Any]:
    notice = selectors.notice(notice_id) if len(notice_id) <= 64 else None
    if notice is None:
        raise Http404("没有这份公示")
    return notice


@never_cache
def notice_list(request: HttpRequest) -> HttpResponse:
    return render(request, "followup/public_list.html", {
        "county": request.tenant, "notices": selectors.notices_published(),  # type: ignore[attr-defined]
        "now": timezone.now(),
    })


@never_cache
def notice_detail(request: HttpRequest, notice_id: str) -> HttpResponse:
    notice = _notice_or_404(notice_id)
    error: Refusal | None = None
    sent = request.GET.get("sent") == "1"
    if request.method == "POST":
        try:
            _object(request, notice_id)
            return HttpResponseRedirect(f"/gongshi/{notice_id}/?sent=1#objections")
        except Refusal as refused:
            error = refused
    now = timezone.now()
    context = {
        "county": request.tenant, "n": notice, "objections": selectors.objections(notice_id=notice_id),  # type: ignore[attr-defined]
        "open": notice["superseded_by"] is None and notice["ended_at"] is None and now < notice["period_ends"],
        "error": error, "sent": sent, "command_id": uuid.uuid4(), "max_text": MAX_OBJECTION,
        "max_contact": MAX_CONTACT, "text": _refill(request) if error else "",
        # the meeting's public proof (live.proof), by URL name: this floor does not import live
        "links": {
            "public_log": reverse("proof-public-log", kwargs={"meeting_id": notice["meeting_id"]}),
            "receipt_lookup": reverse("proof-receipt"), "verifier": "/shuping-verify.pyz",
        },
    }
    return render(request, "followup/public_notice.html", context, status=error.http_status if error else 200)


def _refill(request: HttpRequest) -> str:
    """The refused objection's text to fill the form again: only clean text of a bounded size is ever echoed."""
    text = request.POST.get("text", "")
    return text if clean_text(text) and len(text) <= MAX_OBJECTION else ""


def _object(request: HttpRequest, notice_id: str) -> None:
    if over_limit(request, scope="objection", rate=OBJECTION_RATE):
        raise Refusal("提交过于频繁，请一小时后再试", "too many objections from this address: try again in an hour",
                      code="throttled", http_status=429)
    key = request.POST.get("command_id", "")
    try:
        command_id: str | None = keyed_command_id(who="public", key=str(uuid.UUID(key)))
    except ValueError:
        command_id = None
    check_raise_objection(actor=A_MEMBER_OF_PUBLIC, notice_id=notice_id, text=request.POST.get("text", ""),
                          contact=request.POST.get("contact", ""), now=timezone.now(), command_id=command_id)


def notice_pdf_bytes(*, county: str, notice: dict[str, Any], url: str) -> bytes:
    """The notice as an A4 PDF (WeasyPrint, Noto CJK), with the head hash in full and a QR code of `url`."""
    import segno
    from weasyprint import (
        HTML,  # imported here: loading pango costs ~0.3 s, needed only for this page
    )

    qr = segno.make(url, error="m", micro=False).png_data_uri(scale=QR_SCALE, border=QR_BORDER)
    html = render_to_string("followup/notice_pdf.html", {"county": county, "n": notice, "qr": qr, "url": url})
    pdf: bytes = HTML(string=html).write_pdf()
    return pdf


def pdf_cache_key(*, notice_id: str, url: str) -> str:
    return f"notice_pdf_{current_schema()}_{notice_id}_{hashlib.sha256(url.encode()).hexdigest()[:16]}"


@never_cache
def notice_pdf(request: HttpRequest, notice_id: str) -> HttpResponse:
    """The notice's PDF. Drawing one takes about a second of CPU (measured: 1.1 s median, 3.2 s for the
    first in a process), and this page needs no login: a published notice never changes, so each is drawn
    once per host name it is asked under and then served from the cache."""
    notice = _notice_or_404(notice_id)
    url = request.build_absolute_uri(f"/gongshi/{notice_id}/")
    key = pdf_cache_key(notice_id=notice_id, url=url)
    pdf = cache.get(key)
    if pdf is None:
        pdf = notice_pdf_bytes(county=request.tenant.name, notice=notice, url=url)  # type: ignore[attr-defined]
        cache.set(key, pdf, PDF_CACHE_SECONDS)
    response = HttpResponse(pdf, content_type=PDF)
    filename = f"{notice['village']}-公示.pdf"
    response["Content-Disposition"] = (
        f"attachment; filename=\"notice-{notice_id}.pdf\"; filename*=UTF-8''{quote(filename)}"
    )
    return response
