"""A county's schema and seed rows as the template's dump, captured once per schema state and replayed.

django-tenants clones a schema with a PL/pgSQL function that it re-creates on
every clone (a connection that creates counties grows by megabytes and slows
down with each), whose catalog queries grow with the catalog, and then fakes
the migrations through `migrate_schemas`, which scans all of pg_class. Here
the template (settings.TENANT_BASE_SCHEMA) is dumped once per schema state
with pg_dump (its DDL and its rows), the schema's name replaced by a
placeholder, and stored in the public schema (TemplateSnapshot). Creating a
county replays that text with the county's name: a constant amount of work
whatever the number of counties.

The rows matter as much as the DDL. A migrated schema holds what its
migrations and Django's post_migrate receivers wrote: the django_migrations
rows, and the content types and permissions (contenttypes and auth keep them
in each county's schema), with their sequences where they stopped. A county
made from the DDL alone lacked the last two, so the first real migration
inserted them in every county (about half of its time per county, and until
then the county differed from a migrated one); replaying the template's rows
makes a created county equal a migrated one from the start.

The template stays the single source of a county: nothing here describes a
table or a row, and tests compare a created county's catalog and rows with
the template's and with a county migrated from scratch
(tests/integration/test_county_schema.py, test_county_rows.py).
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
# The first line of every stored snapshot. Snapshots written before the rows
# were part of them lack it and are dumped again (replaying one would make a
# county without its migration rows).
FORMAT = "-- shuping template snapshot 2: DDL and rows"
# What pg_dump writes around the DDL that must not run here: comments, psql
# meta-commands (\restrict), and session settings (a replay runs inside the
# caller's transaction with its own settings).
_SKIPPED = re.compile(r"^(--|\\|SET |SELECT pg_catalog\.set_config\()")
# The position pg_dump writes for a sequence never used: what a sequence
# created with START 1 (every identity column here) has already. Most of the
# template's tables are empty, and replaying these no-ops cost about 10% of a
# county's creation (measured side by side).
_UNUSED_SEQUENCE = re.compile(r"^SELECT pg_catalog\.setval\('[^']*', 1, false\);$")

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
    """The schema's DDL (tables, sequences, indexes, constraints, triggers, functions, grants) and rows, from pg_dump.

    Rows as INSERTs naming their columns, one statement per table, and each
    sequence's position (setval): the text runs as one simple query.
    """
    result = run_pg_tool("pg_dump", "--no-owner", "--column-inserts", "--rows-per-insert=1000", "--schema", schema)
    if result.returncode != 0:
        raise TemplateDumpError(f"pg_dump of {schema} failed: {result.stderr.strip()}")
    return result.stdout


def to_template(dump: str, *, schema: str) -> str:
    """Keep the statements of a dump and put PLACEHOLDER where the schema's name stands.

    The rows pass through the same filter and substitution: each value line
    of a multi-row INSERT starts with a tab, so none is dropped, and the
    template's rows (migration names, content types, permission names) hold
    neither a line break nor the template's name (test_county_rows compares
    them with a migrated county's).
    """
    name = re.compile(rf'(?<![\w"]){re.escape(schema)}(?![\w"])|"{re.escape(schema)}"')
    lines = [
        line for line in dump.splitlines()
        if line.strip() and not _SKIPPED.match(line) and not _UNUSED_SEQUENCE.match(line)
    ]
    return FORMAT + "\n" + name.sub(PLACEHOLDER, "\n".join(lines)) + "\n"


def ddl_for(state: str, *, template: str) -> str:
    """The template's DDL and rows at `state`: from this process, else the public schema, else pg_dump (then stored)."""
    ddl = _cache.get(state)
    if ddl is None:
        stored = TemplateSnapshot.objects.filter(state=state).values_list("ddl", flat=True).first()
        if stored is None or not stored.startswith(FORMAT + "\n"):
            stored = to_template(dump_schema(template), schema=template)
            # An upsert: a snapshot of the older format at this state is replaced,
            # and two processes dumping at once store the same text.
            TemplateSnapshot.objects.bulk_create(
                [TemplateSnapshot(state=state, ddl=stored)],
                update_conflicts=True, unique_fields=["state"], update_fields=["ddl"],
            )
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


def replay(own: psycopg.Connection[tuple[object, ...]], ddl: str, *, schema: str) -> None:
    """Create `schema` from the template's DDL and rows (in `own`'s transaction)."""
    quoted = '"' + schema.replace('"', '""') + '"'
    with own.cursor() as cursor:
        cursor.execute("SET LOCAL check_function_bodies = false")
        # No parameters: psycopg sends the whole text at once (simple query protocol).
        cursor.execute(ddl.replace(PLACEHOLDER, quoted).encode())


def drop_schema(schema: str) -> None:
    """Undo a replay whose county row was not committed."""
    with own_connection() as own:
        own.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'.encode())
