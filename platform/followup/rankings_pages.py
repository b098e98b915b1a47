"""Pages of quarterly scores and rankings (打分排队) and the 软弱涣散 listings, in Chinese first.

- /rankings/: the county's scoring criteria (and the form that sets them),
  the form that records a township's scores of a quarter, the quarter's
  rankings per township and for the county with the tie rule stated, and
  every 软弱涣散 listing with the rankings that caused it and the rule;
- /rankings/village/<village_id>/: one village's rankings quarter by quarter.

Recording a quarter runs the 软弱涣散 sweeper at once, so the page shows the
consequence of the ranking it just recorded; the job queue's periodic sweep
is the backstop (the sweeper's command ids make the two record once).
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
from followup import page_kit, rankings_selectors
from followup.actions import rankings as doors
from followup.rankings import BOTTOM_RULE, TIE_RULE, WEAK_RULE, quarter_parts
from followup.rankings_sweeps import list_weak_organizations
from meetings.models import Township, Village

FORBIDDEN = {"status": 403, "code": "forbidden", "message_zh": "只有县委组织部和纪委审计可以查看打分排队。",
             "message_en": "Only the county organization department and auditors see the rankings."}


def _number(value: str, *, field: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise Refusal("分数须为整数", "a score is a whole number", code="bad_number", details={"field": field}) from None


def _criteria_lines(text: str) -> list[tuple[str, int]]:
    """One criterion a line: its name, then its full marks (e.g. "组织建设 40")."""
    found = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, _, points = line.strip().rpartition(" ")
        found.append((name, _number(points, field="criteria") if name else 0))
    return found


def _quarter_default() -> str:
    today = timezone.localdate()
    return f"{today.year}Q{(today.month - 1) // 3 + 1}"


def _do(request: HttpRequest) -> str:
    """Run the posted operation; where to go next."""
    actor = Actor.of_user(request.user)
    post = request.POST
    if post.get("op") == "criteria":
        doors.check_set_scoring_criteria(actor=actor, criteria=_criteria_lines(post.get("criteria", "")),
                                         reason=post.get("reason", ""), command_id=page_kit.form_command_id(request))
        return "/rankings/"
    if post.get("op") == "scores":
        township_id, quarter = _number(post.get("township_id", ""), field="township_id"), post.get("quarter", "")
        criteria = rankings_selectors.criteria_current()
        count = len(criteria["criteria"]) if criteria else 0
        points = {
            village.pk: [_number(post.get(f"p_{village.pk}_{i}", ""), field=f"v{village.pk}") for i in range(count)]
            for village in Village.objects.filter(township_id=township_id)
        }
        doors.check_record_quarter_scores(actor=actor, township_id=township_id, quarter=quarter, points=points,
                                          command_id=page_kit.form_command_id(request))
        list_weak_organizations(timezone.now())
        return f"/rankings/?quarter={quarter}"
    raise Refusal("未知的操作", "unknown operation", code="unknown_operation")


@never_cache
@page_kit.gated("page:rankings", FORBIDDEN)
def rankings_page(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    answer, error = page_kit.posted(request, lambda: _do(request), write="record_quarter_scores")
    if answer is not None:
        return answer
    posted: Any = request.POST if error else {}
    quarters = rankings_selectors.quarters()
    shown = request.GET.get("quarter") or (quarters[0] if quarters else "")
    try:
        quarter_parts(shown)
    except Refusal:
        shown = quarters[0] if quarters else ""
    criteria = rankings_selectors.criteria_current()
    scoring_township = posted.get("township_id") or request.GET.get("township") or ""
    township = Township.objects.filter(pk=int(scoring_township)).first() if scoring_township.isdigit() else None
    count = len(criteria["criteria"]) if criteria else 0
    scoring = [
        {"village_id": v.pk, "name": v.name,
         "cells": [(f"p_{v.pk}_{i}", posted.get(f"p_{v.pk}_{i}", "")) for i in range(count)]}
        for v in (township.villages.order_by("name", "pk") if township else [])
    ]
    context = {
        "criteria": criteria,
        "criteria_versions": rankings_selectors.criteria_versions(),
        "criteria_text": posted.get("criteria") if posted.get("op") == "criteria" else "\n".join(
            f"{c['name']} {c['max_points']}" for c in (criteria["criteria"] if criteria else [])),
        "townships": Township.objects.order_by("name"),
        "scoring_township": township,
        "scoring_quarter": posted.get("quarter") or request.GET.get("score_quarter") or _quarter_default(),
        "scoring": scoring,
        "quarters": quarters,
        "ranking": rankings_selectors.quarter_rankings(shown) if shown else None,
        "listings": rankings_selectors.weak_listings(),
        "tie_rule": TIE_RULE, "bottom_rule": BOTTOM_RULE, "weak_rule": WEAK_RULE,
        "may_write": may(user.role, "record_quarter_scores"),
        "error": error,
        "failed_op": posted.get("op"),
        "posted": posted,
        "command_id": uuid.uuid4(),
    }
    return render(request, "followup/rankings.html", context, status=error.http_status if error else 200)


@never_cache
@page_kit.gated("page:rankings", FORBIDDEN)
def village_rankings_page(request: HttpRequest, village_id: int) -> HttpResponse:
    village = Village.objects.select_related("township").filter(pk=village_id).first()
    if village is None:
        return render(request, "hall/error.html", {
            "status": 404, "code": "unknown_village", "message_zh": "找不到该村。", "message_en": "No such village.",
        }, status=404)
    return render(request, "followup/ranking_village.html", {
        "place": f"{village.township.name}{village.name}", "village_id": village_id,
        "history": rankings_selectors.village_history(village_id),
        "listings": rankings_selectors.weak_listings(village_id=village_id),
        "tie_rule": TIE_RULE, "bottom_rule": BOTTOM_RULE, "weak_rule": WEAK_RULE,
    })
