"""Reads of the county's staff: accounts with their roles, pending and recent grants (from the projection)."""

from __future__ import annotations

from typing import Any

from django.db import connection

from accounts.models import User

_COLUMNS = ("change_id", "kind", "username", "role", "requested_by", "requested_at", "state", "decided_by", "decided_at")


def staff_accounts() -> list[User]:
    return list(User.objects.order_by("username").only("username", "display_name", "role", "is_active"))


def _changes(where: str, params: list[Any], limit: int) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM proj_staff_changes {where} ORDER BY requested_at DESC, change_id LIMIT %s",
            [*params, limit],
        )
        return [dict(zip(_COLUMNS, row, strict=True)) for row in cursor.fetchall()]


def staff_pending_grants(limit: int = 100) -> list[dict[str, Any]]:
    """Grants waiting for their second person, newest first."""
    return _changes("WHERE state = 'pending'", [], limit)


def staff_recent_changes(limit: int = 30) -> list[dict[str, Any]]:
    """Every grant, revocation and deactivation, newest first."""
    return _changes("", [], limit)
