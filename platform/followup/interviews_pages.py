"""/interviews/: the county's interviews (诫勉谈话 / 约谈) opened by the rule, with their records and plans.

A plain form page, as /staff/: the list (overdue first), and per interview
the form that records it (kind, interviewer, date, record) and then the one
that files the subject's written plan with its deadline.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.roles import Actor, may
from common.refusal import Refusal
from followup import interviews_selectors, page_kit
from followup.actions import interviews as doors
from followup.interviews import KINDS

FORBIDDEN = {"status": 403, "code": "forbidden", "message_zh": "只有县委组织部和纪委审计可以查看诫勉谈话。",
             "message_en": "Only the county organization department and auditors see the interviews."}


def _do(request: HttpRequest) -> str:
    actor = Actor.of_user(request.user)
    post, command_id = request.POST, page_kit.form_command_id(request)
    interview_id = post.get("interview_id", "")
    if post.get("op") == "hold":
        held_on = page_kit.form_date(post.get("held_on"), "held_on")
        if held_on is None:
            raise Refusal("请填写谈话日期", "the date is required", code="held_on_required")
        doors.check_hold_interview(actor=actor, interview_id=interview_id, kind=post.get("kind", ""),
                                   interviewer=post.get("interviewer", ""), held_on=held_on,
                                   record=post.get("record", ""), command_id=command_id)
    elif post.get("op") == "plan":
        doors.check_file_rectification_plan(actor=actor, interview_id=interview_id, plan=post.get("plan", ""),
                                            deadline=page_kit.form_date(post.get("deadline"), "deadline"), command_id=command_id)
    else:
        raise Refusal("未知的操作", "unknown operation", code="unknown_operation")
    return "/interviews/"


@never_cache
@page_kit.gated("page:interviews", FORBIDDEN)
def interviews_page(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    answer, error = page_kit.posted(request, lambda: _do(request), write="hold_interview")
    if answer is not None:
        return answer
    today = timezone.localdate()
    context = {
        "interviews": interviews_selectors.interviews_list(today=today),
        "kinds": KINDS,
        "today": today,
        "may_write": may(user.role, "hold_interview"),
        "error": error,
        "failed_id": request.POST.get("interview_id") if error else None,
        "command_id": uuid.uuid4(),
    }
    return render(request, "followup/interviews.html", context, status=error.http_status if error else 200)
