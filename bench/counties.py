"""Benchmark of many counties on one PostgreSQL: creating them, migrating with nothing to do, reading.

Run from the repository root:

    .venv/bin/python bench/counties.py            # 2,800 counties; rewrites its section of docs/benchmarks.md
    .venv/bin/python bench/counties.py --quick    # 300 counties
    .venv/bin/python bench/counties.py --no-docs  # prints only

One embedded PostgreSQL (durable settings), migrated by `shuping migrate`;
then, in this one process and its one database connection:

* create counties #1..#N with `tenants.provisioning.create_county` (the
  template's DDL replayed), timing each; the figure at #k is the median of
  the creates #k-8..#k (one create is noisy on a shared machine), and the
  medians of the first and the last 100 creates are compared too;
* the PostgreSQL backend of that connection: RSS and PSS (psutil) after 5
  creates and after 500 (or N when smaller);
* `shuping migrate` with nothing to do, as a person runs it (a new process,
  Django start-up included; median of --migrate-rounds) and `migrate_all()` alone in this
  process, at 100 counties and at N; with --baseline DIR, the same command
  from another checkout's code alternately with ours (before/after);
* a page read (`GET /zhenggai/`, no login, reads a projection) of county #1
  and of county #N, alternating, median of 100 each;
* a real one-column migration (tests/migration_extra, enabled by its settings
  as the tests enable it) over all N counties by `shuping migrate --jobs J` as
  a new process, J = 1 and 2, through the kept migrate machinery
  (tenants.migrate_shared) and the old path (SHUPING_MIGRATE_SHARED=0)
  alternately; the counties are put back before each run (column, migration
  row, recorded state), the template keeps the migration;
* for comparison, a few counties created the old way (django-tenants' clone
  and faked migrate) at N.

Goals (issue 17): create at #N within 1.5x of #10 and under 0.3 s; the
connection's memory after 500 creates no more than after 5; nothing-to-do
migrate at N within 1.5x of 100; read #N / #1 <= 1.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / "platform"), str(Path(__file__).resolve().parent.parent)]
os.environ.setdefault("SHUPING_DEBUG", "1")

from _common import close_django, command_line, free_port, machine, say, write_section  # noqa: E402
from county_pair import side_by_side  # noqa: E402

MARKS = (10, 100, 1_000, 2_800)
WINDOW = 9
SPAN = 100


def slug(index: int) -> str:
    return f"c{index:05d}"


def backend_memory(pid: int) -> tuple[float, float, float, float]:
    """RSS and PSS (psutil), private anonymous memory (RssAnon) and memory contexts of one backend, in MB.

    RSS and PSS count the pages of shared buffers the backend has touched
    (they grow with what it reads, and are not its own); RssAnon and the
    memory contexts (pg_backend_memory_contexts) are what it holds alone,
    e.g. its catalog caches.
    """
    import psutil
    from django.db import connection

    info = psutil.Process(pid).memory_full_info()
    anon = next(
        int(line.split()[1]) * 1024
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("RssAnon:")
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT sum(total_bytes) FROM pg_backend_memory_contexts")
        (contexts,) = cursor.fetchone()
    return info.rss / 2**20, info.pss / 2**20, anon / 2**20, int(contexts) / 2**20


def migrate_cli(env: dict[str, str], source: str | None = None) -> float:
    """Seconds of `shuping migrate` in a new process; `source`: another checkout's code (PYTHONPATH) instead of ours."""
    root = Path(source).resolve() if source else Path(__file__).resolve().parent.parent
    # From the checkout's root: `python -m` puts the working directory first on sys.path.
    env = dict(env, PYTHONPATH=f"{root / 'platform'}{os.pathsep}{root}")
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "shuping.cli", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL, cwd=root)
    return time.perf_counter() - started


def migrate_side_by_side(env: dict[str, str], baseline: str | None, rounds: int = 3) -> tuple[float, float | None]:
    """Median seconds of a nothing-to-do `shuping migrate`, ours and the baseline's alternately."""
    ours: list[float] = []
    theirs: list[float] = []
    for _ in range(rounds):
        ours.append(migrate_cli(env))
        if baseline:
            theirs.append(migrate_cli(env, baseline))
    return statistics.median(ours), (statistics.median(theirs) if theirs else None)


def migrate_in_process() -> float:
    from tenants.migrating import migrate_all

    started = time.perf_counter()
    counts = migrate_all()
    took = time.perf_counter() - started
    assert counts["migrated"] == counts["skipped"] == 0, counts
    return took


EXTRA_SETTINGS = "tests.migration_extra.settings"
# A created county carries the template's content types and permissions
# (tenants.template_ddl), and the migration adds none: only its column and
# its row are taken back.
UNDO_EXTRA = """
ALTER TABLE {s}.proj_meeting_board DROP COLUMN IF EXISTS extra_note;
DELETE FROM {s}.django_migrations WHERE app = 'migration_extra';
"""


