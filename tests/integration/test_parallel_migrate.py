"""`shuping migrate --jobs N`: a real migration over several counties in parallel, one failing, then resumed.

The test runs in a database of its own (the migration must not reach the
counties of other tests): `shuping migrate` creates public and the template
there and five counties are created (the `own_counties` fixture), and and one of them is given a column the
new migration (tests/migration_extra) is about to add. Then `shuping migrate
--jobs 3` runs with settings that include that migration, as an operator would
run it after a release.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from tests.integration.own_instance import applied as _applied
from tests.integration.own_instance import python, shuping

SLUGS = [f"pm{k}" for k in range(1, 6)]
BROKEN = "pm3"
EXTRA = ("migration_extra", "0001_note")


def _columns(db: psycopg.Connection[tuple[object, ...]], schema: str) -> set[str]:
    rows = db.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = 'proj_meeting_board'",
        [schema],
    ).fetchall()
    return {str(row[0]) for row in rows}


def test_parallel_migrate_leaves_a_failed_county_usable_and_a_rerun_resumes(own_counties: Callable[..., str]) -> None:
    url = own_counties(SLUGS, name="并行县")
    with psycopg.connect(url, autocommit=True) as db:
        # The conflicting object: the column the new migration adds, already there in one county.
        db.execute(f'ALTER TABLE "{BROKEN}".proj_meeting_board ADD COLUMN extra_note text')
        before = _applied(db, BROKEN)
        (old_state,) = db.execute("SELECT schema_state FROM tenants_county WHERE schema_name = %s", [BROKEN]).fetchone()

    run = shuping(url, "migrate", "--jobs", "3", extra=True)
    out = run.stdout
    assert run.returncode == 1, out + run.stderr
    # The error report: the county, the migration, the database's own words, Chinese first.
    report = [line for line in out.splitlines() if "[migrate_county_failed]" in line]
    assert len(report) == 1, out
    assert f"县区 {BROKEN} 迁移 migration_extra.0001_note 失败" in report[0]
    assert f"county {BROKEN} failed at migration_extra.0001_note" in report[0]
    assert "extra_note" in report[0] and "already exists" in report[0]
    assert report[0].index("县区") < report[0].index(" / county")
    assert "4 个县区已迁移" in out and "1 个失败" in out

    with psycopg.connect(url, autocommit=True) as db:
        (template_state,) = db.execute(
            "SELECT schema_state FROM tenants_county WHERE schema_name = 'pm1'"
        ).fetchone()
        for slug in SLUGS:
            if slug == BROKEN:
                continue
            assert EXTRA in _applied(db, slug), slug
            assert "extra_note" in _columns(db, slug)
            # The read model the migration marked stale was rebuilt in the same transaction.
            assert db.execute(f'SELECT count(*) FROM "{slug}".projection_stale').fetchone() == (0,)
        # The failed county is exactly as it was: same migrations, same state on its row, and it still works.
        assert _applied(db, BROKEN) == before
        assert db.execute("SELECT schema_state FROM tenants_county WHERE schema_name = %s", [BROKEN]).fetchone() == (old_state,)
        assert old_state != template_state
        assert db.execute(f'SELECT count(*) FROM "{BROKEN}".projection_stale').fetchone() == (0,)
    python(url, (
        "import django; django.setup()\n"
        "from django_tenants.utils import schema_context\n"
        "from meetings.models import Township\n"
        f"with schema_context({BROKEN!r}):\n"
        "    Township.objects.create(name='迁移失败后仍可用乡')\n"
        "    assert Township.objects.filter(name='迁移失败后仍可用乡').count() == 1\n"
    ))

    # Fixed by the operator; the rerun takes up only what is left.
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(f'ALTER TABLE "{BROKEN}".proj_meeting_board DROP COLUMN extra_note')
    again = shuping(url, "migrate", "--jobs", "3", extra=True)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "1 个县区已迁移" in again.stdout and "0 个失败" in again.stdout, again.stdout
    with psycopg.connect(url, autocommit=True) as db:
        assert EXTRA in _applied(db, BROKEN)
        states = db.execute("SELECT DISTINCT schema_state FROM tenants_county WHERE schema_name <> 'public'").fetchall()
        assert states == [(template_state,)]
    nothing = shuping(url, "migrate", "--jobs", "3", extra=True)
    assert nothing.returncode == 0 and "0 个县区已迁移" in nothing.stdout, nothing.stdout
