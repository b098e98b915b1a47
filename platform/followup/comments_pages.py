"""Pages of the comment ledger (点评台账) and of each village's public suggestion box (意见箱).

- /comments/: the county's comment ledger: record a comment (mode, face to
  face or back to back, who, whom, when, what), open a rectification item
  from a comment, and the officials flagged for 组织调整 with their facts;
- /yijianxiang/<village_id>/: a village's suggestion box for anyone, no
  login, for a cheap phone first. What the writer types is all that is kept:
  no account, no address (the throttle keys an HMAC of it, in the cache
  only), a contact only if they give one.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.roles import A_MEMBER_OF_PUBLIC, Actor, may
from common.api import keyed_command_id
from common.limits import clean_text
from common.rate_limits import over_limit
from common.refusal import Refusal
from followup import comments_selectors, page_kit
from followup.actions import comments as doors
from followup.comments import MANNERS, MAX_CONTACT, MAX_TEXT, MODES
from meetings.models import Village

FORBIDDEN = {"status": 403, "code": "forbidden", "message_zh": "只有县委组织部和纪委审计可以查看点评台账。",
             "message_en": "Only the county organization department and auditors see the comment ledger."}


COMMENTS_PAGE = 100  # comments a page of the ledger shows, newest first
SUGGESTION_RATE = "5/h"  # per client address, across counties (common.rate_limits)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() and len(value) < 10 else None


def _villages(township_id: int | None) -> list[Village]:
    villages = Village.objects.select_related("township").order_by("township__name", "name")
    return list(villages if township_id is None else villages.filter(township_id=township_id))


def _do(request: HttpRequest) -> str:
    """Open a rectification item from a comment, or record a comment; where to go next."""
    actor, post = Actor.of_user(request.user), request.POST
    if "open_item" in post:
        item_id = doors.check_open_item_from_comment(
            actor=actor, comment_id=post.get("comment_id", ""), problem=post.get("problem", ""),
            note=post.get("note", ""), command_id=page_kit.form_command_id(request))
        return f"/ledger/{item_id}/"
    today = timezone.localdate()
    doors.check_enter_comment(
        actor=actor, village_id=_int(post.get("village_id")), mode=post.get("mode", ""),
        manner=post.get("manner", ""), commenter=post.get("commenter", ""), about=post.get("about", ""),
        official_id=post.get("official_id") or None,
        on=page_kit.required_date(post.get("on"), "on"), today=today, text=post.get("text", ""),
        command_id=page_kit.form_command_id(request))
    return page_kit.with_narrowing("/comments/", request)  # the next comment is likely for the same township


@never_cache
@page_kit.gated("page:comments", FORBIDDEN)
def comments_page(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    answer, error = page_kit.posted(request, lambda: _do(request))
    if answer is not None:
        return answer
    total = comments_selectors.comments_count()
    pages = max(1, -(-total // COMMENTS_PAGE))
    page = min(page_kit.query_number(request, "page", digits=6) or 1, pages)
    comments = comments_selectors.comments_list(limit=COMMENTS_PAGE, offset=(page - 1) * COMMENTS_PAGE)
    for comment in comments:
        comment["command_id"] = uuid.uuid4()  # one per form: a double click opens one item
    township_id, picking = page_kit.pickers(request)
    context = {
        **picking,
        "comments": comments, "total": total, "page": page, "pages": pages,
        "newer": page_kit.with_narrowing("/comments/", request, page=page - 1) if page > 1 else None,
        "older": page_kit.with_narrowing("/comments/", request, page=page + 1) if page < pages else None,
        "adjustments": comments_selectors.adjustments_list(),
        "villages": _villages(township_id),
        "modes": {k: v for k, v in MODES.items() if k != "box"}, "manners": MANNERS,
        "may_write": may(user.role, "enter_comment"), "command_id": uuid.uuid4(), "error": error,
        "today": timezone.localdate().isoformat(),
    }
    return render(request, "followup/comments.html", context, status=error.http_status if error else 200)


@never_cache
def suggestion_box(request: HttpRequest, village_id: int) -> HttpResponse:
    village = Village.objects.select_related("township").filter(pk=village_id).first()
    if village is None:
        raise Http404("没有这个村（社区）")
    answer, error = page_kit.posted(request, lambda: _drop(request, village_id))
    if answer is not None:
        return answer
    text = request.POST.get("text", "") if error else ""
    context = {
        "county": request.tenant, "village": village, "error": error,  # type: ignore[attr-defined]
        "sent": request.GET.get("sent") == "1", "command_id": uuid.uuid4(), "max_text": MAX_TEXT,
        "max_contact": MAX_CONTACT, "text": text if clean_text(text) and len(text) <= MAX_TEXT else "",
    }
    return render(request, "followup/comment_box.html", context, status=error.http_status if error else 200)


def _drop(request: HttpRequest, village_id: int) -> str:
    if over_limit(request, scope="suggestion", rate=SUGGESTION_RATE):
        raise Refusal("提交过于频繁，请一小时后再试", "too many suggestions from this address: try again in an hour",
                      code="throttled", http_status=429)
    key = page_kit.form_command_id(request)
    doors.check_drop_suggestion(
        actor=A_MEMBER_OF_PUBLIC, village_id=village_id, text=request.POST.get("text", ""),
        contact=request.POST.get("contact", ""), today=timezone.localdate(),
        command_id=keyed_command_id(who="public", key=key) if key else None,
    )
    return f"/yijianxiang/{village_id}/?sent=1"
