"""A county's schema is the template's: compared in the catalog, object by object.

Counties are made by replaying the template's DDL (tenants.template_ddl); these
tests read pg_catalog for the template and for created counties, with each
schema's name replaced by a marker, and require the two to be equal.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable

import pytest
from django.db import connection
from django.db.utils import DatabaseError
from django.test.utils import CaptureQueriesContext

from tenants import template_ddl
from tenants.migrating import migrate_all
from tenants.models import County
from tenants.provisioning import (
    create_county,
    migrate_platform,
    schema_state,
    template_schema,
)

MARK = "<schema>"

# Each query takes the schema's oid and returns rows of text that name objects
# by their qualified names (search_path is public while these run). Grants are
# compared as effective privileges: a NULL ACL means the owner's default, which
# is what `REVOKE ALL ... FROM PUBLIC` on a table spells out explicitly. Columns
# are compared by their order among live columns: the template keeps the
# numbers of columns its migrations dropped, a replayed schema does not.
CATALOG = {
    "relations": """
        SELECT c.relname, c.relkind, c.relpersistence, c.relrowsecurity,
               coalesce(c.relacl, acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char", c.relowner))::text
        FROM pg_class c WHERE c.relnamespace = %(ns)s""",
    "columns": """
        SELECT c.relname, row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
               a.attidentity, a.attgenerated, coalesce(pg_get_expr(d.adbin, d.adrelid), ''),
               coalesce(a.attacl::text, '')
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE c.relnamespace = %(ns)s AND a.attnum > 0 AND NOT a.attisdropped""",
    "constraints": """
        SELECT conrelid::regclass::text, conname, contype, pg_get_constraintdef(oid), condeferrable, condeferred
        FROM pg_constraint WHERE connamespace = %(ns)s""",
    "indexes": """
        SELECT pg_get_indexdef(i.indexrelid), i.indisunique, i.indisprimary
        FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid WHERE c.relnamespace = %(ns)s""",
    "triggers": """
        SELECT pg_get_triggerdef(t.oid), t.tgenabled
        FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
        WHERE c.relnamespace = %(ns)s AND NOT t.tgisinternal""",
    "functions": """
        SELECT pg_get_functiondef(p.oid), coalesce(p.proacl, acldefault('f'::"char", p.proowner))::text
        FROM pg_proc p WHERE p.pronamespace = %(ns)s""",
    "sequences": """
        SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmax, s.seqmin,
               s.seqcache, s.seqcycle, coalesce(owner.relname || '.' || a.attname, '')
        FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
        LEFT JOIN pg_depend d ON d.objid = c.oid AND d.classid = 'pg_class'::regclass
             AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
        LEFT JOIN pg_class owner ON owner.oid = d.refobjid
        LEFT JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE c.relnamespace = %(ns)s""",
    "schema": """SELECT coalesce(nspacl, acldefault('n'::"char", nspowner))::text FROM pg_namespace WHERE oid = %(ns)s""",
}


@pytest.fixture(autouse=True)
def _committed(django_db_blocker: object) -> object:
    # Counties are committed as in production (pg_dump and the CLI read them
    # from other connections); each test drops what it made.
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        yield


def catalog(schema: str) -> dict[str, list[tuple[str, ...]]]:
    """Every object of `schema` as sorted rows of text, its own name replaced by MARK."""
    connection.set_schema_to_public()
    found: dict[str, list[tuple[str, ...]]] = {}
    with connection.cursor() as cursor:
        cursor.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [schema])
        (ns,) = cursor.fetchone()
        for name, sql in CATALOG.items():
            cursor.execute(sql, {"ns": ns})
            found[name] = sorted(
                tuple(str(value).replace(f'"{schema}"', MARK).replace(schema, MARK) for value in row)
                for row in cursor.fetchall()
            )
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations')
        found["migrations"] = sorted(cursor.fetchall())
    return found


def assert_same_schema(schema: str, template: str) -> None:
    expected, actual = catalog(template), catalog(schema)
    for part in expected:
        missing = sorted(set(expected[part]) - set(actual[part]))
        extra = sorted(set(actual[part]) - set(expected[part]))
        assert (missing, extra) == ([], []), f"{part} of {schema} differs from the template"
        assert actual[part] == expected[part], part


def _drop_county(slug: str) -> None:
    connection.set_schema_to_public()
    County.objects.filter(schema_name=slug).delete()
    with connection.cursor() as cursor:
        cursor.execute(f'DROP SCHEMA IF EXISTS "{slug}" CASCADE')


def test_the_catalog_comparison_sees_the_log_triggers_and_every_table() -> None:
    # The comparison below is only as good as what it reads: the template
    # must show the immutable log's triggers, its function and many tables.
    found = catalog(template_schema())
    triggers = " ".join(row[0] for row in found["triggers"])
    assert "events_no_update_or_delete" in triggers and "events_no_truncate" in triggers
    assert "event_commands_no_truncate" in triggers
    assert any("events_reject_change" in row[0] for row in found["functions"])
    tables = {row[0] for row in found["relations"] if row[1] == "r"}
    assert {"events", "event_commands", "django_migrations", "accounts_user"} <= tables
    assert len(found["indexes"]) > 20 and len(found["constraints"]) > 20 and found["sequences"]


def test_a_created_county_has_the_templates_schema(county_a) -> None:
    assert_same_schema(county_a.schema_name, template_schema())


def test_the_log_of_a_created_county_refuses_truncate(make_county: Callable[..., County]) -> None:
    county = make_county("imm")
    with pytest.raises(DatabaseError, match="append-only"), connection.cursor() as cursor:
        cursor.execute(f'TRUNCATE "{county.schema_name}".events')


def test_counties_created_one_after_another_in_one_connection_are_identical() -> None:
    slugs = [f"seq_{uuid.uuid4().hex[:8]}" for _ in range(4)]
    try:
        for slug in slugs:
            create_county(slug=slug, name="连建县", domains=[f"{slug.replace('_', '-')}.testserver"])
        for slug in slugs:
            assert_same_schema(slug, template_schema())
        assert all(County.objects.get(schema_name=slug).schema_state == schema_state() for slug in slugs)
    finally:
        for slug in slugs:
            _drop_county(slug)


def test_a_county_created_after_a_new_migration_carries_it() -> None:
    """A migration of the template (new table, new migration row) reaches the next county, not the earlier ones."""
    template = template_schema()
    before, after = f"mb_{uuid.uuid4().hex[:8]}", f"ma_{uuid.uuid4().hex[:8]}"
    old_state, new_state = schema_state(), ""
    create_county(slug=before, name="迁移前县", domains=[f"{before.replace('_', '-')}.testserver"])
    try:
        with connection.cursor() as cursor:
            # What a migration does to the template: DDL and its row.
            cursor.execute(f'CREATE TABLE "{template}".probe_notes (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, body text NOT NULL)')
            cursor.execute(f"INSERT INTO \"{template}\".django_migrations (app, name, applied) VALUES ('probe', '0001_notes', now())")
        new_state = schema_state()
        assert new_state != old_state
        create_county(slug=after, name="迁移后县", domains=[f"{after.replace('_', '-')}.testserver"])
        assert_same_schema(after, template)
        with connection.cursor() as cursor:
            cursor.execute(f'INSERT INTO "{after}".probe_notes (body) VALUES (%s) RETURNING id', ["新表可用"])
            assert cursor.fetchone() == (1,)
            cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename = 'probe_notes'", [before])
            assert cursor.fetchone() == (0,)
        assert County.objects.get(schema_name=after).schema_state == schema_state()
        assert County.objects.get(schema_name=before).schema_state == old_state
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP TABLE IF EXISTS "{template}".probe_notes')
            cursor.execute(f"DELETE FROM \"{template}\".django_migrations WHERE app = 'probe'")
        if new_state:
            template_ddl.forget(new_state)
        _drop_county(before)
        _drop_county(after)
    assert schema_state() == old_state


def _break(slug: str) -> None:
    """A county whose schema a migrate would choke on: its migration rows gone, its record behind."""
    with connection.cursor() as cursor:
        cursor.execute(f'DELETE FROM "{slug}".django_migrations')
    County.objects.filter(schema_name=slug).update(schema_state="")


def test_cli_county_create_does_not_touch_other_counties() -> None:
    broken, new = f"br_{uuid.uuid4().hex[:8]}", f"nw_{uuid.uuid4().hex[:8]}"
    create_county(slug=broken, name="坏县", domains=[f"{broken.replace('_', '-')}.testserver"])
    try:
        _break(broken)
        made = subprocess.run(
            [sys.executable, "-m", "shuping.cli", "county", "create", new, "--name", "新建县", "--domain", f"{new.replace('_', '-')}.localhost"],
            capture_output=True, text=True, env=dict(os.environ), timeout=120,
        )
        assert made.returncode == 0, made.stderr
        assert "已创建县区 新建县" in made.stdout
        assert_same_schema(new, template_schema())
        # The broken county was not visited: still no migration rows, still behind.
        assert County.objects.get(schema_name=broken).schema_state == ""
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT count(*) FROM "{broken}".django_migrations')
            assert cursor.fetchone() == (0,)
    finally:
        _drop_county(broken)
        _drop_county(new)


def test_nothing_to_do_migrate_costs_the_same_queries_for_more_counties() -> None:
    migrate_all()  # bring whatever earlier tests left to the template's state
    with CaptureQueriesContext(connection) as fewer:
        counts = migrate_all()
    assert counts["migrated"] == counts["skipped"] == 0
    slugs = [f"fl_{uuid.uuid4().hex[:8]}" for _ in range(3)]
    try:
        for slug in slugs:
            create_county(slug=slug, name="平县", domains=[f"{slug.replace('_', '-')}.testserver"])
        # A county at the template's state is not visited, even a broken one.
        with connection.cursor() as cursor:
            cursor.execute(f'DROP TABLE "{slugs[0]}".django_migrations')
        with CaptureQueriesContext(connection) as more:
            counts = migrate_all()
        assert counts["migrated"] == counts["skipped"] == 0
        assert counts["current"] >= len(slugs)
        assert len(more.captured_queries) == len(fewer.captured_queries)
    finally:
        for slug in slugs:
            _drop_county(slug)


def test_a_county_created_with_an_application_role_grants_it_append_only_rights(monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    from tests.pg_admin import superuser_url

    role, slug = f"app_{uuid.uuid4().hex[:8]}", f"gr_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(superuser_url(), autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" NOLOGIN')
    monkeypatch.setenv("SHUPING_APP_DB_ROLE", role)
    try:
        create_county(slug=slug, name="授权县", domains=[f"{slug.replace('_', '-')}.testserver"])
        assert County.objects.get(schema_name=slug).schema_state == schema_state()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT has_table_privilege(%s, %s, 'INSERT'), has_table_privilege(%s, %s, 'UPDATE'),"
                " has_table_privilege(%s, %s, 'TRUNCATE'), has_table_privilege(%s, %s, 'UPDATE')",
                [role, f"{slug}.events"] * 3 + [role, f"{slug}.proj_meeting_board"],
            )
            assert cursor.fetchone() == (True, False, False, True)
        # The shared tables a web worker reads on every request, and the job queue it defers into.
        migrate_platform()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT has_table_privilege(%s, 'public.tenants_domain', 'SELECT'),"
                " has_table_privilege(%s, 'public.django_session', 'INSERT'),"
                " has_table_privilege(%s, 'public.procrastinate_jobs', 'INSERT'),"
                " has_sequence_privilege(%s, 'public.procrastinate_jobs_id_seq', 'USAGE')",
                [role] * 4,
            )
            assert cursor.fetchone() == (True, True, True, True)
    finally:
        _drop_county(slug)
        with psycopg.connect(superuser_url(), autocommit=True) as admin:
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')


def test_migrate_for_run_visits_only_the_counties_it_names() -> None:
    """`shuping run` migrates public, template and the demo county (only=[...]); a broken other county stays as it was."""
    broken = f"rb_{uuid.uuid4().hex[:8]}"
    create_county(slug=broken, name="坏县", domains=[f"{broken.replace('_', '-')}.testserver"])
    try:
        _break(broken)
        counts = migrate_all(only=[])
        assert counts["migrated"] == counts["skipped"] == 0
        assert County.objects.get(schema_name=broken).schema_state == ""
        # Named, it is visited: its record says behind, its schema lacks every migration row.
        with pytest.raises(DatabaseError):
            migrate_all(only=[broken])
    finally:
        _drop_county(broken)
