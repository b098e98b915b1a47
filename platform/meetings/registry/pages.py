"""/registry/: the organization department's page of officials and bodies (干部与组织名录), in Chinese.

Server-rendered on purpose: a list and six small forms, no script needed.
A GET lists bodies and officials (by township, searchable by name); a POST
names one form (`form`), is checked by a Django form for its shape, and goes
through one door of meetings.actions.registry. A refusal is shown next to
the field it is about (RegistryRefusal.field), in Chinese with the English
line, and the page answers 400 with what was typed still in the form; a
success redirects (POST, redirect, GET) with a notice. Each form carries a
command id minted when the page was drawn, so a double click or a resent
form has the effect of one command.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.cache import never_cache

from accounts.roles import Actor, may
from common.api import keyed_command_id
from common.commands import CommandKey
from common.refusal import Refusal
from meetings.actions.registry import (
    FirstPost,
    check_assign_post,
    check_correct_official,
    check_end_post,
    check_register_body,
    check_register_official,
    check_rename_body,
)
from meetings.registry import selectors
from meetings.registry.domain import BODY_KINDS

LOGIN_URL = "/login/"
REQUIRED = {"required": "请填写此项", "invalid": "格式不正确", "invalid_choice": "请从列表中选择"}
DATE = {**REQUIRED, "invalid": "日期格式应为 年-月-日，例如 2026-01-15"}
GENDERS = [("", "—"), ("male", "男"), ("female", "女")]


class _Form(forms.Form):
    command_id = forms.UUIDField(widget=forms.HiddenInput)


class BodyForm(_Form):
    name = forms.CharField(max_length=80, error_messages=REQUIRED)
    kind = forms.ChoiceField(choices=[("", "—"), *BODY_KINDS.items()], error_messages=REQUIRED)
    township_id = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, error_messages=REQUIRED)
    village_id = forms.TypedChoiceField(coerce=int, required=False, empty_value=None, error_messages=REQUIRED)


class RenameForm(_Form):
    body_id = forms.ChoiceField(error_messages=REQUIRED)
    name = forms.CharField(max_length=80, error_messages=REQUIRED)


class OfficialForm(_Form):
    name = forms.CharField(max_length=50, error_messages=REQUIRED)
    gender = forms.ChoiceField(choices=GENDERS, required=False, error_messages=REQUIRED)
    body_id = forms.ChoiceField(required=False, error_messages=REQUIRED)
    post = forms.CharField(max_length=50, required=False, error_messages=REQUIRED)
    from_date = forms.DateField(required=False, error_messages=DATE, widget=forms.DateInput(attrs={"type": "date"}))


class PostForm(_Form):
    official_id = forms.ChoiceField(error_messages=REQUIRED)
    body_id = forms.ChoiceField(error_messages=REQUIRED)
    post = forms.CharField(max_length=50, error_messages=REQUIRED)
    from_date = forms.DateField(error_messages=DATE, widget=forms.DateInput(attrs={"type": "date"}))


class EndForm(_Form):
    official_id = forms.CharField(widget=forms.HiddenInput, max_length=64)
    post_no = forms.IntegerField(widget=forms.HiddenInput, min_value=1, max_value=10**6)
    to_date = forms.DateField(error_messages=DATE, widget=forms.DateInput(attrs={"type": "date"}))


class CorrectForm(_Form):
    official_id = forms.ChoiceField(error_messages=REQUIRED)
    name = forms.CharField(max_length=50, error_messages=REQUIRED)
    gender = forms.ChoiceField(choices=GENDERS, required=False, error_messages=REQUIRED)
    reason = forms.CharField(max_length=500, error_messages=REQUIRED)


FORMS: dict[str, type[_Form]] = {
    "body": BodyForm, "rename": RenameForm, "official": OfficialForm, "post": PostForm, "end": EndForm,
    "correct": CorrectForm,
}
DONE = {
    "body": "组织已登记", "rename": "组织已更名", "official": "干部已登记", "post": "任职已登记", "end": "已免去该职务",
    "correct": "干部信息已更正",
}


def _choices(context: dict[str, Any]) -> dict[str, list[tuple[Any, str]]]:
    townships = context["townships"]
    bodies = [(b["body_id"], f"{b['township']}{b['village'] or ''} · {b['name']}") for b in context["all_bodies"]]
    officials = [(o["official_id"], _official_label(o)) for o in context["all_officials"]]
    return {
        "township_id": [("", "—"), *[(t["township_id"], t["name"]) for t in townships]],
        "village_id": [("", "—"), *[(v["village_id"], f"{t['name']} · {v['name']}") for t in townships for v in t["villages"]]],
        "body_id": [("", "—"), *bodies],
        "official_id": [("", "—"), *officials],
    }


def _official_label(official: dict[str, Any]) -> str:
    posts = "、".join(p["post"] for p in official["current_posts"]) or "无在任职务"
    return f"{official['name']}（{posts}）"


def _bind(name: str, data: Any, choices: dict[str, list[tuple[Any, str]]]) -> _Form:
    form = FORMS[name](data, prefix=name) if data is not None else FORMS[name](prefix=name, initial={"command_id": uuid.uuid4()})
    for field_name, field in form.fields.items():
        if field_name in choices and isinstance(field, forms.ChoiceField):
            field.choices = choices[field_name]
    return form


def _command(name: str, actor: Actor, data: dict[str, Any]) -> CommandKey:
    """The form's command id, scoped to who sends it and bound to what was sent (as the API's keys are).

    A form sent twice as it was has the effect of one command; the same form
    sent again with other values (the back button) is refused, never taken
    for the first.
    """
    sent = json.dumps({"form": name, **data}, sort_keys=True, ensure_ascii=False, default=str)
    return CommandKey(
        keyed_command_id(who=f"{actor.role}:{actor.name}", key=str(data["command_id"])),
        hashlib.sha256(sent.encode("utf-8")).hexdigest(),
    )


def _run(name: str, actor: Actor, data: dict[str, Any]) -> None:
    """Call the one door the form `name` stands for."""
    key = _command(name, actor, data)
    doors: dict[str, Callable[[], object]] = {
        "body": lambda: check_register_body(
            actor=actor, name=data["name"], kind=data["kind"], township_id=data["township_id"],
            village_id=data["village_id"], command_id=key),
        "rename": lambda: check_rename_body(actor=actor, body_id=data["body_id"], name=data["name"], command_id=key),
        "official": lambda: check_register_official(
            actor=actor, name=data["name"], gender=data["gender"] or None, command_id=key,
            first_post=FirstPost(data["body_id"], data["post"], data["from_date"]) if data["body_id"] else None),
        "post": lambda: check_assign_post(
            actor=actor, official_id=data["official_id"], body_id=data["body_id"], post=data["post"],
            from_date=data["from_date"], command_id=key),
        "end": lambda: check_end_post(
            actor=actor, official_id=data["official_id"], post_no=data["post_no"], to_date=data["to_date"], command_id=key),
        "correct": lambda: check_correct_official(
            actor=actor, official_id=data["official_id"], name=data["name"], gender=data["gender"] or None,
            reason=data["reason"], command_id=key),
    }
    if name == "official" and bool(data["body_id"]) != bool(data["post"] and data["from_date"]):
        raise Refusal("登记时同时任职，须填写组织、职务和任职日期", "body, post and start date go together",
                      code="post_incomplete", details={"field": "post" if data["body_id"] else "body_id"})
    doors[name]()


@never_cache
def registry_page(request: HttpRequest) -> HttpResponse:
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path(), LOGIN_URL)
    if not user.is_active or not may(user.role, "page:registry"):  # type: ignore[union-attr]
        refusal = {"status": 403, "code": "forbidden", "message_zh": "只有县委组织部可以维护干部与组织名录。",
                   "message_en": "Only the county organization department keeps the registry."}
        return render(request, "hall/error.html", refusal, status=403)
    township = request.GET.get("township", "")
    try:
        township_id, q = selectors.search_terms(township=township, q=request.GET.get("q", ""))
    except Refusal:
        township_id, q = None, ""  # a name no one can have: list everyone
    context: dict[str, Any] = {
        "townships": selectors.townships(), "all_bodies": selectors.bodies_list(),
        "all_officials": selectors.officials_list(), "township_id": township_id, "q": q,
        "done": DONE.get(request.GET.get("done", "")), "errors": {}, "failed": None,
    }
    choices = _choices(context)
    bound: dict[str, _Form] = {}
    status = 200
    posted = request.POST.get("form") if request.method == "POST" else None
    if posted in FORMS:
        form = bound[posted] = _bind(posted, request.POST, choices)
        if form.is_valid():
            try:
                _run(posted, Actor.of_user(user), form.cleaned_data)
            except Refusal as refused:
                field = (refused.details or {}).get("field") if isinstance(refused.details, dict) else None
                form.add_error(field if field in form.fields else None, refused.message_zh)
                context["failed_en"] = refused.message_en
            else:
                query = {k: v for k, v in (("township", township), ("q", q), ("done", posted)) if v}
                return HttpResponseRedirect(f"/registry/?{urlencode(query)}")
        context["failed"] = posted
        status = 400
    all_bodies: list[dict[str, Any]] = context["all_bodies"]
    in_township = [b for b in all_bodies if township_id is None or b["township_id"] == township_id]
    context["bodies"] = [b for b in in_township if not q.strip() or q.strip() in b["name"]]
    officials = context["officials"] = selectors.officials_list(township_id=township_id, q=q)
    # A county has thousands of officials: the filter narrows the empty forms' pickers too.
    # The one search box holds a person's or a body's name: each picker keeps the names
    # that match, or, when none of its kind does, everything in the township (a search
    # for a branch still offers the people to post in it). A form sent back with an
    # error keeps every choice, so what was picked stays picked.
    pickers = choices if township_id is None and not q else _choices({
        **context, "all_bodies": context["bodies"] or in_township,
        "all_officials": officials or selectors.officials_list(township_id=township_id),
    })
    context["forms"] = {name: bound.get(name) or _bind(name, None, pickers) for name in FORMS}
    history = selectors.subjects_of_officials([o["official_id"] for o in officials])
    for official in officials:
        official["history"] = history[official["official_id"]]
        for held in official["current_posts"]:
            held["end_command"] = uuid.uuid4()  # one command id per form: a key names one command
    return render(request, "registry/index.html", context, status=status)