def migrate_run(env: dict[str, str], *, jobs: int, shared: bool) -> tuple[float, float, float]:
    """Seconds, CPU seconds (all its processes) and the largest RSS (MB) of one `shuping migrate --jobs`.

    `os.wait4` reports this run's own process and the workers it reaped: the largest RSS is this
    run's, not the largest of every process the bench started before it.
    """
    root = Path(__file__).resolve().parent.parent
    env = dict(env, PYTHONPATH=f"{root / 'platform'}{os.pathsep}{root}", DJANGO_SETTINGS_MODULE=EXTRA_SETTINGS,
               SHUPING_MIGRATE_SHARED="1" if shared else "0")
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "shuping.cli", "migrate", "--jobs", str(jobs)], env=env,
                             stdout=subprocess.DEVNULL, cwd=root)
    _, status, usage = os.wait4(child.pid, 0)
    took = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode:
        raise subprocess.CalledProcessError(child.returncode, child.args)
    return took, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def put_back(url: str, schemas: list[str], state: str) -> None:
    """The counties as they were before the migration (the template keeps it)."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        for schema in schemas:
            db.execute(UNDO_EXTRA.format(s=f'"{schema}"').encode())
        db.execute("UPDATE tenants_county SET schema_state = %s WHERE schema_name = ANY(%s)", [state, schemas])


def real_migration(env: dict[str, str], url: str, schemas: list[str], rounds: int) -> dict[tuple[int, bool], list[tuple[float, float, float]]]:
    """A real one-column migration over every county, both paths alternately, --jobs 1 and 2."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        (state,) = db.execute("SELECT schema_state FROM tenants_county WHERE schema_name = %s", [schemas[0]]).fetchone()
    migrate_run(env, jobs=2, shared=True)  # the template and a first pass (not counted)
    runs: dict[tuple[int, bool], list[tuple[float, float, float]]] = {}
    for _ in range(rounds):
        for jobs in (1, 2):
            for shared in (False, True):
                put_back(url, schemas, state)
                runs.setdefault((jobs, shared), []).append(migrate_run(env, jobs=jobs, shared=shared))
                say(f"  real migration, --jobs {jobs}, {'shared' if shared else 'old path'}: {runs[jobs, shared][-1][0]:.1f} s")
    return runs


def connections_close() -> None:
    from django.db import connections

    connections.close_all()


def read_latency(first: str, last: str, rounds: int = 100) -> tuple[float, float]:
    """Median seconds of GET /zhenggai/ on the first and the last county, alternating."""
    from django.test import Client

    client = Client()
    times: dict[str, list[float]] = {first: [], last: []}
    for _ in range(3):  # warm: host cache, templates
        for host in times:
            client.get("/zhenggai/", HTTP_HOST=f"{host}.localhost")
    for _ in range(rounds):
        for host in times:
            started = time.perf_counter()
            answer = client.get("/zhenggai/", HTTP_HOST=f"{host}.localhost")
            times[host].append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.status_code
    return statistics.median(times[first]), statistics.median(times[last])


def old_clone(index: int) -> float:
    """One county the old way: django-tenants' clone_schema and a faked migrate_schemas."""
    from common.county import use_public_schema
    from tenants.models import County

    use_public_schema()
    started = time.perf_counter()
    County(schema_name=slug(index), name=f"旧法县{index}").save(verbosity=0)
    return time.perf_counter() - started


