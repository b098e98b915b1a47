"""/staff/: the county administrators' page of accounts and role grants, where a second person confirms.

A plain form page (no script): each button posts one operation, the view
calls its door in staff.actions and redirects back (or shows the refusal in
Chinese on the same page). The hidden command id makes a double click one
command.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from accounts.roles import Actor, Role, may
from common.refusal import Refusal
from staff import selectors
from staff.actions import grants as actions
from staff.domain import GRANTABLE, PRIVILEGED

ROLE_LABELS = {role.value: role.label for role in Role}


def _do(request: HttpRequest, actor: Actor) -> None:
    post = request.POST
    op = post.get("op", "")
    command_id = post.get("command_id") or None
    try:
        uuid.UUID(str(command_id))
    except ValueError:
        command_id = None
    if op == "grant":
        actions.check_grant_role(actor=actor, username=post.get("username", ""), role=post.get("role", ""),
                                 command_id=command_id)
    elif op == "confirm":
        actions.check_confirm_role_grant(actor=actor, grant_id=post.get("grant_id", ""), command_id=command_id)
    elif op == "decline":
        actions.check_decline_role_grant(actor=actor, grant_id=post.get("grant_id", ""), command_id=command_id)
    elif op == "revoke":
        actions.check_revoke_role(actor=actor, username=post.get("username", ""), command_id=command_id)
    elif op == "deactivate":
        actions.check_deactivate_account(actor=actor, username=post.get("username", ""), command_id=command_id)
    else:
        raise Refusal("未知的操作", "unknown operation", code="unknown_operation")


@never_cache
def staff_page(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path(), "/login/")
    if not user.is_active or not may(user.role, "page:staff"):
        return render(request, "hall/error.html", {
            "status": 403, "code": "forbidden",
            "message_zh": "只有县委组织部管理员可以打开工作人员页面。", "message_en": "Only county administrators may open this page.",
        }, status=403)
    error: Refusal | None = None
    if request.method == "POST":
        try:
            _do(request, Actor.of_user(user))
            return HttpResponseRedirect("/staff/")
        except Refusal as refused:
            error = refused
    pending = selectors.staff_pending_grants()
    for grant in pending:
        grant["mine"] = user.username in (grant["requested_by"], grant["username"])
    context = {
        "accounts": selectors.staff_accounts(),
        "pending": pending,
        "recent": selectors.staff_recent_changes(),
        "roles": [(r, ROLE_LABELS[r], r in PRIVILEGED) for r in sorted(GRANTABLE, key=list(ROLE_LABELS).index)],
        "role_labels": ROLE_LABELS,
        "error": error,
        "command_id": uuid.uuid4(),
    }
    return render(request, "staff/staff.html", context, status=error.http_status if error else 200)
