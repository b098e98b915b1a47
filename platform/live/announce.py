"""/hall/<id>/announce/: announce a meeting (会前公告), and its printable notice as an A4 PDF.

Opened from the county's workspace, from "my meetings" and from the host's
console. The form goes through the one door (check_announce_meeting): the
channels (seed 003: 村务公开栏, 党员微信/QQ群, 电话, 广播), time, place and
agenda; inside the round's lead time the announcement needs a reason,
which is recorded on the event. A refusal is shown next to its field and
nothing is appended. Once announced, the page offers the notice for the
village board: an A4 PDF drawn by WeasyPrint with Debian's Noto CJK fonts.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import quote

from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.roles import Actor
from common.api import keyed_command_id
from common.commands import CommandKey
from common.refusal import Refusal
from live.pages import hall_error, page_for
from meetings import desks
from meetings.actions.setup import check_announce_meeting

CHANNELS = [
    ("notice_board", "村务公开栏"), ("message_group", "党员微信（QQ）群"), ("phone", "电话通知"), ("broadcast", "广播"),
]
CHANNEL_NAMES = dict(CHANNELS)
AGENDA = "签到，核对到会人数\n述职述廉（村党组织书记、村委会主任及两委成员）\n领导点评\n质询提问\n民主测评（无记名投票）\n当场公布测评结果"
REQUIRED = {"required": "请填写此项", "invalid": "格式不正确", "invalid_choice": "请从列表中选择"}
FIELD_OF_CODE = {"lead_time_too_short": "override_reason"}
PDF = "application/pdf"


class AnnounceForm(forms.Form):
    command_id = forms.UUIDField(widget=forms.HiddenInput)
    date = forms.DateField(error_messages={**REQUIRED, "invalid": "日期格式应为 年-月-日"},
                           widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    time = forms.TimeField(error_messages={**REQUIRED, "invalid": "时间格式应为 时:分"},
                           widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    place = forms.CharField(max_length=100, error_messages=REQUIRED)
    agenda = forms.CharField(max_length=2000, widget=forms.Textarea(attrs={"rows": 6}), error_messages=REQUIRED)
    channels = forms.MultipleChoiceField(choices=CHANNELS, widget=forms.CheckboxSelectMultiple,
                                         error_messages={**REQUIRED, "required": "至少选择一个公告渠道"})
    override_reason = forms.CharField(max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2}))


def _command(actor: Actor, meeting_id: str, data: dict[str, Any]) -> CommandKey:
    """The form's command id, scoped to the sender and bound to the meeting and what was sent."""
    sent = json.dumps({"form": "announce", "meeting_id": meeting_id, **data}, sort_keys=True, ensure_ascii=False,
                      default=str)
    return CommandKey(
        keyed_command_id(who=f"{actor.role}:{actor.name}", key=str(data["command_id"])),
        hashlib.sha256(sent.encode("utf-8")).hexdigest(),
    )


def _announce(actor: Actor, meeting_id: str, data: dict[str, Any]) -> None:
    check_announce_meeting(
        actor=actor, meeting_id=meeting_id, starts_at=timezone.make_aware(datetime.combine(data["date"], data["time"])),
        place=data["place"], agenda=[line.strip() for line in data["agenda"].splitlines() if line.strip()],
        channels=data["channels"], override_reason=data["override_reason"] or None,
        command_id=_command(actor, meeting_id, data),
    )


def _notice_or_404(request: HttpRequest, meeting_id: str) -> dict[str, Any] | HttpResponse:
    notice = desks.meeting_notice(meeting_id)
    if notice is None:
        return hall_error(request, status=404, code="unknown_meeting", zh="没有这场会议。", en="No such meeting.")
    return notice


@never_cache
@page_for("announce")
def announce_page(request: HttpRequest, meeting_id: str) -> HttpResponse:
    notice = _notice_or_404(request, meeting_id)
    if isinstance(notice, HttpResponse):
        return notice
    status = 200
    failed_en = None
    if request.method == "POST":
        form = AnnounceForm(request.POST)
        if form.is_valid():
            try:
                _announce(Actor.of_user(request.user), meeting_id, form.cleaned_data)
            except Refusal as refused:
                form.add_error(FIELD_OF_CODE.get(refused.code), refused.message_zh)
                failed_en = refused.message_en
            else:
                return HttpResponseRedirect(f"/hall/{meeting_id}/announce/")
        status = 400
    else:
        starts = notice["starts"]
        form = AnnounceForm(initial={
            "command_id": uuid.uuid4(), "date": starts.date() if starts else None,
            "time": starts.time().replace(second=0, microsecond=0) if starts else None, "place": notice["place"],
            "agenda": AGENDA, "channels": [c for c, _ in CHANNELS],
        })
    return render(request, "hall/announce.html", {
        "county": request.tenant, "m": notice, "form": form, "failed_en": failed_en,  # type: ignore[attr-defined]
        "channel_names": CHANNEL_NAMES,
    }, status=status)


def announcement_html(*, county: str, notice: dict[str, Any]) -> str:
    """The notice for the village board as HTML (the PDF's source)."""
    announced = notice["announcement"]
    return render_to_string("hall/announcement_pdf.html", {
        "county": county, "m": notice, "agenda": announced["agenda"],
        "channels": [CHANNEL_NAMES.get(c, c) for c in announced["channels"]],
    })


def announcement_pdf_bytes(*, county: str, notice: dict[str, Any]) -> bytes:
    """The notice as an A4 PDF (WeasyPrint; the page size is set in the template's @page rule)."""
    from weasyprint import (
        HTML,  # imported here: loading pango costs ~0.3 s, needed only for this page
    )

    pdf: bytes = HTML(string=announcement_html(county=county, notice=notice)).write_pdf()
    return pdf


@never_cache
@page_for("announce")
def announcement_pdf(request: HttpRequest, meeting_id: str) -> HttpResponse:
    notice = _notice_or_404(request, meeting_id)
    if isinstance(notice, HttpResponse):
        return notice
    if notice["announcement"] is None:
        return hall_error(request, status=409, code="not_announced",
                          zh="会议尚未发布公告，发布后才能打印公告。", en="The meeting is not announced yet: announce it first.")
    pdf = announcement_pdf_bytes(county=request.tenant.name, notice=notice)  # type: ignore[attr-defined]
    response = HttpResponse(pdf, content_type=PDF)
    filename = f"{notice['village']}-会议公告.pdf"
    response["Content-Disposition"] = (
        f"attachment; filename=\"announcement-{meeting_id}.pdf\"; filename*=UTF-8''{quote(filename)}"
    )
    return response
