"""A created county holds the rows a migrated county holds: content types, permissions, sequences.

Django's post_migrate receivers (contenttypes, auth) write the content types
and permissions into each county's schema. A county made from the template's
DDL alone lacked them, so the first real migration inserted them in every
county. Counties now carry the template's rows from their creation
(tenants.template_ddl): here a created county is compared, table by table and
sequence by sequence, with a schema migrated from nothing as `shuping migrate`
migrates a county, new rows get ids after the copied ones, and a real
migration afterwards (tests/migration_extra) inserts no content type and no
permission.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable

import psycopg
import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django_tenants.utils import schema_context

from projections.runtime import rebuild_stale
from tenants import template_ddl
from tenants.models import County, TemplateSnapshot
from tenants.provisioning import create_county, migrate_schema, schema_state, template_schema
from tests.integration.own_instance import applied, shuping

Rows = dict[str, list[tuple[str, ...]]]
SEEDED = ("django_content_type", "auth_permission")


@pytest.fixture(autouse=True)
def _committed(django_db_blocker: object) -> object:
    # Counties are committed as in production (pg_dump and child processes
    # read them from other connections); each test drops what it made.
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        yield


def rows_of(db: psycopg.Connection[tuple[object, ...]], schema: str) -> Rows:
    """Every row of every table of `schema` and every sequence's position, as sorted text.

    django_migrations is compared without its `applied` time (a migrated
    schema has its own); ids are compared everywhere.
    """
    found: Rows = {}
    tables = db.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY 1", [schema]).fetchall()
    for (table,) in tables:
        columns = "id, app, name" if table == "django_migrations" else "*"
        rows = db.execute(f'SELECT {columns} FROM "{schema}"."{table}"'.encode()).fetchall()  # type: ignore[arg-type]
        found[str(table)] = sorted(tuple(map(str, row)) for row in rows)
    sequences = db.execute(
        "SELECT sequencename, coalesce(last_value::text, 'not called') FROM pg_sequences WHERE schemaname = %s", [schema]
    ).fetchall()
    found["sequences"] = sorted(tuple(map(str, row)) for row in sequences)
    return found


def _drop(slug: str) -> None:
    connection.set_schema_to_public()
    County.objects.filter(schema_name=slug).delete()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{slug}" CASCADE')


def test_a_created_county_has_the_rows_of_a_county_migrated_from_nothing() -> None:
    created, scratch = f"rw_{uuid.uuid4().hex[:8]}", f"rs_{uuid.uuid4().hex[:8]}"
    try:
        create_county(slug=created, name="行县", domains=[f"{created.replace('_', '-')}.testserver"])
        # What `shuping migrate` does to a county: every migration, then the
        # rebuild of the read models they marked stale.
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{scratch}"')
        migrate_schema(scratch)
        with schema_context(scratch):
            rebuild_stale()
        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as db:
            migrated, made, template = rows_of(db, scratch), rows_of(db, created), rows_of(db, template_schema())
        # The comparison sees what post_migrate wrote, with its ids and sequences.
        assert len(migrated["django_content_type"]) > 20 and len(migrated["auth_permission"]) > 80
        assert ("auth_permission_id_seq", str(len(migrated["auth_permission"]))) in migrated["sequences"]
        assert made.keys() == migrated.keys()
        for table, rows in migrated.items():
            assert made[table] == rows, f"{table} of a created county differs from a county migrated from nothing"
            assert template[table] == rows, f"{table} of the template differs from a county migrated from nothing"
    finally:
        _drop(created)
        _drop(scratch)


def test_content_types_and_permissions_added_later_take_the_next_ids(make_county: Callable[..., County]) -> None:
    county = make_county("rn")
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as db:
        before = rows_of(db, county.schema_name)
    assert before["auth_permission"], "a created county carries the template's permissions"
    ContentType.objects.clear_cache()  # ids are per schema; the cache is per process
    with schema_context(county.schema_name):
        probe = ContentType.objects.create(app_label="probe", model="note")
        permission = Permission.objects.create(codename="read_note", name="Can read note", content_type=probe)
        # The copied rows are still there and unchanged: the new ones came after them.
        assert probe.pk == len(before["django_content_type"]) + 1
        assert permission.pk == len(before["auth_permission"]) + 1
        assert Permission.objects.filter(content_type__app_label="auth", codename="add_group").exists()
    ContentType.objects.clear_cache()


def test_a_real_migration_after_creation_inserts_no_content_type_or_permission(own_counties: Callable[..., str]) -> None:
    slugs = ["rows_one", "rows_two"]
    url = own_counties(slugs, name="行县")
    with psycopg.connect(url, autocommit=True) as db:
        before = {slug: rows_of(db, slug) for slug in slugs}
    run = shuping(url, "migrate", extra=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2 个县区已迁移" in run.stdout, run.stdout
    with psycopg.connect(url, autocommit=True) as db:
        template = rows_of(db, "county_template")
        for slug in slugs:
            assert ("migration_extra", "0001_note") in applied(db, slug)
            after = rows_of(db, slug)
            for table in SEEDED:
                assert before[slug][table], f"{slug} was created without {table} rows"
                assert after[table] == before[slug][table] == template[table], f"the migration changed {table} in {slug}"
            # Not even an insert that was rolled back: their sequences did not move
            # (the migration's own row moved django_migrations' only).
            moved = {row for row in after["sequences"] if row not in before[slug]["sequences"]}
            assert {name for name, _ in moved} == {"django_migrations_id_seq"}, moved
            assert after["sequences"] == template["sequences"]


def test_a_snapshot_stored_before_rows_were_part_of_it_is_dumped_again() -> None:
    """A TemplateSnapshot written by the code before (DDL only) would make counties without migration rows."""
    state, template, slug = schema_state(), template_schema(), f"ro_{uuid.uuid4().hex[:8]}"
    ddl_only = template_ddl.run_pg_tool("pg_dump", "--schema-only", "--no-owner", "--schema", template)
    assert ddl_only.returncode == 0, ddl_only.stderr
    old = template_ddl.to_template(ddl_only.stdout, schema=template).split("\n", 1)[1]
    assert "INSERT INTO" not in old
    template_ddl.forget(state)
    TemplateSnapshot.objects.create(state=state, ddl=old)
    try:
        create_county(slug=slug, name="旧快照县", domains=[f"{slug.replace('_', '-')}.testserver"])
        with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as db:
            made, expected = rows_of(db, slug), rows_of(db, template)
        for table in ("django_migrations", *SEEDED):
            assert made[table] == expected[table], table
        assert TemplateSnapshot.objects.get(state=state).ddl.startswith(template_ddl.FORMAT)
    finally:
        _drop(slug)
