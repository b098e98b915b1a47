"""/notices/: the organization department's desk for notices, objections and filing.

`/notices/` lists the meetings after their results: to publish, in notice,
late (period over, not filed) and filed. `/notices/<meeting id>/` publishes
the meeting's notice from its draft (wording and period editable), answers
objections (their contacts are shown here only), publishes a correction and
files the results. Plain form pages: each button posts one operation, the
view calls its door and redirects back, or shows the refusal in Chinese.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.roles import Actor
from common.refusal import Refusal
from followup import page_kit, selectors
from followup.actions import notices as doors
from followup.drafting import notice_draft

FORBIDDEN = {"status": 403, "code": "forbidden", "message_zh": "只有县委组织部管理员可以打开公示与备案页面。",
             "message_en": "Only county administrators may open this page."}


def _working_days(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise Refusal("公示期须为整数个工作日", "the period must be a whole number of working days",
                      code="invalid_notice_period") from None


@never_cache
@page_kit.gated("page:notices", FORBIDDEN)
def notices_desk(request: HttpRequest) -> HttpResponse:
    return render(request, "followup/desk.html", {
        "county": request.tenant, "overview": selectors.filing_overview(timezone.now()),  # type: ignore[attr-defined]
    })


def _do(request: HttpRequest, meeting_id: str) -> str:
    post = request.POST
    actor = Actor.of_user(request.user)
    op = post.get("op", "")
    command_id = page_kit.form_command_id(request)
    now = timezone.now()
    if op == "publish":
        doors.check_publish_notice(
            actor=actor, meeting_id=meeting_id, title=post.get("title", ""), text=post.get("text", ""),
            working_days=_working_days(post.get("working_days", "")), supersedes=post.get("supersedes") or None,
            now=now, command_id=command_id,
        )
    elif op == "answer":
        doors.check_answer_objection(actor=actor, objection_id=post.get("objection_id", ""),
                                     answer=post.get("answer", ""), now=now, command_id=command_id)
    elif op == "file":
        doors.check_file_results(actor=actor, meeting_id=meeting_id, now=now, command_id=command_id)
    else:
        raise Refusal("未知的操作", "unknown operation", code="unknown_operation")
    return f"/notices/{meeting_id}/"


@never_cache
@page_kit.gated("page:notices", FORBIDDEN)
def meeting_notices(request: HttpRequest, meeting_id: str) -> HttpResponse:
    answer, error = page_kit.posted(request, lambda: _do(request, meeting_id))
    if answer is not None:
        return answer
    try:
        draft: Any = notice_draft(meeting_id)
    except Refusal as refusal:
        draft = None
        if refusal.code == "unknown_meeting":
            return render(request, "hall/error.html", {
                "status": 404, "code": refusal.code, "message_zh": refusal.message_zh,
                "message_en": refusal.message_en}, status=404)
        error = error or refusal
    notices = selectors.meeting_notices(meeting_id)
    current = next((n for n in notices if n["superseded_by"] is None), None)
    objections = selectors.objections(meeting_id=meeting_id, public=False)
    now = timezone.now()
    return render(request, "followup/meeting.html", {
        "county": request.tenant, "meeting_id": meeting_id, "draft": draft,  # type: ignore[attr-defined]
        "notices": notices, "current": current, "objections": objections,
        "unanswered": sum(1 for o in objections if o["answer"] is None),
        "period_over": current is not None and current["period_ends"] <= now,
        "filing": selectors.filing(meeting_id), "error": error, "command_id": uuid.uuid4(),
        "max_title": doors.MAX_TITLE, "max_text": doors.MAX_TEXT, "max_answer": doors.MAX_ANSWER,
    }, status=error.http_status if error and request.method == "POST" else 200)
