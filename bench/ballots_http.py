"""Benchmark of ballot casting over HTTP, end to end, beside a raw PostgreSQL floor.

Run from the repository root:

    .venv/bin/python bench/ballots_http.py            # full run, rewrites docs/benchmarks.md
    .venv/bin/python bench/ballots_http.py --quick    # small, prints only

Everything runs against ONE embedded PostgreSQL started here with durable
settings (fsync and synchronous_commit on) and destroyed at the end:

1. the ASGI server (`uvicorn shuping.asgi:application`, --workers N) is started
   on a county; M meetings are set up through the API up to an open ballot,
   each with two batches of V ballot codes (one for the peak run, one for the
   paced run);
   HTTP stack ceiling: the same C clients send `GET /healthz` (closed loop),
   as many requests as the peak sends ballots: what the server stack answers
   at most on this machine for a request that does next to nothing;
2. peak: C concurrent HTTP clients (closed loop: each sends its next ballot as
   soon as the previous one is answered) cast the first batch of every meeting,
   interleaved across the meetings: ballots/s, p50/p99 latency;
3. paced: the second batch is sent open loop at 50% of the measured peak rate
   (each request leaves at its scheduled time whatever the others do; latency
   is counted from the scheduled time, so queueing is included);
4. raw floor: plain psycopg INSERTs of the same ballot rows into a table shaped
   like `meetings_ballot_box`, one per autocommit transaction, 16 writer
   threads with one connection each.

Goal (stated, checked, reported): HTTP peak >= 0.5 x the raw 16-writer floor,
and p99 < 100 ms at half the peak rate.

The load generator runs on the same CPUs as the server and PostgreSQL, so it
is kept cheap: a minimal HTTP/1.1 client on asyncio streams, one keep-alive
connection per client (`--client httpx` uses httpx instead, which costs
several times the CPU per request). Each phase also reports the CPU that the
server, PostgreSQL, the generator and the whole machine used.

The docs section between `<!-- bench:ballots_http:start -->` and
`<!-- bench:ballots_http:end -->` in docs/benchmarks.md is rewritten with the
figures of the run (not with --quick / --no-docs).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib.util
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ballots_http_load  # noqa: E402
from _common import (  # noqa: E402
    ServerProcess,
    bench_arguments,
    close_django,
    command_line,
    free_port,
    machine,
    say,
    show_section,
)
from ballots_http_load import (  # noqa: E402
    HOST,
    RAW_WRITERS,
    SUBJECTS,
    Phase,
    Phone,  # noqa: F401  # bench/peak.py, peak_load.py and login_flood.py import it from here
    ceiling_loop,
    closed_loop,
    interleave,
    open_loop,
    pct,  # noqa: F401  # bench/peak.py, peak_report.py and live_fanout_*.py import it from here
    raw_floor,
)
from ballots_http_report import Results, render  # noqa: E402

COUNTY = "benchhttp"


# -- the server and the API ------------------------------------------------------------------


class Server(ServerProcess):
    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        port = free_port()
        argv = [
            "uvicorn", "shuping.asgi:application", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--lifespan", "off", "--log-level", "info", "--no-access-log",
        ]
        super().__init__(argv, port=port, env=env, log=log)

    def wait_ready(self, host: str = HOST, timeout: float = 60) -> None:
        super().wait_ready(host, timeout)


class Api:
    def __init__(self, port: int, token: str) -> None:
        import httpx

        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/api/", timeout=120,
            headers={"Host": HOST, "Authorization": f"Token {token}"},
        )

    def post(self, path: str, body: Any = None, expect: int = 200) -> dict[str, Any]:
        response = self.client.post(path, json=body if body is not None else {})
        if response.status_code != expect:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:1000]}")
        return response.json()


def setup_meetings(admin: Api, chair: Api, meetings: int, voters: int) -> list[tuple[str, list[str], list[str]]]:
    """Meetings up to an open ballot; each with two batches of `voters` codes."""
    round_id = admin.post("rounds/", {"name": "基准测试", "year": 2026, "variant": "zhi_ping_cun_guan"}, 201)["round_id"]
    starts = (datetime.now(UTC) + timedelta(days=4)).isoformat()
    made = []
    for n in range(meetings):
        mid = admin.post("meetings/", {
            "round_id": round_id, "title": f"基准测试会{n}", "township": "柳林乡", "village": f"第{n}村",
            "starts_at": starts, "place": "村部",
            "subjects": [{"subject_id": sid, "name": name, "level": "village"} for sid, name in SUBJECTS],
            # A roster member for every code: codes stop at the category's roster (meetings.domain.counts).
            "roster": [{"member_id": f"pm{i}", "name": f"党员{i}", "category": "party_member"}
                       for i in range(max(10, voters))]
            + [{"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(max(30, voters))],
        }, 201)["meeting_id"]
        m = f"meetings/{mid}/"
        chair.post(m + "announce/", {"starts_at": starts, "place": "村部", "agenda": ["述职", "测评"], "channels": ["广播"]})
        chair.post(m + "quorum-override/", {"reason": "基准测试"})
        chair.post(m + "open/")
        for sid, _name in SUBJECTS:
            chair.post(m + "reports/start/", {"subject_id": sid})
            chair.post(m + "reports/end/", {"subject_id": sid})
        first = chair.post(m + "codes/", {"category": "representative", "count": voters})["codes"]
        second = chair.post(m + "codes/", {"category": "party_member", "count": voters})["codes"]
        chair.post(m + "ballot/open/")
        made.append((mid, first, second))
    return made


# -- where the CPU goes -------------------------------------------------------------------------


class CpuMeter:
    """CPU seconds of the server's processes, PostgreSQL's, this process's and the whole machine's.

    The machine is shared (server, PostgreSQL, load generator, and whatever
    else runs on it), so a rate alone does not say how much of the CPUs a run
    got; this says it, and what a ballot costs in CPU on each side.
    """

    def __init__(self, server_pid: int, pgdata: Path) -> None:
        self.server_pid = server_pid
        self.pgdata = pgdata

    def _tree(self, pid: int) -> list[Any]:
        import psutil

        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            return [root, *root.children(recursive=True)]
        return []

    def _seconds(self, processes: list[Any]) -> float:
        """CPU of `processes`, and of the children the first one has reaped (closed connections)."""
        import psutil

        total = 0.0
        for n, process in enumerate(processes):
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
                if n == 0:
                    total += times.children_user + times.children_system
        return total

    def snapshot(self) -> dict[str, float]:
        import psutil

        postmaster = 0
        with contextlib.suppress(OSError, ValueError, IndexError):
            postmaster = int((self.pgdata / "postmaster.pid").read_text().split()[0])
        machine = psutil.cpu_times()
        return {
            "wall": time.perf_counter(),
            "server": self._seconds(self._tree(self.server_pid)),
            "postgres": self._seconds(self._tree(postmaster)) if postmaster else 0.0,
            "generator": self._seconds([psutil.Process()]),
            "machine": machine.user + machine.system + machine.nice + getattr(machine, "irq", 0.0)
            + getattr(machine, "softirq", 0.0),
        }

    @staticmethod
    def cores(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        """Average cores busy per part between two snapshots."""
        wall = after["wall"] - before["wall"]
        return {k: (after[k] - before[k]) / wall for k in ("server", "postgres", "generator", "machine")} if wall else {}


def machine_info(url: str) -> dict[str, str]:
    from importlib.metadata import version

    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        pg = str(conn.execute("SELECT version()").fetchone()[0])  # type: ignore[index]
        settings = ", ".join(
            f"{name}={conn.execute(f'SHOW {name}').fetchone()[0]}"  # type: ignore[index]
            for name in ("fsync", "synchronous_commit", "max_connections", "shared_buffers")
        )
    # What uvicorn's defaults (--loop auto, --http auto) pick in this environment.
    loop = f"uvloop {version('uvloop')}" if importlib.util.find_spec("uvloop") else "asyncio"
    http = f"httptools {version('httptools')}" if importlib.util.find_spec("httptools") else f"h11 {version('h11')}"
    return {
        **machine(), "uvicorn": version("uvicorn"), "django": version("django"),
        "postgres": pg.split(" on ")[0], "settings": settings, "loop": loop, "http": http,
    }


def main(argv: list[str] | None = None) -> int:
    parser = bench_arguments(__doc__, quick="2 meetings x 60 voters; implies --no-docs")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="uvicorn worker processes")
    parser.add_argument("--meetings", type=int, default=8)
    parser.add_argument("--voters", type=int, default=300, help="voters per meeting and phase")
    parser.add_argument("--clients", type=int, default=64, help="concurrent HTTP clients at peak")
    parser.add_argument("--client", choices=("lean", "httpx"), default="lean",
                        help="load generator's HTTP client (default: a minimal one on asyncio streams)")
    args = parser.parse_args(argv)
    ballots_http_load.CLIENT = args.client
    if args.quick:
        args.meetings, args.voters, args.clients, args.no_docs = 2, 60, 32, True

    results = Results(
        started=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        command=command_line(),
        workers=args.workers, meetings=args.meetings, voters=args.voters, clients=args.clients,
    )
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="shuping-bench-http-"))
    from shuping.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(workdir / "pg", port=free_port(), throwaway=False)
    server: Server | None = None
    try:
        say(f"starting PostgreSQL (durable) in {workdir} …")
        url = pg.start(log=False)
        env = dict(os.environ, DATABASE_URL=url, SHUPING_HOME=str(workdir),
                   SHUPING_SECRET_KEY=secrets.token_urlsafe(50), DJANGO_SETTINGS_MODULE="shuping.settings")
        env.pop("SHUPING_DEBUG", None)
        subprocess.run([sys.executable, "-m", "shuping.cli", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="shuping.settings",
                          SHUPING_SECRET_KEY=env["SHUPING_SECRET_KEY"])
        import django

        django.setup()
        from django.db import connection
        from django_tenants.utils import schema_context

        from accounts.api_tokens import issue_token
        from accounts.models import User
        from tenants.provisioning import create_county

        county = create_county(slug=COUNTY, name="基准县（投票）", domains=[HOST])
        tokens = {}
        with schema_context(county.schema_name):
            for role in ("county_admin", "host"):
                user = User.objects.create_user(username=f"bench_{role}", password=secrets.token_urlsafe(12), role=role)
                tokens[role] = issue_token(user).key
        connection.close()
        results.machine = machine_info(url)
        say(f"PostgreSQL: {results.machine['postgres']}\n  {results.machine['settings']}")

        server = Server(env, args.workers, workdir / "uvicorn.log")
        server.wait_ready()
        say(f"server: uvicorn, {args.workers} workers, port {server.port}")
        t0 = time.perf_counter()
        made = setup_meetings(Api(server.port, tokens["county_admin"]), Api(server.port, tokens["host"]),
                              args.meetings, args.voters)
        say(f"set up {args.meetings} meetings x 2 x {args.voters} codes through the API in {time.perf_counter() - t0:.1f} s")
        rng = random.Random(20261201)
        first = interleave([(mid, a) for mid, a, _ in made], rng)
        second = interleave([(mid, b) for mid, _, b in made], rng)

        meter = CpuMeter(server.proc.pid, pg.pgdata)

        def measured(run: Any) -> Phase:
            before = meter.snapshot()
            phase: Phase = run()
            phase.cpu = CpuMeter.cores(before, meter.snapshot())
            return phase

        def cpu_line(phase: Phase, unit: str) -> str:
            if not phase.cpu or not phase.rate:
                return ""
            return "  CPU: " + ", ".join(
                f"{part} {phase.cpu[part]:.2f} cores ({phase.cpu[part] / phase.rate * 1000:.2f} ms/{unit})"
                for part in ("server", "postgres", "generator")
            ) + f"; whole machine {phase.cpu['machine']:.2f} of {os.cpu_count()}"

        # Warm up: every server thread opens its database connection before
        # anything is measured.
        asyncio.run(ceiling_loop(server.port, max(200, 4 * args.clients), args.clients))
        say(f"HTTP stack ceiling: {len(first)} x GET /healthz, {args.clients} concurrent clients …")
        results.ceiling = measured(lambda: asyncio.run(ceiling_loop(server.port, len(first), args.clients)))
        say(f"  {results.ceiling.rate:,.0f} req/s, p50 {results.ceiling.ms(50):.1f} ms, "
            f"p99 {results.ceiling.ms(99):.1f} ms, {dict(results.ceiling.statuses)}")
        say(cpu_line(results.ceiling, "request"))
        say(f"peak: {len(first)} ballots, {args.clients} concurrent clients …")
        results.peak = measured(lambda: asyncio.run(closed_loop(server.port, first, args.clients)))
        say(f"  {results.peak.rate:,.0f} ballots/s, p50 {results.peak.ms(50):.1f} ms, p99 {results.peak.ms(99):.1f} ms, "
            f"{dict(results.peak.statuses)}")
        say(cpu_line(results.peak, "ballot"))
        rate = results.peak.rate / 2
        say(f"paced: {len(second)} ballots open loop at {rate:,.0f}/s …")
        results.paced = measured(lambda: asyncio.run(open_loop(server.port, second, rate, args.clients)))
        say(f"  {results.paced.rate:,.0f} ballots/s, p50 {results.paced.ms(50):.1f} ms, p99 {results.paced.ms(99):.1f} ms, "
            f"{dict(results.paced.statuses)}")
        say(f"raw floor: {len(first)} INSERTs, {RAW_WRITERS} writers …")
        results.raw = measured(lambda: raw_floor(url, first))
        say(f"  {results.raw.rate:,.0f} rows/s, p50 {results.raw.ms(50):.1f} ms, p99 {results.raw.ms(99):.1f} ms")
        say(cpu_line(results.raw, "row"))

        if results.ceiling.statuses[200] != len(first) or results.ceiling.failures:
            results.problems.append(
                f"ceiling: {results.ceiling.statuses[200]} of {len(first)} health probes answered 200 "
                f"({dict(results.ceiling.statuses)}, transport errors {results.ceiling.failures})"
            )
        for phase in (results.peak, results.paced):
            expected = len(first) if phase is results.peak else len(second)
            if phase.statuses[201] != expected or phase.failures:
                results.problems.append(
                    f"{phase.name}: {phase.statuses[201]} of {expected} ballots answered 201 "
                    f"({dict(phase.statuses)}, transport errors {phase.failures})"
                )
        with schema_context(county.schema_name), connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM meetings_ballot_box")
            sealed = cursor.fetchone()[0]
        connection.close()
        if sealed != len(first) + len(second):
            results.problems.append(f"{sealed} ballots sealed, {len(first) + len(second)} expected")
        log = server.output()
        if "Traceback" in log or "died" in log:
            results.problems.append("the server log shows errors or restarted workers (see uvicorn.log)")

        results.total_seconds = time.perf_counter() - began
        section = render(results)
        show_section("ballots_http", section, no_docs=args.no_docs)
        return 1 if results.problems else 0
    finally:
        if server is not None:
            server.stop()
        close_django()
        pg.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
