"""The county's pages of the rectification ledger (整改台账), in Chinese first.

- /ledger/: the summary sentence for the county, each township and village,
  every item with its measures, and the form that raises an item;
- /ledger/<item_id>/: one item: add a measure (owner, deadline), complete a
  measure with its evidence (text, photos or PDFs), the closure review;
- /ledger/<item_id>/files/<sha256>: an evidence file of that item;
- /ledger/export.xlsx: the ledger as an Excel workbook.

Plain form pages (no script), as /staff/: each form posts one operation,
the view calls its door and redirects back, or shows the refusal in Chinese
on the same page (4xx, what was typed kept). A hidden command id minted
when the page was drawn makes a double click one command.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.roles import Actor, may
from common.refusal import NotFound, Refusal
from followup import ledger_files, ledger_selectors, page_kit
from followup.actions import ledger as doors
from followup.ledger import BY_HAND_SOURCE_KINDS
from followup.ledger_files import MAX_BYTES, MAX_FILES, Upload
from followup.ledger_workbook import ledger_workbook

FORBIDDEN = {"status": 403, "code": "forbidden", "message_zh": "只有县委组织部和纪委审计可以查看整改台账。",
             "message_en": "Only the county organization department and auditors see the ledger."}


def _uploads(request: HttpRequest) -> list[Upload]:
    files = request.FILES.getlist("files")
    if len(files) > MAX_FILES:
        raise Refusal(f"一次最多上传{MAX_FILES}个文件", f"at most {MAX_FILES} files at once", code="too_many_files")
    # Read no more than the limit and one byte: the door then refuses what is larger.
    return [Upload(name=str(f.name or ""), data=f.read(MAX_BYTES + 1)) for f in files]


def _within_upload_limit(request: HttpRequest) -> None:
    """Refuse a body larger than every allowed file together before Django reads it onto the disk."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_FILES * MAX_BYTES + 256 * 1024:
        raise Refusal(f"上传内容过大：一次最多{MAX_FILES}个文件，每个不超过{MAX_BYTES // (1024 * 1024)}MB",
                      "the upload is too large", code="upload_too_large", http_status=413)


def _raise_item(request: HttpRequest) -> str:
    post = request.POST
    item_id = doors.check_raise_ledger_item(
        actor=Actor.of_user(request.user), meeting_id=post.get("meeting_id", ""),
        source_kind=post.get("source_kind", ""), source_ref=post.get("source_ref", ""),
        problem=post.get("problem", ""), note=post.get("note", ""), command_id=page_kit.form_command_id(request),
    )
    return f"/ledger/{item_id}/"


@never_cache
@page_kit.gated("page:ledger", FORBIDDEN)
def ledger_page(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    answer, error = page_kit.posted(request, lambda: _raise_item(request), write="raise_ledger_item")
    if answer is not None:
        return answer
    # Items closed in earlier years pile up: the desk lists what is still open unless asked.
    with_closed = request.GET.get("closed") == "1"
    context = {
        "summary": ledger_selectors.ledger_summary(),
        "items": ledger_selectors.ledger_items(closed=with_closed),
        "with_closed": with_closed,
        "closed_count": ledger_selectors.closed_count(),
        "meetings": ledger_selectors.meetings_to_choose(),
        "source_kinds": BY_HAND_SOURCE_KINDS,
        "may_write": may(user.role, "raise_ledger_item"),
        "error": error,
        # A refused form keeps what was typed; a link from an interview fills in where the problem came from.
        "posted": request.POST if error else request.GET,
        "command_id": uuid.uuid4(),
    }
    return render(request, "followup/ledger.html", context, status=error.http_status if error else 200)


def _item_do(request: HttpRequest, item_id: str) -> str:
    _within_upload_limit(request)  # before request.POST reads the body
    actor = Actor.of_user(request.user)
    post, today, command_id = request.POST, timezone.localdate(), page_kit.form_command_id(request)
    op = post.get("op", "")
    if op == "measure":
        doors.check_add_measure(actor=actor, item_id=item_id, text=post.get("text", ""), owner=post.get("owner", ""),
                                deadline=page_kit.form_date(post.get("deadline"), "deadline"), today=today, command_id=command_id)
    elif op == "complete":
        try:
            measure_no = int(post.get("measure_no", ""))
        except ValueError:
            raise NotFound("找不到这条措施", "no such measure", code="unknown_measure") from None
        doors.check_complete_measure(actor=actor, item_id=item_id, measure_no=measure_no,
                                     evidence=post.get("evidence", ""), uploads=_uploads(request), today=today,
                                     command_id=command_id)
    elif op == "review":
        doors.check_review_ledger_item(actor=actor, item_id=item_id, passed=post.get("passed") == "yes",
                                       note=post.get("note", ""), command_id=command_id)
    else:
        raise Refusal("未知的操作", "unknown operation", code="unknown_operation")
    return f"/ledger/{item_id}/"


@never_cache
@page_kit.gated("page:ledger", FORBIDDEN)
def ledger_item_page(request: HttpRequest, item_id: str) -> HttpResponse:
    user: Any = request.user
    answer, error = page_kit.posted(request, lambda: _item_do(request, item_id))
    if answer is not None:
        return answer
    item = ledger_selectors.ledger_item(item_id)
    if item is None:
        return render(request, "hall/error.html", {
            "status": 404, "code": "unknown_item", "message_zh": "找不到该整改事项。", "message_en": "No such ledger item.",
        }, status=404)
    # A body refused for its size is never parsed, not even to refill the form.
    posted: Any = request.POST if error and error.code != "upload_too_large" else {}
    context = {
        "item": item,
        "error": error,
        "failed_op": posted.get("op") if posted else None,
        "posted": posted,
        "may_write": may(user.role, "add_measure"),
        "max_mb": MAX_BYTES // (1024 * 1024),
        "today": timezone.localdate(),
        "command_id": uuid.uuid4(),
    }
    return render(request, "followup/ledger_item.html", context, status=error.http_status if error else 200)


@page_kit.gated("page:ledger", FORBIDDEN)
def ledger_file(request: HttpRequest, item_id: str, sha256: str) -> HttpResponse:
    """An evidence file, only as part of the item whose event names it."""
    item = ledger_selectors.ledger_item(item_id)
    named = [f for m in (item or {}).get("measures", []) for f in m["files"] if f["sha256"] == sha256]
    if not named:
        return render(request, "hall/error.html", {
            "status": 404, "code": "unknown_file", "message_zh": "找不到该文件。", "message_en": "No such file.",
        }, status=404)
    response = HttpResponse(ledger_files.read(sha256), content_type=named[0]["content_type"])
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@page_kit.gated("page:ledger", FORBIDDEN)
def ledger_export(request: HttpRequest) -> HttpResponse:
    tenant: Any = getattr(request, "tenant", None)
    body = ledger_workbook(
        county=str(getattr(tenant, "name", "")), summary=ledger_selectors.ledger_summary(),
        items=ledger_selectors.ledger_items(),
    )
    response = HttpResponse(body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = "attachment; filename=\"ledger.xlsx\""
    return response


def public_progress_page(request: HttpRequest) -> HttpResponse:
    """/zhenggai/: rectification progress per village, for anyone (no login, no internal notes)."""
    summary = ledger_selectors.ledger_summary()
    return render(request, "followup/ledger_public.html", {
        "county": summary["county"], "places": ledger_selectors.public_progress(),
    })
