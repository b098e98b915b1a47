"""A real migration's time per county when the county was created with or without the template's seed rows.

Run from the repository root (prints only):

    .venv/bin/python bench/seeded_migrate.py --counties 60

One embedded PostgreSQL, migrated by `shuping migrate`; then, in this one
process with the settings that add tests/migration_extra's one-column
migration: the template is migrated, 2 x N counties are created with
`tenants.provisioning.create_county` (which copies the template's content
types and permissions), and every other county has those rows deleted, as
counties created before that copy had none. The counties are then migrated
one by one with `tenants.migrating.migrate_county` (the kept machinery, as
`shuping migrate` does), alternating a county with rows and one without, and
each county's time is taken: the same code, process and connection, the
only difference being whether post_migrate finds the rows or inserts them.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
os.environ.setdefault("SHUPING_DEBUG", "1")

from _common import free_port  # noqa: E402

WITHOUT_ROWS = "DELETE FROM {s}.auth_permission; DELETE FROM {s}.django_content_type;"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counties", type=int, default=60, help="counties of each kind")
    args = parser.parse_args()
    from shuping.embedded_pg import EmbeddedPostgres

    workdir = Path(tempfile.mkdtemp(prefix="shuping-bench-seeded-"))
    server = EmbeddedPostgres(workdir / "pg", port=free_port(), throwaway=False)
    try:
        url = server.start(log=False)
        env = dict(os.environ, DATABASE_URL=url, SHUPING_HOME=str(workdir), SHUPING_SECRET_KEY=secrets.token_urlsafe(50),
                   DJANGO_SETTINGS_MODULE="shuping.settings", PYTHONPATH=f"{ROOT / 'platform'}{os.pathsep}{ROOT}")
        subprocess.run([sys.executable, "-m", "shuping.cli", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
        os.environ.update(DATABASE_URL=url, SHUPING_SECRET_KEY=env["SHUPING_SECRET_KEY"],
                          DJANGO_SETTINGS_MODULE="tests.migration_extra.settings")
        import django

        django.setup()
        from django.db import connection

        from events.grants import app_role
        from projections.runtime import rebuild_stale
        from tenants.migrating import MIGRATED, migrate_county
        from tenants.provisioning import (
            applied_migrations,
            create_county,
            migrate_platform,
            schema_state,
            template_schema,
        )

        seeded = [f"sd{k:04d}" for k in range(args.counties)]
        bare = [f"bd{k:04d}" for k in range(args.counties)]
        for slug in ["warmup"] + [s for pair in zip(seeded, bare, strict=True) for s in pair]:
            create_county(slug=slug, name=f"基准县{slug}", domains=[f"{slug}.localhost"])
        with connection.cursor() as cursor:
            for slug in bare:
                cursor.execute(WITHOUT_ROWS.format(s=f'"{slug}"'))
        migrate_platform()  # the template takes migration_extra's migration
        wanted = frozenset(applied_migrations(template_schema()))
        state, role = schema_state(set(wanted)), app_role()
        # The first county prepares the kept machinery (graph, plan, states): not counted.
        migrate_county("warmup", wanted=wanted, state=state, role=role, after_migrate=rebuild_stale)
        times: dict[str, list[float]] = {"with rows": [], "without rows": []}
        cpu: dict[str, list[float]] = {"with rows": [], "without rows": []}
        load = [os.getloadavg()[0]]
        for with_rows, without in zip(seeded, bare, strict=True):
            for kind, slug in (("with rows", with_rows), ("without rows", without)):
                started, used = time.perf_counter(), time.process_time()
                outcome = migrate_county(slug, wanted=wanted, state=state, role=role, after_migrate=rebuild_stale)
                times[kind].append(time.perf_counter() - started)
                cpu[kind].append(time.process_time() - used)
                assert outcome.status == MIGRATED, outcome
        load.append(os.getloadavg()[0])
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT (SELECT count(*) FROM "{seeded[0]}".auth_permission), (SELECT count(*) FROM "{bare[0]}".auth_permission)')
            counts = cursor.fetchone()
        connection.close()
    finally:
        server.destroy()
    print(f"real one-column migration per county, migrate_county, median of {args.counties} each, alternating"
          f" (load average {min(load):.1f} to {max(load):.1f}{', this process niced' if os.nice(0) > 0 else ''}):")
    for label, found in (("wall", times), ("CPU of this process", cpu)):
        first, second = (statistics.median(found[k]) for k in ("with rows", "without rows"))
        print(f"  {label}: created with the template's rows {first * 1000:.1f} ms, without them {second * 1000:.1f} ms;"
              f" ratio {first / second:.2f}")
    print(f"  permissions after the migration: {counts[0]} / {counts[1]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