def run(args: argparse.Namespace) -> str:
    from shuping.embedded_pg import EmbeddedPostgres

    workdir = Path(tempfile.mkdtemp(prefix="shuping-bench-counties-"))
    server = EmbeddedPostgres(workdir / "pg", port=free_port(), throwaway=False, settings=args.pg_settings)
    began = time.perf_counter()
    load = [os.getloadavg()[0]]
    started_at = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    try:
        say(f"starting PostgreSQL (durable) in {workdir} …")
        url = server.start(log=False)
        env = dict(os.environ, DATABASE_URL=url, SHUPING_HOME=str(workdir),
                   SHUPING_SECRET_KEY=secrets.token_urlsafe(50), DJANGO_SETTINGS_MODULE="shuping.settings")
        migrate_cli(env)
        import psycopg

        from shuping.embedded_pg import APP_ROLE

        # Only to read the backend's own memory contexts; the app gets no such right in production.
        with psycopg.connect(server.admin_url(), autocommit=True) as admin:
            admin.execute(f'GRANT pg_read_all_stats TO "{APP_ROLE}"')
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="shuping.settings",
                          SHUPING_SECRET_KEY=env["SHUPING_SECRET_KEY"])
        import django

        django.setup()
        from django.db import connection

        from tenants.provisioning import create_county

        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid(), current_setting('server_version')")
            pid, version = cursor.fetchone()
        create_times: list[float] = []
        memory: dict[int, tuple[float, float]] = {}
        migrate: dict[int, tuple[float, float]] = {}
        memory_at = min(500, args.counties)
        for index in range(1, args.counties + 1):
            started = time.perf_counter()
            create_county(slug=slug(index), name=f"基准县{index}", domains=[f"{slug(index)}.localhost"])
            create_times.append(time.perf_counter() - started)
            if index in (5, memory_at):
                memory[index] = backend_memory(pid)
            if index == 100 or index == args.counties:
                cli, base = migrate_side_by_side(env, args.baseline, rounds=args.migrate_rounds)
                migrate[index] = (cli, migrate_in_process(), base)
            if index % 100 == 0:
                load.append(os.getloadavg()[0])
                say(f"  #{index}: create {statistics.median(create_times[-WINDOW:]) * 1000:.0f} ms")
        read_first, read_last = read_latency(slug(1), slug(args.counties))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('shared_buffers'), sum(pg_total_relation_size(c.oid)) / 1048576.0 "
                "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = 'pg_catalog' AND c.relkind = 'r'"
            )
            catalog = cursor.fetchone()
        connections_close()
        real = real_migration(env, url, [slug(k) for k in range(1, args.counties + 1)], args.real_rounds) if args.real_rounds else {}
        old = [old_clone(args.counties + k) for k in range(1, args.old + 1)]
        connections_close()
        pair = (side_by_side(env, slug, migrate_cli, args.counties + args.old + 1, args.pair_rounds, settings=args.pg_settings)
                if args.pair_rounds else None)
    finally:
        close_django()  # Django may not have started
        if args.keep:
            say(f"kept: DATABASE_URL={url}  (stop: pg_ctl -D {workdir / 'pg' / 'pgdata'} stop)")
        else:
            server.destroy()
    return render(
        args=args, started_at=started_at, load=load, version=version, create_times=create_times, memory=memory,
        migrate=migrate, reads=(read_first, read_last), old=old, total=time.perf_counter() - began, real=real, pair=pair,
        catalog=catalog,
    )


def filesystem(path: str) -> str:
    """The type and device of the filesystem holding `path` (the longest mount point above it)."""
    best = ("", "?", "?")
    for line in Path("/proc/mounts").read_text().splitlines():
        device, mount, kind = line.split()[:3]
        if (path + "/").startswith(mount.rstrip("/") + "/") and len(mount) >= len(best[0]):
            best = (mount, kind, device)
    return f"{best[1]} {best[2]} at {best[0]}"


