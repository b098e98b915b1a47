"""/rounds/new/ (open a round from a preset, its rules adjusted in a form) and /rounds/<id>/ (a round's page).

Server-rendered, as the registry page is: GET /rounds/new/ lists the four
presets; ?preset=<variant> draws the form filled with that preset's rules.
A POST is checked for its shape by the Django forms, then every rules problem
the domain finds (Rules.problems) is shown next to its field at once; only
rules without problems go through the one door, check_open_round, whose own
refusals are shown the same way. A refused form answers 400 with what was
typed still in it and appends nothing; an opened round redirects to its page.
The form's command id is minted when the page is drawn and bound to the
sender and to what was sent (as the registry's forms are), so a double click
opens one round.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.cache import never_cache

from accounts.roles import Actor
from common.api import keyed_command_id
from common.commands import CommandKey
from common.refusal import Refusal
from live.pages import hall_error, page_for
from live.round_form import (
    CRITERIA,
    IN_FORM_UNITS,
    KIND_NAMES,
    LEVEL_NAMES,
    PRESET_INFO,
    REVEAL_NAMES,
    RoundForm,
    criteria_rows,
    field_of,
    minutes_of,
    percent_of,
)
from meetings import desks
from meetings.actions.rounds import check_open_round
from meetings.domain.rules import PRESETS, SUBJECT_KINDS, Rules, category_name_zh


def _presets() -> list[dict[str, Any]]:
    return [
        {"variant": variant, "name_zh": zh, "name_en": en, "what_zh": what, "rules": describe(PRESETS[variant].to_data())}
        for variant, (zh, en, what) in PRESET_INFO.items()
    ]


def _command(actor: Actor, data: Any) -> CommandKey:
    """The form's command id for this sender, bound to every value sent (a resent other form is refused)."""
    sent = json.dumps({k: data.getlist(k) for k in sorted(data) if k != "csrfmiddlewaretoken"}, ensure_ascii=False)
    return CommandKey(
        keyed_command_id(who=f"{actor.role}:{actor.name}", key=str(data.get("command_id", ""))),
        hashlib.sha256(sent.encode("utf-8", "surrogatepass")).hexdigest(),
    )


def _show(refusal: Refusal, form: RoundForm, errors: dict[str, list[Any]]) -> None:
    """Put a refusal next to its field (or above the form when it names none)."""
    details = refusal.details if isinstance(refusal.details, dict) else {}
    target = field_of(str(details.get("field", "")))
    # Chinese first, the English line after it (shown in English mode); format_html escapes both,
    # since a message may repeat what was typed (a criterion id).
    in_units = IN_FORM_UNITS.get(refusal.code)
    message = format_html('{} <span class="en">{}</span>', in_units[0], in_units[1]) if in_units and target != CRITERIA \
        else format_html('{} <span class="en">{}</span>', refusal.message_zh, refusal.message_en)
    if target == CRITERIA:
        errors["criteria"].append(message)
    elif target is not None and target in form.fields:
        form.add_error(target, message)
    else:
        errors["form"].append(message)


@never_cache
@page_for("round_new")
def round_new(request: HttpRequest) -> HttpResponse:
    variant = request.POST.get("preset") if request.method == "POST" else request.GET.get("preset")
    if not variant:
        return render(request, "rounds/presets.html", {"county": request.tenant, "presets": _presets()})  # type: ignore[attr-defined]
    base = PRESETS.get(variant)
    if base is None:
        return hall_error(request, status=404, code="unknown_variant", zh="没有这个预设。", en="No such preset.")
    errors: dict[str, list[Any]] = {"form": [], "criteria": []}
    if request.method == "POST":
        form = RoundForm(request.POST, base=base)
        rows = criteria_rows(request.POST, base)
        if form.is_valid() and rows.is_valid():
            rules = form.rules(rows)
            for problem in rules.problems():
                _show(problem, form, errors)
            if form.is_valid() and not any(errors.values()):
                actor = Actor.of_user(request.user)
                try:
                    round_id = check_open_round(
                        actor=actor, name=form.cleaned_data["name"], year=form.cleaned_data["year"],
                        variant=variant, rules=rules.to_data(), command_id=_command(actor, request.POST),
                    )
                except Refusal as refused:
                    _show(refused, form, errors)
                else:
                    return HttpResponseRedirect(f"/rounds/{round_id}/?opened=1")
        status = 400
    else:
        year = timezone.localdate().year
        initial = RoundForm.initial_of(base, name=f"{year}年度{PRESET_INFO[variant][0]}述职评议", year=year)
        form = RoundForm(base=base, initial={**initial, "command_id": uuid.uuid4()})
        rows = criteria_rows(None, base)
        status = 200
    context = {
        "county": request.tenant, "variant": variant, "preset": PRESET_INFO[variant], "form": form,  # type: ignore[attr-defined]
        "rows": rows, "groups": form.rows(), "errors": errors, "failed": status == 400,
        "graders": describe(base.to_data())["graders"],
    }
    return render(request, "rounds/new.html", context, status=status)


@never_cache
@page_for("round")
def round_page(request: HttpRequest, round_id: str) -> HttpResponse:
    found = desks.round_page(round_id)
    if found is None:
        return hall_error(request, status=404, code="unknown_round", zh="没有这个述评活动。", en="No such round.")
    info = PRESET_INFO.get(found["variant"], (found["variant"], found["variant"], ""))
    return render(request, "rounds/detail.html", {
        "county": request.tenant, "round": found, "preset": info, "rules": describe(found["rules"]),  # type: ignore[attr-defined]
        "opened": request.GET.get("opened") == "1",
    })


def describe(data: dict[str, Any]) -> dict[str, Any]:
    """Rules (their JSON form) in words a county reads: percentages, minutes, Chinese names."""
    rules = Rules.parse(data)
    quorum = []
    for q in rules.quorum:
        parts = []
        if q.min_share:
            parts.append(f"不少于应到人数的 {percent_of(q.min_share)}%")
        if q.min_count:
            parts.append(f"不少于 {q.min_count} 人")
        quorum.append({"category": category_name_zh(q.category), "text": "，且".join(parts) or "不限"})
    return {
        # Per kind of subject; `one_scale` when every kind shares it (all presets but 双述双评).
        "scales": [{"kind": kind, "kind_zh": KIND_NAMES[kind][0], "kind_en": KIND_NAMES[kind][1], "scale": rules.scale_for(kind)}
                   for kind in SUBJECT_KINDS],
        "one_scale": len(rules.distinct_scales()) == 1,
        "criteria": rules.criteria,
        "categories": [{"name_zh": category_name_zh(c), "weight": rules.weight(c)} for c in rules.voter_categories],
        "graders": [
            {"level": LEVEL_NAMES.get(level, (level, level))[0], "by": "、".join(category_name_zh(c) for c in cats)}
            for level, cats in rules.graders.items()
        ],
        "quorum": quorum,
        "time_limits": [
            {"level": LEVEL_NAMES.get(level, (level, level))[0], "minutes": minutes_of(seconds)}
            for level, seconds in rules.time_limits.items()
        ],
        "lead_days": rules.announce_lead_days,
        "reveal": REVEAL_NAMES.get(rules.reveal, rules.reveal),
        "min_group_size": rules.min_group_size,
        "threshold": percent_of(rules.admonish_threshold),
    }
