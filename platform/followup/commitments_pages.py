"""Pages of two-way commitments (双向承诺 / 双向公开), in Chinese first.

- /commitments/: every commitment by year, township and village, and the
  form that records a signed one (direction, official, village, a task for
  every month, a goal for every quarter);
- /commitments/<id>/: one commitment with every version, its progress and
  quarterly scores; forms to amend it (a new version), report progress,
  score a quarter;
- /gongkai/ and /gongkai/<village_id>/: public, no login: a village's
  commitments both ways (the township members' to the village and the
  village secretary's to the township) with their progress and scores;
  /gongkai/official/<official_id>/: one official's commitments.

Plain form pages as /ledger/: each form posts one operation to its door and
redirects back, or shows the refusal in Chinese with what was typed kept.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.roles import Actor, may
from common.refusal import Refusal
from followup import commitments_selectors, ledger_selectors, page_kit
from followup.actions import commitments as doors
from followup.commitments import DIRECTIONS
from meetings.models import Village

FORBIDDEN = {"status": 403, "code": "forbidden", "message_zh": "只有县委组织部和会议主持人可以查看承诺台账。",
             "message_en": "Only the county organization department and hosts see the commitments desk."}
MONTHS = list(range(1, 13))
QUARTERS = list(range(1, 5))


def _int(value: str | None, *, field: str, zh: str) -> int:
    try:
        return int(str(value or "").strip())
    except ValueError:
        raise Refusal(f"请填写{zh}（整数）", f"{field} must be a whole number", code="bad_number",
                      details={"field": field}) from None


def _plan(request: HttpRequest) -> tuple[dict[int, str], dict[int, str]]:
    post = request.POST
    return ({m: post.get(f"task_{m}", "") for m in MONTHS}, {q: post.get(f"goal_{q}", "") for q in QUARTERS})


def _sign(request: HttpRequest) -> str:
    post = request.POST
    tasks, goals = _plan(request)
    commitment_id = doors.check_sign_commitment(
        actor=Actor.of_user(request.user), direction=post.get("direction", ""), official_id=post.get("official_id", ""),
        village_id=_int(post.get("village_id"), field="village_id", zh="村（社区）"),
        year=_int(post.get("year"), field="year", zh="年度"), tasks=tasks, goals=goals,
        signed_on=page_kit.required_date(post.get("signed_on"), "signed_on"), command_id=page_kit.form_command_id(request),
    )
    return f"/commitments/{commitment_id}/"


def _shown_year(asked: int | None, years: list[int]) -> int | None:
    """The year whose commitments are listed: the one asked for if it has any, else the newest."""
    return asked if asked in years else (years[0] if years else None)


@never_cache
@page_kit.gated("page:commitments", FORBIDDEN)
def commitments_page(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    answer, error = page_kit.posted(request, lambda: _sign(request), write="sign_commitment")
    if answer is not None:
        return answer
    today = timezone.localdate()
    posted: Any = request.POST if error else {"year": str(today.year), "signed_on": today.isoformat()}
    township_id, picking = page_kit.pickers(request)
    years = commitments_selectors.commitment_years()
    shown_year = _shown_year(page_kit.query_number(request, "year", digits=4), years)
    context = {
        **picking,
        # A county signs hundreds a year: the list shows one year (the newest by default).
        "commitments": commitments_selectors.commitments_list(year=shown_year),
        "year_links": [(y, page_kit.with_narrowing("/commitments/", request, year=y)) for y in years],
        "shown_year": shown_year,
        "directions": DIRECTIONS,
        "village_townships": [t for t in picking["townships"] if township_id is None or t["township_id"] == township_id],
        "task_fields": [(m, posted.get(f"task_{m}", "")) for m in MONTHS],
        "goal_fields": [(q, posted.get(f"goal_{q}", "")) for q in QUARTERS],
        "may_sign": may(user.role, "sign_commitment"),
        "error": error,
        "posted": posted,
        "command_id": uuid.uuid4(),
    }
    return render(request, "followup/commitments.html", context, status=error.http_status if error else 200)


def _commitment_do(request: HttpRequest, commitment_id: str) -> str:
    actor = Actor.of_user(request.user)
    post, today, command_id = request.POST, timezone.localdate(), page_kit.form_command_id(request)
    op = post.get("op", "")
    if op == "amend":
        tasks, goals = _plan(request)
        doors.check_amend_commitment(actor=actor, commitment_id=commitment_id, tasks=tasks, goals=goals,
                                     reason=post.get("reason", ""), today=today, command_id=command_id)
    elif op == "report":
        doors.check_report_commitment_progress(
            actor=actor, commitment_id=commitment_id, month=_int(post.get("month"), field="month", zh="月份"),
            text=post.get("text", ""), evidence=post.get("evidence", ""), today=today, command_id=command_id)
    elif op == "score":
        doors.check_score_commitment(
            actor=actor, commitment_id=commitment_id, quarter=_int(post.get("quarter"), field="quarter", zh="季度"),
            score=_int(post.get("score"), field="score", zh="兑现评分"), note=post.get("note", ""),
            command_id=command_id)
    else:
        raise Refusal("未知的操作", "unknown operation", code="unknown_operation")
    return f"/commitments/{commitment_id}/"


@never_cache
@page_kit.gated("page:commitments", FORBIDDEN)
def commitment_page(request: HttpRequest, commitment_id: str) -> HttpResponse:
    user: Any = request.user
    answer, error = page_kit.posted(request, lambda: _commitment_do(request, commitment_id))
    if answer is not None:
        return answer
    commitment = commitments_selectors.commitment_get(commitment_id)
    if commitment is None:
        return render(request, "hall/error.html", {
            "status": 404, "code": "unknown_commitment", "message_zh": "找不到该承诺。", "message_en": "No such commitment.",
        }, status=404)
    current = commitment["current"] or {"tasks": [], "goals": []}
    posted: Any = request.POST if error else {}
    amending = error is not None and posted.get("op") == "amend"
    context = {
        "c": commitment,
        "error": error,
        "failed_op": request.POST.get("op") if error else None,
        "posted": posted,
        "task_fields": [(t["month"], posted.get(f"task_{t['month']}", "") if amending else t["text"])
                        for t in current["tasks"]],
        "goal_fields": [(g["quarter"], posted.get(f"goal_{g['quarter']}", "") if amending else g["text"])
                        for g in current["goals"]],
        "months": MONTHS,
        "quarters": QUARTERS,
        "may_amend": may(user.role, "amend_commitment"),
        "may_report": may(user.role, "report_commitment_progress"),
        "may_score": may(user.role, "score_commitment"),
        "command_id": uuid.uuid4(),
    }
    return render(request, "followup/commitment.html", context, status=error.http_status if error else 200)


# -- 双向公开: public, no login ------------------------------------------------------------------------


def public_index(request: HttpRequest) -> HttpResponse:
    """/gongkai/: the villages and officials with public commitments."""
    commitments = commitments_selectors.commitments_list()
    villages: dict[int, dict[str, Any]] = {}
    officials: dict[str, dict[str, Any]] = {}
    for c in commitments:
        villages.setdefault(c["village_id"], {"village_id": c["village_id"], "place": f"{c['township']}{c['village']}"})
        if c["direction"] == "township_to_village":
            officials.setdefault(c["official_id"], {"official_id": c["official_id"], "name": c["official_name"],
                                                    "post": c["post"], "township": c["township"]})
    return render(request, "followup/commitment_public_index.html", {
        "villages": sorted(villages.values(), key=lambda v: v["place"]),
        "officials": sorted(officials.values(), key=lambda o: (o["township"], o["name"])),
    })


def public_village(request: HttpRequest, village_id: int) -> HttpResponse:
    """/gongkai/<village_id>/: the village's commitments both ways, with progress and quarterly scores."""
    village = Village.objects.select_related("township").filter(pk=village_id).first()
    if village is None:
        raise Http404("no such village")
    commitments = commitments_selectors.commitments_list(village_id=village_id)
    rectification = next((p for p in ledger_selectors.public_progress()
                          if p["township"] == village.township.name and p["village"] == village.name), None)
    return render(request, "followup/commitment_public.html", {
        "heading": f"{village.township.name}{village.name}", "commitments": commitments, "p": rectification,
        "upward": [c for c in commitments if c["direction"] == "village_to_township"],
        "downward": [c for c in commitments if c["direction"] == "township_to_village"],
    })


def public_official(request: HttpRequest, official_id: str) -> HttpResponse:
    """/gongkai/official/<official_id>/: one official's commitments, with progress and quarterly scores."""
    commitments = commitments_selectors.commitments_list(official_id=official_id)
    if not commitments:
        raise Http404("no public commitment of this official")
    first = commitments[0]
    return render(request, "followup/commitment_public.html", {
        "heading": f"{first['township']} {first['official_name']}（{first['post']}）", "commitments": commitments,
        "upward": [c for c in commitments if c["direction"] == "village_to_township"],
        "downward": [c for c in commitments if c["direction"] == "township_to_village"],
    })
