"""The public receipt check's lookup: the scan it replaced beside the index probe, one meeting and a busy county.

Run from the repository root:

    .venv/bin/python bench/receipt_lookup.py            # rewrites its section of docs/benchmarks.md
    .venv/bin/python bench/receipt_lookup.py --no-docs  # prints only

One embedded PostgreSQL, started here and destroyed at the end. A county gets
meetings of 400 `BallotCast` events each, appended through the store (so the
inline projections, proj_receipts among them, run as at a close). At 1
meeting (400 ballots) and at `--meetings` (default 250: 100,000 ballots) the
two lookups alternate in rounds, for a receipt in the log and one that is not:

* scan: the query the check ran before (every BallotCast of the county,
  `data ->> 'receipt' = $1`; no index since meetings.0008);
* probe: `meetings.selectors.meetings_with_receipt` (proj_receipts by digest).

What both then do for a found meeting (load its state for the page) is the
same and not timed. Median ms per lookup, and the ratio scan / probe.
"""

from __future__ import annotations

import json
import os
import random
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent.parent / "platform"), str(Path(__file__).resolve().parent.parent)]
os.environ.setdefault("SHUPING_DEBUG", "1")

from _common import (  # noqa: E402
    bench_arguments,
    close_django,
    command_line,
    free_port,
    machine,
    machine_text,
    say,
    show_section,
)

COUNTY = "bench_receipts"
BALLOTS = 400
SUBJECTS = [f"s{i}" for i in range(10)]
CRITERIA = [f"c{i}" for i in range(5)]
GRADES = ["hao", "jiaohao", "yiban", "cha"]

SCAN = "SELECT DISTINCT stream_id FROM events WHERE type = %s AND data ->> %s = %s ORDER BY stream_id"


def add_meeting(number: int, rng: random.Random) -> list[str]:
    """Append a meeting's 400 ballots in one batch (as the close does); return their receipts."""
    from events.records import NO_STREAM
    from events.store import append
    from meetings.events import BallotCast

    ballots = [BallotCast(code_hash=f"{rng.getrandbits(256):064x}",
                          marks={s: {c: rng.choice(GRADES) for c in CRITERIA} for s in SUBJECTS})
               for _ in range(BALLOTS)]
    append(f"meeting-b{number}", ballots, expected_version=NO_STREAM, command_id=uuid.uuid4(), actor="host:bench")
    return [b.receipt for b in ballots]


def scan(receipt: str) -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(SCAN, ["BallotCast", "receipt", receipt])
        return [row[0].removeprefix("meeting-") for row in cursor.fetchall()]


def pages(receipt: str) -> dict[str, int]:
    """Buffers (8 kB pages) each lookup's plan touches (EXPLAIN ANALYZE BUFFERS): a figure noise does not move."""
    from django.db import connection

    from meetings.receipts_projection import receipt_digest

    queries = {"scan": (SCAN, ["BallotCast", "receipt", receipt]),
               "probe": ("SELECT stream_id FROM proj_receipts WHERE digest = %s ORDER BY stream_id",
                         [receipt_digest(receipt)])}
    touched = {}
    with connection.cursor() as cursor:
        for name, (sql, params) in queries.items():
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
            plan = plan if isinstance(plan, list) else json.loads(plan)
            top = plan[0]["Plan"]
            touched[name] = int(top.get("Shared Hit Blocks", 0)) + int(top.get("Shared Read Blocks", 0))
    return touched


