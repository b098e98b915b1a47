"""Benchmark of the event store against a raw floor and the `eventsourcing` library.

Run from the repository root (or with `make bench`):

    .venv/bin/python bench/event_store.py            # full run, rewrites docs/benchmarks.md
    .venv/bin/python bench/event_store.py --quick    # 1/10 of the work, prints only

Everything runs in ONE process against ONE embedded PostgreSQL started here
with durable settings (fsync and synchronous_commit on, as in production) and
destroyed at the end, whatever happens:

1. appends of ballot-sized events (~2 kB), one ballot per transaction, with 1
   and with 16 concurrent writers, each writer on a meeting stream of its own:
   our store (`events.store.append`, with hash chain, idempotency record and
   the inline `meeting_board` projection), the raw floor (psycopg, one
   autocommit INSERT of the same row into a plain table), and the
   `eventsourcing` library's PostgreSQL recorders; configurations alternate
   and each figure is the median of several rounds;
2. rebuilds of a 150,000-event county log (`meeting_board`, `log_index`)
   beside a raw read of the same rows;
3. offline verification of an exported 10,000-event meeting log beside a raw
   read (json parse) of the same file.

The docs section between `<!-- bench:event_store:start -->` and
`<!-- bench:event_store:end -->` in docs/benchmarks.md is rewritten with the
figures of the run (not with --quick / --no-docs).

The parts live beside this file: event_store_data.py (counties, events,
results), event_store_appends.py (1-3), event_store_log.py (4 and 5) and
event_store_report.py (the docs section).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    bench_arguments,
    close_django,
    command_line,
    free_port,
    machine,
    say,
    show_section,
)
from event_store_appends import appends, breakdown  # noqa: E402
from event_store_data import COUNTY, RECORD_COUNTY, STATEMENTS_COUNTY, Bench, Results, ballot_json  # noqa: E402
from event_store_log import rebuild, verify  # noqa: E402
from event_store_report import render  # noqa: E402

# -- main ----------------------------------------------------------------------------------------------


def machine_info(bench: Bench) -> dict[str, str]:
    from importlib.metadata import version

    import django
    import psycopg

    return {
        **machine(),
        "psycopg": psycopg.__version__,
        "django": django.get_version(),
        "eventsourcing": version("eventsourcing"),
        "postgres": str(bench.sql("SELECT version()")[0][0]),
        "settings": ", ".join(
            f"{name}={bench.sql(f'SHOW {name}')[0][0]}"
            for name in ("fsync", "synchronous_commit", "wal_sync_method", "full_page_writes", "shared_buffers")
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = bench_arguments(__doc__, quick="1/10 of the work; implies --no-docs")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("appends", "rebuild", "verify", "rebuild+verify"),
                        help="run only these sections (prints only; leaves docs/benchmarks.md alone)")
    parser.add_argument("--impls", default="ours,stmts,raw,es_app,es_agg",
                        help="with --only appends: which implementations (comma-separated)")
    parser.add_argument("--writers", default="16,1", help="with --only appends: writer counts (comma-separated)")
    args = parser.parse_args(argv)
    args.impls = args.impls.split(",")
    args.writers = [int(w) for w in args.writers.split(",")]
    if not args.only and (args.impls != "ours,stmts,raw,es_app,es_agg".split(",") or args.writers != [16, 1]):
        parser.error("--impls and --writers go with --only appends (the docs need every row)")
    if args.only:
        args.no_docs = True
    scale = 10 if args.quick else 1
    args.single = 1500 // scale
    args.per_writer = 300 // scale
    args.breakdown = 500 // scale
    args.log_streams = 150 // scale
    args.log_per_stream = 1000
    args.verify_events = 10_000 // scale
    if args.quick:
        args.rounds = min(args.rounds, 2)
        args.no_docs = True

    results = Results(
        started=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        command=command_line(),
        ballot_bytes=len(ballot_json("meeting-x", 0).encode("utf-8")),
    )
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="shuping-bench-"))
    from shuping.embedded_pg import EmbeddedPostgres

    server = EmbeddedPostgres(workdir / "pg", port=free_port(), throwaway=False)
    bench: Bench | None = None
    try:
        say(f"starting PostgreSQL (durable) in {workdir} …")
        url = server.start(log=False)
        env = dict(os.environ, DATABASE_URL=url, SHUPING_HOME=str(workdir),
                   SHUPING_SECRET_KEY=secrets.token_urlsafe(50), DJANGO_SETTINGS_MODULE="shuping.settings")
        subprocess.run([sys.executable, "-m", "shuping.cli", "migrate"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="shuping.settings",
                          SHUPING_SECRET_KEY=env["SHUPING_SECRET_KEY"])
        import django

        django.setup()
        from django.db import connection

        from tenants.provisioning import create_county

        create_county(slug=COUNTY, name="基准县", domains=["bench.localhost"])
        create_county(slug=RECORD_COUNTY, name="基准县（录制）", domains=["benchrec.localhost"])
        create_county(slug=STATEMENTS_COUNTY, name="基准县（语句）", domains=["benchstm.localhost"])
        connection.close()
        bench = Bench(args, url, results, superuser_url=server.admin_url())
        results.machine = machine_info(bench)
        say(f"PostgreSQL: {results.machine['postgres']}\n  {results.machine['settings']}")
        if args.only == "appends":
            say(f"1-3. appends ({args.rounds} rounds; ballot {results.ballot_bytes} bytes)")
            appends(bench)
            return 1 if results.problems else 0
        if not args.only:
            say(f"1-3. appends ({args.rounds} rounds; ballot {results.ballot_bytes} bytes)")
            appends(bench)
            say("     breakdown of one append")
            breakdown(bench)
        if args.only != "verify":
            say("4. rebuild")
            rebuild(bench)
        if args.only != "rebuild":
            say("5. offline verify")
            verify(bench, workdir)
        results.total_seconds = time.perf_counter() - began
        if args.only:
            return 1 if results.problems else 0
        section = render(results)
        show_section("event_store", section, no_docs=args.no_docs)
        return 1 if results.problems else 0
    finally:
        if bench is not None:
            with contextlib.suppress(Exception):
                bench.admin.close()
        close_django()
        server.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
