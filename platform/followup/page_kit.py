"""What every county page of followup does before it acts: the role gate and the form's command id."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import may


def gate(request: HttpRequest, action: str, forbidden: dict[str, Any]) -> HttpResponse | None:
    """None when the user may open the page (`action`, a `page:` name of accounts.roles); else the answer to send:
    the login page for a visitor, a Chinese 403 (`forbidden`: the error page's context) for a role without it."""
    user: Any = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path(), "/login/")
    if not user.is_active or not may(user.role, action):
        return render(request, "hall/error.html", forbidden, status=403)
    return None


def command_id(value: str | None) -> str | None:
    """The form's command id as a canonical UUID, or None (a new one is made) when absent or not a UUID."""
    try:
        return str(uuid.UUID(str(value))) if value else None
    except ValueError:
        return None
