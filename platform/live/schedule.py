"""/rounds/<round_id>/schedule/: schedule a township's village meetings in one form (批量安排会议).

Server-rendered, as the registry page is: the organization department picks
a township and gets one row per village (date, time, place, host, subjects
pre-filled from the registry, roster from the village's directory or
"later"). Each row is its own command through the one door
(meetings.actions.setup.check_schedule_meeting) with its own command id,
minted when the page was drawn and bound to what the row sent: a resent
form schedules nothing twice, and a row that went through stays done when
another row is refused. A refusal is shown next to the row's field, in
Chinese with the English line.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import datetime
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache

from accounts.roles import Actor
from common.api import keyed_command_id
from common.commands import CommandKey
from common.refusal import Refusal
from live.pages import hall_error, page_for
from meetings.actions.reference import check_import_roster
from meetings.actions.setup import check_schedule_meeting, host_accounts
from meetings.domain.errors import UnknownRound
from meetings.registry import selectors as registry
from meetings.streams import load_round

REQUIRED = {"required": "请填写此项", "invalid": "格式不正确", "invalid_choice": "请从列表中选择"}
# A meeting's roster is a snapshot taken when it is scheduled (no door changes it later), so
# "roster later" is not offered: the roster comes from the village's directory, or from a file
# imported into that directory through its own door (check_import_roster) just before.
ROSTER_CHOICES = [("village", "本村花名册（名录中已有）"), ("upload", "上传花名册文件")]
# Which field a refusal of the door is about (its code); others are shown on the row.
FIELD_OF_CODE = {
    "unknown_host": "host", "empty_roster": "roster", "subject_reference_invalid": "subjects",
    "official_post_ended": "subjects", "invalid_command": "subjects",
}


class RowForm(forms.Form):
    """One village's meeting: prefix v<village_id>."""

    include = forms.BooleanField(required=False)
    command_id = forms.UUIDField(widget=forms.HiddenInput)
    date = forms.DateField(error_messages={**REQUIRED, "invalid": "日期格式应为 年-月-日"},
                           widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    time = forms.TimeField(error_messages={**REQUIRED, "invalid": "时间格式应为 时:分"},
                           widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"))
    place = forms.CharField(max_length=100, error_messages=REQUIRED)
    host = forms.ChoiceField(required=False, error_messages=REQUIRED)
    subjects = forms.MultipleChoiceField(required=True, widget=forms.CheckboxSelectMultiple,
                                         error_messages={**REQUIRED, "required": "至少选择一个述评对象"})
    roster = forms.ChoiceField(choices=ROSTER_CHOICES, error_messages=REQUIRED)
    roster_file = forms.FileField(required=False, widget=forms.FileInput(attrs={"accept": ".xlsx,.csv"}))


def _village_rows(township: dict[str, Any]) -> list[dict[str, Any]]:
    """Each village of the township with the subjects the registry offers for it (its bodies, their officials)."""
    bodies = registry.bodies_list(township_id=township["township_id"])
    officials = {o["official_id"]: o for o in registry.officials_list(township_id=township["township_id"])}
    rows = []
    for village in township["villages"]:
        choices: list[tuple[str, str]] = [
            (f"body:{b['body_id']}", b["name"]) for b in bodies if b["village_id"] == village["village_id"]
        ]
        for official_id in registry.village_officials(village["village_id"]):
            official = officials.get(official_id)
            if official is not None:
                posts = "、".join(p["post"] for p in official["current_posts"]
                                 if p["village"] == village["name"]) or "—"
                choices.append((f"official:{official_id}", f"{official['name']}（{posts}）"))
        rows.append({**village, "subject_choices": choices})
    return rows


def _form(row: dict[str, Any], hosts: list[tuple[str, str]], data: Any = None, files: Any = None) -> RowForm:
    prefix = f"v{row['village_id']}"
    if data is None:
        form = RowForm(prefix=prefix, initial={
            "include": True, "command_id": uuid.uuid4(), "subjects": [c for c, _ in row["subject_choices"]],
            "roster": "village", "place": f"{row['name']}村委会会议室" if not row["name"].endswith("社区") else f"{row['name']}会议室",
        })
    else:
        form = RowForm(data, files, prefix=prefix)
    subjects, host = form.fields["subjects"], form.fields["host"]
    assert isinstance(subjects, forms.ChoiceField) and isinstance(host, forms.ChoiceField)
    subjects.choices = row["subject_choices"]
    host.choices = [("", "稍后指定 / later"), *hosts]
    return form


def _command(actor: Actor, data: dict[str, Any]) -> CommandKey:
    """The row's command id, scoped to the sender and bound to what the row sent (as the registry page's)."""
    sent = json.dumps({"form": "schedule", **data}, sort_keys=True, ensure_ascii=False, default=str)
    return CommandKey(
        keyed_command_id(who=f"{actor.role}:{actor.name}", key=str(data["command_id"])),
        hashlib.sha256(sent.encode("utf-8")).hexdigest(),
    )


def _schedule_row(*, actor: Actor, round_id: str, round_name: str, township: str,
                  row: dict[str, Any], data: dict[str, Any]) -> str:
    """Schedule one village's meeting through the one door; the meeting id."""
    subjects = []
    for choice in data["subjects"]:
        kind, _, ref = choice.partition(":")
        subjects.append({"body_id": ref} if kind == "body" else {"official_id": ref})
    if data["roster"] == "upload":
        _import_roster(actor=actor, village_id=row["village_id"], upload=data["roster_file"])
    starts_at = timezone.make_aware(datetime.combine(data["date"], data["time"]))
    scheduled = check_schedule_meeting(
        actor=actor, round_id=round_id, title=f"{row['name']}{round_name}述评大会", township=township,
        village=row["name"], starts_at=starts_at, place=data["place"], subjects=subjects,
        village_id=row["village_id"],  # the directory's roster, just imported when a file was sent
        host=data["host"] or None, command_id=_command(actor, data),
    )
    return scheduled.meeting_id


def _import_roster(*, actor: Actor, village_id: int, upload: Any) -> None:
    """Import the row's roster file into the village's directory (all rows or none; a resent file updates)."""
    if upload is None:
        raise Refusal("请选择花名册文件（.xlsx 或 .csv）", "choose a roster file (.xlsx or .csv)",
                      code="roster_file_missing", details={"field": "roster_file"})
    report = check_import_roster(actor=actor, file=upload, filename=upload.name, village_id=village_id, dry_run=False)
    if report.errors:
        first = report.errors[0]
        where = f"第{first.row}行：" if first.row else ""
        raise Refusal(f"花名册未导入：{where}{first.message}（共{len(report.errors)}处错误）",
                      f"the roster was not imported: {len(report.errors)} errors", code="roster_invalid",
                      details={"field": "roster_file"})


@never_cache
@page_for("schedule")
def schedule_page(request: HttpRequest, round_id: str) -> HttpResponse:
    try:
        round_name = load_round(round_id).state.name
    except UnknownRound:
        return hall_error(request, status=404, code="unknown_round", zh="没有这个述评活动。", en="No such round.")
    townships = registry.townships()
    chosen = request.POST.get("township") if request.method == "POST" else request.GET.get("township")
    township = next((t for t in townships if str(t["township_id"]) == chosen), None)
    context: dict[str, Any] = {
        "county": request.tenant, "round_id": round_id, "round_name": round_name,  # type: ignore[attr-defined]
        "townships": townships, "township": township, "rows": [],
    }
    if township is None:
        return render(request, "hall/schedule.html", context)
    hosts = [(u.username, f"{u.display_name or u.username}（{u.username}）") for u in host_accounts()]
    actor = Actor.of_user(request.user)
    status = 200
    for row in _village_rows(township):
        if request.method != "POST":
            context["rows"].append({**row, "form": _form(row, hosts)})
            continue
        form = _form(row, hosts, request.POST, request.FILES)
        entry: dict[str, Any] = {**row, "form": form}
        if not request.POST.get(f"v{row['village_id']}-include"):
            entry["skipped"] = True
        elif form.is_valid():
            try:
                entry["meeting_id"] = _schedule_row(actor=actor, round_id=round_id, round_name=round_name,
                                                    township=township["name"], row=row, data=form.cleaned_data)
            except Refusal as refused:
                field = FIELD_OF_CODE.get(refused.code)
                details = refused.details if isinstance(refused.details, dict) else {}
                field = details.get("field", field)
                form.add_error(field if field in form.fields else None, refused.message_zh)
                entry["failed_en"] = refused.message_en
        if form.is_bound and form.errors and not entry.get("skipped"):
            entry["failed"] = True
            status = 400
        context["rows"].append(entry)
    if request.method == "POST":
        context["done_count"] = sum(1 for r in context["rows"] if r.get("meeting_id"))
        context["failed_count"] = sum(1 for r in context["rows"] if r.get("failed"))
    return render(request, "hall/schedule.html", context, status=status)