def measure(receipt: str, rounds: int, per_round: int) -> dict[str, float]:
    """Median ms per lookup of each way, alternating in rounds; both must answer the same."""
    from meetings.selectors import meetings_with_receipt

    ways: dict[str, Callable[[str], list[str]]] = {"scan": scan, "probe": meetings_with_receipt}
    assert scan(receipt) == meetings_with_receipt(receipt)
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, way in ways.items():
            start = time.perf_counter()
            for _ in range(per_round):
                way(receipt)
            times[name].append((time.perf_counter() - start) * 1000 / per_round)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> int:
    parser = bench_arguments(__doc__)
    parser.add_argument("--meetings", type=int, default=250)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="shuping-bench-receipts-"))
    from shuping.embedded_pg import EmbeddedPostgres

    server = EmbeddedPostgres(workdir / "pg", port=free_port(), throwaway=False)
    try:
        say(f"starting PostgreSQL in {workdir} …")
        url = server.start(log=False)
        key = secrets.token_urlsafe(50)
        env = dict(os.environ, DATABASE_URL=url, SHUPING_HOME=str(workdir), SHUPING_SECRET_KEY=key,
                   DJANGO_SETTINGS_MODULE="shuping.settings")
        subprocess.run([sys.executable, "-m", "shuping.cli", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        os.environ.update(env)
        import django

        django.setup()
        from django.db import connection
        from django_tenants.utils import schema_context

        from tenants.provisioning import create_county

        create_county(slug=COUNTY, name="基准县", domains=["bench.localhost"])
        rng = random.Random(20261203)
        rows = []
        with schema_context(COUNTY):
            receipts = add_meeting(0, rng)
            for meetings in (1, args.meetings):
                for number in range(len(receipts) // BALLOTS, meetings):
                    receipts += add_meeting(number, rng)
                with connection.cursor() as cursor:
                    cursor.execute("ANALYZE events; ANALYZE proj_receipts")
                    cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('events')),"
                                   " pg_size_pretty(pg_total_relation_size('proj_receipts'))")
                    sizes = cursor.fetchone()
                say(f"{meetings} meeting(s), {len(receipts):,} ballots: measuring …")
                found = measure(receipts[len(receipts) // 2], args.rounds, 20 if meetings == 1 else 3)
                missing = measure(f"{rng.getrandbits(256):064x}", args.rounds, 20 if meetings == 1 else 3)
                rows.append((meetings, len(receipts), sizes, found, missing, pages(receipts[len(receipts) // 2])))
            with connection.cursor() as cursor:
                cursor.execute("SELECT version()")
                postgres = str(cursor.fetchone()[0]).split(" on ")[0]
        connection.close()
        m = machine()
        lines = [
            "## Receipt check: scan of the county's ballots vs index probe (bench/receipt_lookup.py)",
            "",
            "The public receipt check's lookup before (every BallotCast of the county, `data ->> 'receipt'`)"
            " and after (`meetings_with_receipt`: proj_receipts by the receipt's SHA-256), alternating in"
            f" {args.rounds} rounds in one run; median ms per lookup. Only the lookup is timed (loading the"
            " found meeting's state for the page is the same before and after).",
            "",
            "| meetings | ballots | events table | proj_receipts | found: scan | found: probe | scan/probe"
            " | absent: scan | absent: probe | scan/probe | pages read: scan | pages read: probe |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for meetings, ballots, sizes, found, missing, touched in rows:
            lines.append(
                f"| {meetings} | {ballots:,} | {sizes[0]} | {sizes[1]} | {found['scan']:.2f} | {found['probe']:.3f}"
                f" | {found['scan'] / found['probe']:.0f}x | {missing['scan']:.2f} | {missing['probe']:.3f}"
                f" | {missing['scan'] / missing['probe']:.0f}x | {touched['scan']:,} | {touched['probe']} |")
        lines += ["", "Pages read: 8 kB buffers the found receipt's lookup touched (EXPLAIN ANALYZE BUFFERS, the"
                  " plan's top node), a figure the machine's load does not move.",
                  "", f"Run: `{command_line()}` on {machine_text(m, kernel=False)},"
                      f" {postgres} (embedded, same machine), {datetime.now(UTC):%Y-%m-%d %H:%M} UTC,"
                      f" load average {os.getloadavg()[0]:.1f} at the end (other work shared the CPUs)."]
        section = "\n".join(lines)
        show_section("receipt_lookup", section, no_docs=args.no_docs)
        return 0
    finally:
        close_django()
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
