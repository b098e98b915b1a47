"""Counties migrated through the kept migrate machinery end as Django's own migrate leaves them.

tenants.migrate_shared keeps the migration graph and the rendered states
across the counties of one process. Here, in a database of its own, a real
migration (tests/migration_extra) is applied to one county by Django's
migrate command afresh (the old path) and to three through the shared path:
two at the same applied set, and one a migration further behind (projections
0006 undone), which needs a plan and states of its own. Each must end with the
old-path county's catalog (relations, columns, constraints, indexes,
triggers, functions, grants), migration rows, content types and permissions.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from tests.integration.own_instance import python
from tests.integration.test_county_schema import CATALOG, MARK

OLD, SAME, SAME2, BEHIND, OLD_BEHIND = "sh_old", "sh_one", "sh_two", "sh_behind", "sh_old_behind"
UNDO_0006 = "ALTER TABLE {s}.proj_meeting_board DROP COLUMN eligible, DROP COLUMN grading_guests, DROP COLUMN roster_guests"


def _everything(db: psycopg.Connection[tuple[object, ...]], schema: str) -> dict[str, list[tuple[str, ...]]]:
    (ns,) = db.execute("SELECT oid FROM pg_namespace WHERE nspname = %s", [schema]).fetchone()  # type: ignore[misc]
    found = {
        name: sorted(
            tuple(str(value).replace(f'"{schema}"', MARK).replace(schema, MARK) for value in row)
            for row in db.execute(sql, {"ns": ns}).fetchall()
        )
        for name, sql in CATALOG.items()
    }
    rows = {
        "migrations": "SELECT app, name FROM {s}.django_migrations",
        "content types": "SELECT app_label, model FROM {s}.django_content_type",
        "permissions": "SELECT t.app_label, p.codename, p.name FROM {s}.auth_permission p JOIN {s}.django_content_type t ON t.id = p.content_type_id",
        "stale projections": "SELECT name FROM {s}.projection_stale",
    }
    for name, sql in rows.items():
        found[name] = sorted(tuple(map(str, row)) for row in db.execute(sql.format(s=f'"{schema}"')).fetchall())
    return found


def test_the_shared_path_leaves_counties_as_djangos_migrate_does(own_counties: Callable[..., str]) -> None:
    url = own_counties([OLD, SAME, SAME2, BEHIND, OLD_BEHIND], name="共享县")
    with psycopg.connect(url, autocommit=True) as db:
        for behind in (BEHIND, OLD_BEHIND):
            db.execute(UNDO_0006.format(s=f'"{behind}"'))
            db.execute(f"DELETE FROM \"{behind}\".django_migrations WHERE app = 'projections' AND name = '0006_board_eligible'")

    done = python(url, (
        "import django; django.setup()\n"
        "from projections.runtime import rebuild_stale\n"
        "from tenants.migrating import county_migrator, migrate_all\n"
        f"print(migrate_all(only=[{OLD!r}, {OLD_BEHIND!r}], shared=False, after_migrate=rebuild_stale))\n"
        f"print(migrate_all(only=[{SAME!r}, {SAME2!r}, {BEHIND!r}], shared=True, after_migrate=rebuild_stale))\n"
        "print('prepared', county_migrator().prepared_sets)\n"
    ), extra=True)
    assert "prepared 2" in done, done  # one applied set shared by two counties, one of its own
    with psycopg.connect(url, autocommit=True) as db:
        reference = _everything(db, OLD)
        assert ("migration_extra", "0001_note") in reference["migrations"]
        assert any(row[2] == "extra_note" for row in reference["columns"])
        assert reference["content types"] and reference["permissions"]
        assert reference["stale projections"] == []
        # Two migrations behind, Django's plan may put migration_extra's column
        # before 0006's: that county is compared with one migrated from the same state the old way.
        for schema, old in ((SAME, OLD), (SAME2, OLD), (BEHIND, OLD_BEHIND)):
            expected, found = _everything(db, old), _everything(db, schema)
            for part, rows in expected.items():
                assert found[part] == rows, f"{part} of {schema} differs from {old}, migrated by Django's command"
        behind = _everything(db, BEHIND)
        for part in reference:
            if part != "columns":
                assert behind[part] == reference[part], part
        assert sorted(behind["columns"]) == sorted(reference["columns"]) or {
            row[2] for row in behind["columns"] if row[0] == "proj_meeting_board"
        } == {row[2] for row in reference["columns"] if row[0] == "proj_meeting_board"}
        template = _everything(db, "county_template")
        for part in [*CATALOG, "migrations"]:
            assert template[part] == reference[part], part

