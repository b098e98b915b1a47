"""Database rights of the application role: read and append the log, never change it.

Where a deployment runs the web workers under their own PostgreSQL role (set
SHUPING_APP_DB_ROLE; migrations run as the owner), that role gets everything
it needs on a county's tables except UPDATE, DELETE and TRUNCATE on the log
and the command records. The triggers stop the application too; the missing
rights make the refusal come from PostgreSQL's privilege check first, before
any code of ours runs. The owner can still do anything: that is what the hash
chain and the published head hashes are for.
"""

from __future__ import annotations

import os

from django.db import connection

APPEND_ONLY_TABLES = ("events", "event_commands")


def app_role() -> str | None:
    role = os.environ.get("SHUPING_APP_DB_ROLE", "").strip()
    return role or None


def grant_app_role(schema: str, role: str) -> None:
    """Give `role` the application's rights in one county schema."""
    with connection.cursor() as cursor:
        for statement in grant_statements(schema, role):
            cursor.execute(statement)


def grant_statements(schema: str, role: str) -> list[str]:
    """The statements that give `role` the application's rights in `schema` (for a connection of one's own)."""
    q_schema, q_role = _ident(schema), _ident(role)
    tables = ", ".join(f"{q_schema}.{t}" for t in APPEND_ONLY_TABLES)
    return [
        f"GRANT USAGE ON SCHEMA {q_schema} TO {q_role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {q_schema} TO {q_role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {q_schema} TO {q_role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {tables} FROM {q_role}",
    ]


def public_grant_statements(role: str) -> list[str]:
    """The statements that give `role` the platform's shared tables in the public schema.

    Counties, host names, accounts, sessions, regions and the job queue's
    tables live there: a web worker reads them on every request and defers
    jobs into `procrastinate_jobs`. Run on every `shuping migrate`, so tables
    that a release adds are granted too.
    """
    q_role = _ident(role)
    return [
        f"GRANT USAGE ON SCHEMA public TO {q_role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {q_role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {q_role}",
        f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO {q_role}",
    ]


def _ident(name: str) -> str:
    if not name.replace("_", "").isalnum() or not name.isascii():
        raise ValueError(f"not a plain identifier: {name!r}")
    return f'"{name}"'