def render(*, args, started_at, load, version, create_times, memory, migrate, reads, old, total, real, pair, catalog) -> str:  # type: ignore[no-untyped-def]
    n = len(create_times)
    at = {k: statistics.median(create_times[k - WINDOW:k]) for k in (*MARKS, n) if WINDOW <= k <= n}
    info = machine()
    lines = [
        "## Many counties on one PostgreSQL (`bench/counties.py`)",
        "",
        f"Run {started_at} ({'quick, ' if args.quick else ''}{n} counties, {total:.0f} s in all): `{command_line()}`",
        f"on {info['nproc']} CPUs ({info['cpu']}, {info['memory']}), PostgreSQL {version} (embedded, durable, data on "
        f"{filesystem(tempfile.gettempdir())}), "
        f"Python {info['python']}. The machine is shared: compare within a run. Load average (1 min) "
        f"during the creates: {min(load):.1f} to {max(load):.1f}{' (this process niced)' if os.nice(0) > 0 else ''}.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| PostgreSQL's shared_buffers / its catalog (pg_catalog's tables with their indexes) at {n:,} counties "
        f"| {catalog[0]} / {catalog[1]:,.0f} MB |",
    ]
    for k, seconds in sorted(at.items()):
        lines.append(f"| create county #{k:,} (median of #{k - WINDOW + 1}..#{k}) | {seconds * 1000:.0f} ms |")
    if 10 in at:
        lines.append(f"| ratio #{n:,} / #10 (goal <= 1.5, and < 300 ms) | {at[n] / at[10]:.2f} |")
    if n >= 2 * SPAN:
        early, late = statistics.median(create_times[1:SPAN + 1]), statistics.median(create_times[-SPAN:])
        lines.append(
            f"| median create of #2..#{SPAN + 1} / of the last {SPAN} | {early * 1000:.0f} / {late * 1000:.0f} ms "
            f"(ratio {late / early:.2f}) |"
        )
        lines.append(f"| slowest create after #1 (#1 dumps the template once) | {max(create_times[1:]) * 1000:.0f} ms |")
    if pair:
        few, many = (statistics.median(times) for times in pair)
        rounds = len(pair[0])
        lines.append(
            f"| side by side (bench/county_pair.py): #10..#{9 + rounds} in a second instance of 9 counties and "
            f"#{n + args.old + 2:,}.. here, created alternately, medians of {rounds} | {few * 1000:.0f} / {many * 1000:.0f} ms |"
        )
        lines.append(f"| ratio at #{n:,} / at #10, side by side (goal <= 1.5, and < 300 ms) | {many / few:.2f} |")
    if old:
        lines.append(
            f"| for comparison: django-tenants' clone + faked migrate at #{n + 1:,} (median of {len(old)}) "
            f"| {statistics.median(old) * 1000:.0f} ms |"
        )
    for k, (rss, pss, anon, contexts) in sorted(memory.items()):
        lines.append(
            f"| the creating connection's PostgreSQL backend after {k:,} creates: RSS / PSS / private (RssAnon) / memory contexts "
            f"| {rss:.1f} / {pss:.1f} / {anon:.1f} / {contexts:.1f} MB |"
        )
    for k, (cli, inproc, base) in sorted(migrate.items()):
        lines.append(f"| `shuping migrate`, nothing to do, at {k:,} counties: new process (median of {args.migrate_rounds}) / `migrate_all()` alone "
                     f"| {cli:.2f} s / {inproc * 1000:.0f} ms |")
        if base is not None:
            lines.append(f"| the same with the baseline's code (`--baseline`), alternating with ours | {base:.2f} s |")
    if 100 in migrate and n in migrate and n != 100:
        lines.append(f"| ratio at {n:,} / at 100 (goal <= 1.5): new process / `migrate_all()` | "
                     f"{migrate[n][0] / migrate[100][0]:.2f} / {migrate[n][1] / migrate[100][1]:.2f} |")
        if migrate[n][2] is not None and migrate[100][2] is not None:
            lines.append(f"| ratio at {n:,} / at 100 with the baseline's code | {migrate[n][2] / migrate[100][2]:.2f} |")
    first, last = reads
    lines.append(f"| `GET /zhenggai/` of county #1 / #{n:,} (median of 100) | {first * 1000:.1f} / {last * 1000:.1f} ms |")
    lines.append(f"| ratio #{n:,} / #1 (goal <= 1.1) | {last / first:.2f} |")
    for (jobs, shared), results in sorted(real.items()):
        took = statistics.median(r[0] for r in results)
        cpu = statistics.median(r[1] for r in results)
        rss = max(r[2] for r in results)
        path = "kept machinery" if shared else "old path (`SHUPING_MIGRATE_SHARED=0`)"
        lines.append(
            f"| real one-column migration over all {n:,} counties, `shuping migrate --jobs {jobs}`, {path} "
            f"(median of {len(results)}): in all / per county / CPU of its processes / largest RSS of one of its processes (ru_maxrss) "
            f"| {took:.1f} s / {took / n * 1000:.0f} ms / {cpu:.1f} s / {rss:.0f} MB |"
        )
    for jobs in (1, 2):
        if (jobs, True) in real and (jobs, False) in real:
            new, before = (statistics.median(r[0] for r in real[jobs, kept]) for kept in (True, False))
            lines.append(f"| ratio kept / old path at --jobs {jobs} (same run, alternating) | {new / before:.2f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="300 counties")
    parser.add_argument("--counties", type=int, default=None, help="how many (default 2,800; --quick 300)")
    parser.add_argument("--old", type=int, default=3, help="counties created the old way at the end, for comparison")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--keep", action="store_true", help="leave the PostgreSQL running with its counties")
    parser.add_argument("--migrate-rounds", type=int, default=5, help="runs of `shuping migrate` per checkout at each mark")
    parser.add_argument("--real-rounds", type=int, default=1, help="rounds of the real migration per path and --jobs (0: skip)")
    parser.add_argument("--pair-rounds", type=int, default=30,
                        help="creates at #10 (a second instance) and at #N alternately, side by side (0: skip)")
    parser.add_argument("--pg", action="append", default=[], metavar="NAME=VALUE",
                        help="a PostgreSQL setting over the embedded defaults, for every instance (e.g. shared_buffers=1GB)")
    parser.add_argument("--data-dir", help="where the PostgreSQL data folders go (default: the system's temporary folder)")
    parser.add_argument("--baseline", help="another checkout (e.g. a worktree at main): time its `shuping migrate` too, alternately")
    args = parser.parse_args()
    args.counties = args.counties or (300 if args.quick else 2_800)
    args.pg_settings = dict(item.split("=", 1) for item in args.pg)
    if args.data_dir:
        tempfile.tempdir = args.data_dir  # both instances' data folders (and the pair's)
    section = run(args)
    print()
    print(section)
    if not args.no_docs:
        write_section("counties", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
