"""The county of the current database connection (django-tenants' schema)."""

from __future__ import annotations

from django.db import connection


def current_schema() -> str:
    """The schema of the current connection: a county's slug, or "public"."""
    return str(getattr(connection, "schema_name", "public"))


def use_public_schema() -> None:
    connection.set_schema_to_public()  # type: ignore[attr-defined]
