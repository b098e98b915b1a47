"""A county's schema as the template's DDL, captured once per schema state and replayed.

django-tenants clones a schema with a PL/pgSQL function that it re-creates on
every clone (a connection that creates counties grows by megabytes and slows
down with each), whose catalog queries grow with the catalog, and then fakes
the migrations through `migrate_schemas`, which scans all of pg_class. Here
the template (settings.TENANT_BASE_SCHEMA) is dumped once per schema state
with pg_dump --schema-only, the schema's name replaced by a placeholder, and
stored in the public schema (TemplateSnapshot). Creating a county replays
that text with the county's name and copies the template's migration rows:
a constant amount of work whatever the number of counties.

The template stays the single source of a county's schema: nothing here
describes a table, and tests compare a created county's catalog with the
template's (tests/integration/test_county_schema.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import psycopg
from django.conf import settings
from django.db import connection

from tenants.models import TemplateSnapshot

PLACEHOLDER = "__shuping_county_schema__"
# What pg_dump writes around the DDL that must not run here: comments, psql
# meta-commands (\restrict), and session settings (a replay runs inside the
# caller's transaction with its own settings).
_SKIPPED = re.compile(r"^(--|\\|SET |SELECT pg_catalog\.set_config\()")

_cache: dict[str, str] = {}


class TemplateDumpError(RuntimeError):
    """pg_dump could not dump the template."""


def connection_params() -> dict[str, object]:
    """Django's connection settings, for pg_dump and for a connection of our own."""
    return {k: v for k, v in connection.get_connection_params().items() if k not in ("context", "cursor_factory")}


@contextlib.contextmanager
def own_connection() -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    """A short-lived connection of our own, in a transaction committed on a clean exit.

    A backend that creates a schema keeps catalog cache entries for what it
    created (measured: about 37 KB a county), so a long-lived connection that
    creates counties grows with each. The DDL runs here and the backend ends
    with the county: the caller's connection stays as it was.
    """
    with psycopg.connect(**connection_params()) as own:  # type: ignore[arg-type]
        yield own


def run_pg_tool(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a PostgreSQL client tool (pg_dump, pg_restore) against Django's database.

    The tool is taken beside the pg_dump the settings name (the embedded
    wheel's, as new as its server), else from the PATH.
    """
    params = connection_params()
    env = dict(os.environ, PGPASSWORD=str(params.get("password") or ""))
    dump = str(settings.PG_DUMP)
    if tool != "pg_dump":
        dump = str(Path(dump).with_name(tool)) if os.sep in dump else tool
    argv = [dump, *args]
    for flag, key in (("--host", "host"), ("--port", "port"), ("--username", "user"), ("--dbname", "dbname")):
        if params.get(key):
            argv += [flag, str(params[key])]
    return subprocess.run(argv, capture_output=True, text=True, env=env, check=False)


def dump_schema(schema: str) -> str:
    """The schema's DDL (tables, sequences, indexes, constraints, triggers, functions, grants) from pg_dump."""
    result = run_pg_tool("pg_dump", "--schema-only", "--no-owner", "--schema", schema)
    if result.returncode != 0:
        raise TemplateDumpError(f"pg_dump of {schema} failed: {result.stderr.strip()}")
    return result.stdout


def to_template(dump: str, *, schema: str) -> str:
    """Keep the statements of a dump and put PLACEHOLDER where the schema's name stands."""
    name = re.compile(rf'(?<![\w"]){re.escape(schema)}(?![\w"])|"{re.escape(schema)}"')
    lines = [line for line in dump.splitlines() if line.strip() and not _SKIPPED.match(line)]
    return name.sub(PLACEHOLDER, "\n".join(lines)) + "\n"


def ddl_for(state: str, *, template: str) -> str:
    """The template's DDL at `state`: from this process, else the public schema, else pg_dump (then stored)."""
    ddl = _cache.get(state)
    if ddl is None:
        stored = TemplateSnapshot.objects.filter(state=state).values_list("ddl", flat=True).first()
        if stored is None:
            stored = to_template(dump_schema(template), schema=template)
            TemplateSnapshot.objects.bulk_create([TemplateSnapshot(state=state, ddl=stored)], ignore_conflicts=True)
        ddl = _cache[state] = stored
    return ddl


def forget(state: str) -> None:
    """Drop the snapshot of one state: the next county at that state re-dumps the template."""
    _cache.pop(state, None)
    TemplateSnapshot.objects.filter(state=state).delete()


def forget_all_but(state: str) -> None:
    """Drop the snapshots of other states (after the template was migrated)."""
    for old in [key for key in _cache if key != state]:
        del _cache[old]
    TemplateSnapshot.objects.exclude(state=state).delete()


def replay(own: psycopg.Connection[tuple[object, ...]], ddl: str, *, schema: str, template: str) -> None:
    """Create `schema` from the template's DDL and copy the template's migration rows (in `own`'s transaction)."""
    quoted = '"' + schema.replace('"', '""') + '"'
    with own.cursor() as cursor:
        cursor.execute("SET LOCAL check_function_bodies = false")
        # No parameters: psycopg sends the whole text at once (simple query protocol).
        cursor.execute(ddl.replace(PLACEHOLDER, quoted).encode())
        cursor.execute(
            f"INSERT INTO {quoted}.django_migrations (app, name, applied)"  # type: ignore[arg-type]
            f' SELECT app, name, now() FROM "{template}".django_migrations ORDER BY id'
        )


def drop_schema(schema: str) -> None:
    """Undo a replay whose county row was not committed."""
    with own_connection() as own:
        own.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())
