"""Benchmark of the year-end peak hour on one machine: many meetings voting at once across many counties.

Run from the repository root:

    .venv/bin/python bench/peak.py             # 300 meetings in 100 counties, 300 voters each; rewrites its docs section
    .venv/bin/python bench/peak.py --quick     # 20 meetings in 5 counties, 60 voters each; prints only
    .venv/bin/python bench/peak.py --profile 40  # also samples the server workers with py-spy for 40 s mid-peak

What runs, all on this machine: one embedded PostgreSQL (durable settings),
a redis-server on a free port, and the server as the hosted setup runs it
(`uvicorn shuping.asgi:application --workers 2` with the flags of
shuping.server_options and REDIS_URL, so the channel layer is Redis);
counties are created by `tenants.provisioning.create_county`, each with a
county administrator and a host (API tokens; the administrator also gets a
session for the notice desk).

1. Set-up (through the API, timed; not the peak): per county a round; per
   meeting the meeting with its roster of V representatives, the
   announcement, every voter checked in (`POST .../check-in/`, one request
   per voter: the check-in figures come from here), the meeting opened, each
   subject's report started and ended, V ballot codes issued.
2. The peak (bench/peak_load.py, in its own process(es): asyncio, a minimal
   HTTP/1.1 client for phones and hosts, httpx for the notice desk, the
   `websockets` client for screens and consoles): every meeting has a hall
   screen and a host console connected throughout. H halls (`--at-once`,
   250) run their meetings one after another, starting within a short ramp;
   a meeting's voting window is W x U(0.8, 1.2) with W = at-once x voters /
   rate, so that H meetings voting at once offer about `--rate` ballots/s.
   In a meeting: the host opens the ballot; phones open the form and cast at
   random times in the window (open loop); then the host closes the ballot
   and announces the results, ends the meeting, and the organization department publishes the
   notice. Halls' closes are staggered by their random windows.
3. Figures: sustained ballots/s (while at least 90% of H meetings vote at
   once), cast latency p50/p99 (from a ballot's due time to its answer, so
   waiting for a connection or a worker counts), screen update latency
   p50/p99 (a meeting's ballots are matched to its screen's counts by rank:
   the k-th 201 answer proves k ballots committed; latency = first frame on
   that meeting's screen showing >= k, minus that answer's arrival),
   close-to-results p50/p99 (from sending "close ballot" to the screen
   showing the announced results; the host sends "announce" as soon as the
   close is answered), notice publishing time, server / PostgreSQL / Redis
   CPU per ballot over the peak, and the load generator's own CPU
   (getrusage in its process). A plot of cast and screen latency over time is
   written to docs/peak.png.

Goal (issue 18): about 170 ballots/s with 250 meetings voting at once, cast
p99 < 200 ms and screen p99 < 250 ms on this 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    DOCS,
    REPO,
    ServerProcess,
    close_django,
    command_line,
    free_port,
    say,
    write_section,
)
from ballots_http import SUBJECTS, Phone, machine_info, pct  # noqa: E402
from live_fanout import Redis, log_errors  # noqa: E402

HERE = Path(__file__).resolve().parent


# -- processes -------------------------------------------------------------------------------------


class Server(ServerProcess):
    """uvicorn as the hosted setup starts it (shuping.server_options), several workers, one port."""

    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        from shuping.server_options import APP, server_flags

        port = free_port()
        argv = ["uvicorn", APP, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), *server_flags()]
        super().__init__(argv, port=port, env=env, log=log)

    def workers(self) -> list[int]:
        import psutil

        with contextlib.suppress(psutil.Error):
            return [p.pid for p in psutil.Process(self.proc.pid).children(recursive=True)
                    if "python" in p.name().lower() or "uvicorn" in " ".join(p.cmdline())]
        return []


class CpuSampler(threading.Thread):
    """Every second: CPU seconds of the server, PostgreSQL, Redis and the generators (process trees), and the machine's."""

    def __init__(self, roots: dict[str, int]) -> None:
        super().__init__(daemon=True)
        self.roots = dict(roots)
        self.samples: list[dict[str, float]] = []
        self.halt = threading.Event()
        self.lock = threading.Lock()

    def add(self, name: str, pid: int) -> None:
        with self.lock:
            self.roots[name] = pid

    def sample(self) -> dict[str, float]:
        import psutil

        row: dict[str, float] = {"t": time.monotonic(), "load": os.getloadavg()[0]}
        with self.lock:
            roots = dict(self.roots)
        for name, pid in roots.items():
            total = 0.0
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                for n, proc in enumerate([root, *root.children(recursive=True)]):
                    with contextlib.suppress(psutil.Error):
                        times = proc.cpu_times()
                        total += times.user + times.system
                        if n == 0:
                            # Children the root has reaped (PostgreSQL backends of closed connections):
                            # without them the tree's sum drops when a backend exits.
                            total += times.children_user + times.children_system
            row[name.split("#")[0]] = row.get(name.split("#")[0], 0.0) + total
        m = psutil.cpu_times()
        row["machine"] = m.user + m.system + m.nice + getattr(m, "irq", 0.0) + getattr(m, "softirq", 0.0)
        return row

    def run(self) -> None:
        while not self.halt.is_set():
            self.samples.append(self.sample())
            self.halt.wait(1.0)

    def between(self, start: float, end: float) -> dict[str, float]:
        """CPU seconds per part between two moments (nearest samples inside the span)."""
        inside = [s for s in self.samples if start - 0.5 <= s["t"] <= end + 0.5]
        if len(inside) < 2:
            return {}
        a, b = inside[0], inside[-1]
        # A generator that exited before the last sample is counted from its own report instead.
        return {k: b[k] - a.get(k, 0.0) for k in b if k not in ("t", "load")} | {"seconds": b["t"] - a["t"]}


# -- set-up through the API -------------------------------------------------------------------------


def plan_counties(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Counties, each with an administrator (token and session) and a host (token)."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from accounts.api_tokens import issue_token
    from accounts.models import User
    from tenants.provisioning import create_county

    made = []
    for n in range(args.counties):
        slug = f"peak{n:03d}"
        county = create_county(slug=slug, name=f"高峰县{n}", domains=[f"{slug}.localhost"])
        with schema_context(county.schema_name):
            # No usable passwords: hashing 2 x N of them would cost minutes and test nothing here.
            admin = User.objects.create_user(username="peak_admin", password=None, role="county_admin")
            host = User.objects.create_user(username="peak_host", password=None, role="host")
            made.append({
                "county": county.schema_name, "host": f"{slug}.localhost",
                "admin_token": issue_token(admin).key, "host_token": issue_token(host).key,
            })
    connection.close()
    return made


def desk_sessions(counties: list[dict[str, Any]]) -> None:
    """A notice-desk session for each county's administrator, made just before the peak.

    Sessions end after 30 idle minutes (accounts.sessions) and the full
    set-up takes longer than that on a busy machine.
    """
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django_tenants.utils import schema_context

    from accounts.models import User

    for county in counties:
        with schema_context(county["county"]):
            desk = Client(HTTP_HOST=county["host"])
            desk.force_login(User.objects.get(username="peak_admin"))
            county["session_cookie"] = settings.SESSION_COOKIE_NAME
            county["session"] = desk.cookies[settings.SESSION_COOKIE_NAME].value
    connection.close()


class Setup:
    """Meetings to the point where the host would open the ballot, through the API, many at once."""

    def __init__(self, port: int, concurrency: int) -> None:
        self.port = port
        self.concurrency = concurrency
        self.checkins: list[float] = []
        self.requests = 0

    async def post(self, phone: Phone, county: dict[str, Any], token: str, path: str, body: Any,
                   expect: int = 200) -> dict[str, Any]:
        status, data = await phone.request("POST", f"/api/{path}", json.dumps(body).encode(), host=county["host"],
                                           extra=f"Authorization: Token {token}\r\n")
        self.requests += 1
        if status != expect:
            raise RuntimeError(f"POST {path}: {status} {data[:500]!r}")
        return json.loads(data) if data else {}

    async def round_of(self, phone: Phone, county: dict[str, Any]) -> str:
        answer = await self.post(phone, county, county["admin_token"], "rounds/",
                                 {"name": "年终测评", "year": 2026, "variant": "zhi_ping_cun_guan"}, 201)
        return str(answer["round_id"])

    async def meeting(self, phone: Phone, county: dict[str, Any], round_id: str, n: int, voters: int) -> dict[str, Any]:
        starts = (datetime.now(UTC) + timedelta(days=4)).isoformat()
        roster = [{"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(voters)]
        roster += [{"member_id": f"pm{i}", "name": f"党员{i}", "category": "party_member"} for i in range(10)]
        mid = (await self.post(phone, county, county["admin_token"], "meetings/", {
            "round_id": round_id, "title": f"年终测评会{n}", "township": "柳林乡", "village": f"第{n}村",
            "starts_at": starts, "place": "村部",
            "subjects": [{"subject_id": sid, "name": name, "level": "village"} for sid, name in SUBJECTS],
            "roster": roster,
        }, 201))["meeting_id"]
        m, token = f"meetings/{mid}/", county["host_token"]
        await self.post(phone, county, token, m + "announce/",
                        {"starts_at": starts, "place": "村部", "agenda": ["述职", "测评"], "channels": ["广播"]})
        for member in roster:
            t0 = time.perf_counter()
            await self.post(phone, county, token, m + "check-in/", {"member_id": member["member_id"]})
            self.checkins.append(time.perf_counter() - t0)
        await self.post(phone, county, token, m + "open/", {})
        for sid, _name in SUBJECTS:
            await self.post(phone, county, token, m + "reports/start/", {"subject_id": sid})
            await self.post(phone, county, token, m + "reports/end/", {"subject_id": sid})
        codes = (await self.post(phone, county, token, m + "codes/", {"category": "representative", "count": voters}))
        return {"mid": mid, "codes": codes["codes"]}

    async def run(self, counties: list[dict[str, Any]], meetings: int, voters: int) -> list[dict[str, Any]]:
        phones = [Phone(self.port) for _ in range(self.concurrency)]
        rounds: dict[str, str] = {}
        for county in counties:
            rounds[county["county"]] = await self.round_of(phones[0], county)
        todo = list(range(meetings))
        made: dict[int, dict[str, Any]] = {}

        async def worker(phone: Phone) -> None:
            while todo:
                n = todo.pop(0)
                county = counties[n % len(counties)]  # meetings interleaved across counties
                made[n] = {**county, **await self.meeting(phone, county, rounds[county["county"]], n, voters)}
                if len(made) % 25 == 0:
                    say(f"  {len(made)} meetings ready")

        try:
            await asyncio.gather(*(worker(p) for p in phones))
        finally:
            for phone in phones:
                await phone.close()
        return [made[n] for n in range(meetings)]


# -- the plan of the peak ---------------------------------------------------------------------------


def make_plans(args: argparse.Namespace, meetings: list[dict[str, Any]], port: int, start_at: float) -> list[dict[str, Any]]:
    """Halls (lines of meetings run one after another), sharded over the generator processes."""
    from common import tokens

    rng = random.Random(20261203)
    window = args.at_once * args.voters / args.rate
    ramp = min(30.0, window / 8)
    lines: list[dict[str, Any]] = [{"meetings": [], "offset": rng.uniform(0, ramp)} for _ in range(args.at_once)]
    for n, meeting in enumerate(meetings):
        lines[n % args.at_once]["meetings"].append(meeting["mid"])
        meeting["slot"] = n % args.at_once
        meeting["window"] = window * rng.uniform(0.8, 1.2)
        meeting["screen_token"] = tokens.issue(county=meeting["county"], meeting_id=meeting["mid"], kind="screen")
        meeting["console_token"] = tokens.issue(county=meeting["county"], meeting_id=meeting["mid"], kind="console")
    plans = []
    for g in range(args.generators):
        mine = [line for k, line in enumerate(lines) if k % args.generators == g and line["meetings"]]
        wanted = {mid for line in mine for mid in line["meetings"]}
        plans.append({
            "port": port, "start_at": start_at, "seed": 1000 + g, "forms": not args.no_forms,
            "connections": args.connections, "host_connections": 32,
            "subjects": [sid for sid, _ in SUBJECTS], "lines": mine,
            "meetings": [m for m in meetings if m["mid"] in wanted],
        })
    return plans


def profile_workers(pids: list[int], seconds: int, folder: Path, gil: bool = False) -> list[Path]:
    """py-spy on each server worker for `seconds` (non-blocking sampling, 100 Hz): collapsed stacks.

    With `gil`, only the thread holding the GIL is sampled: Python's own CPU,
    without the threads that wait in psycopg or a socket (which py-spy's idle
    heuristic counts as running).
    """
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    procs, outs = [], []
    for pid in pids:
        out = folder / f"profile-{pid}.txt"
        procs.append(subprocess.Popen([spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100",
                                       "--nonblocking", "--full-filenames", "--format", "raw", "--output", str(out),
                                       *(["--gil"] if gil else [])],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        outs.append(out)
    for proc in procs:
        proc.wait(timeout=seconds + 120)
    return [out for out in outs if out.exists()]


# -- main ---------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    from peak_report import Run, analyse, render

    began = time.perf_counter()
    started = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    workdir = Path(tempfile.mkdtemp(prefix="shuping-bench-peak-"))
    from shuping.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(workdir / "pg", port=free_port(), throwaway=False)
    server: Server | None = None
    redis: Any = None  # live_fanout.Redis (TCP) or infra.topology.RedisServer (--redis-socket)
    sampler: CpuSampler | None = None
    generators: list[subprocess.Popen[bytes]] = []
    try:
        say(f"starting PostgreSQL (durable) in {workdir} …")
        url = pg.start(log=False)
        key = secrets.token_urlsafe(50)
        redis_binary = shutil.which("redis-server")
        if redis_binary is None:
            raise SystemExit("bench/peak.py needs redis-server (the hosted setup's channel layer)")
        if args.redis_socket:  # as infra's one-machine deployment runs it (infra.topology)
            sys.path.insert(0, str(REPO))  # infra is a package at the repository's root
            from infra.topology import RedisServer

            redis = RedisServer(folder=workdir / "redis")
        else:
            redis = Redis(redis_binary, workdir / "redis")
        env = dict(os.environ, DATABASE_URL=url, SHUPING_HOME=str(workdir), SHUPING_SECRET_KEY=key,
                   DJANGO_SETTINGS_MODULE="shuping.settings", PYTHONUNBUFFERED="1", REDIS_URL=redis.url)
        env.pop("SHUPING_DEBUG", None)
        subprocess.run([sys.executable, "-m", "shuping.cli", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="shuping.settings", SHUPING_SECRET_KEY=key)
        os.environ.pop("REDIS_URL", None)
        import django

        django.setup()
        t0 = time.perf_counter()
        counties = plan_counties(args)
        county_seconds = time.perf_counter() - t0
        say(f"{len(counties)} counties with an administrator and a host in {county_seconds:.1f} s")
        info = machine_info(url)
        info["redis"] = Redis.version(redis)  # type: ignore[arg-type]
        server = Server(env, args.workers, workdir / "uvicorn.log")
        server.wait_ready(counties[0]["host"], timeout=90)
        say(f"server: {' '.join(server.argv)} (REDIS_URL {redis.url})")

        setup = Setup(server.port, args.setup_concurrency)
        t0 = time.perf_counter()
        meetings = asyncio.run(setup.run(counties, args.meetings, args.voters))
        setup_seconds = time.perf_counter() - t0
        say(f"{len(meetings)} meetings ready in {setup_seconds:.0f} s ({setup.requests:,} requests, "
            f"{len(setup.checkins):,} check-ins: p50 {pct(setup.checkins, 50) * 1000:.0f} ms, "
            f"p99 {pct(setup.checkins, 99) * 1000:.0f} ms)")

        desk_sessions(counties)
        for meeting in meetings:
            meeting.update(next(c for c in counties if c["county"] == meeting["county"]))
        roots = {"server": server.proc.pid, "redis": redis.proc.pid}
        postmaster = pg.running_server()
        if postmaster is not None:
            roots["postgres"] = postmaster.pid
        sampler = CpuSampler(roots)
        sampler.start()
        sockets = 2 * len(meetings)
        start_at = time.monotonic() + 10 + sockets / 20
        plans = make_plans(args, meetings, server.port, start_at)
        outs = []
        for g, plan in enumerate(plans):
            plan_path, out = workdir / f"plan-{g}.json", workdir / f"out-{g}.json"
            plan_path.write_text(json.dumps(plan), encoding="utf-8")
            outs.append(out)
            generators.append(subprocess.Popen([sys.executable, str(HERE / "peak_load.py"), str(plan_path), str(out)],
                                               cwd=REPO))
            sampler.add(f"generator#{g}", generators[-1].pid)
        window = args.at_once * args.voters / args.rate
        say(f"peak: {len(meetings)} meetings in {len(counties)} counties, {args.at_once} halls at once, "
            f"{args.voters} voters each, voting windows ~{window:.0f} s (offered ~{args.rate:g} ballots/s), "
            f"{len(plans)} generator process(es), {sockets} websockets …")
        profiles: list[Path] = []
        if args.profile:
            at = start_at + (min(window * 0.5, 60) if args.profile_from is None else args.profile_from)
            time.sleep(max(0.0, at - time.monotonic()))
            say(f"  py-spy on the server workers for {args.profile} s …")
            profiles = profile_workers(server.workers(), args.profile, workdir, gil=args.profile_gil)
        for proc in generators:
            proc.wait()
        sampler.halt.set()
        sampler.join()
        failed = [p.returncode for p in generators if p.returncode]
        if failed:
            raise RuntimeError(f"a load generator failed: {failed}")
        results = [json.loads(out.read_text(encoding="utf-8")) for out in outs]
        log = server.output()
        peak = Run(
            started=started, command=command_line(), args=vars(args), machine=info, counties=len(counties),
            county_seconds=county_seconds, setup_seconds=setup_seconds, setup_requests=setup.requests,
            checkins=setup.checkins, results=results, samples=sampler.samples, window=window,
            server_argv=" ".join(server.argv), tracebacks=log.count("Traceback"), log_tail=log[-2000:],
            log_errors=[f"`{line[:160]}` x {n}" for line, n in log_errors(log).most_common(5)],
            profiles=[p.read_text(encoding="utf-8", errors="replace") for p in profiles],
        )
        figures = analyse(peak)
        peak.total_seconds = time.perf_counter() - began
        plot = None if args.no_docs else REPO / "docs" / "peak.png"
        section = render(peak, figures, plot)
        print()
        print(section)
        if not args.no_docs:
            write_section("peak", section)
            say(f"\nwritten to {DOCS.relative_to(REPO)} and {plot.relative_to(REPO) if plot else ''}")
        return 1 if figures["problems"] else 0
    finally:
        for proc in generators:
            if proc.poll() is None:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
        if sampler is not None:
            sampler.halt.set()
        if server is not None:
            server.stop()
        if redis is not None:
            redis.stop()
        close_django()
        pg.destroy()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="20 meetings in 5 counties, 60 voters, 16 at once, 30 ballots/s; implies --no-docs")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/ alone")
    parser.add_argument("--counties", type=int, default=100)
    parser.add_argument("--meetings", type=int, default=300)
    parser.add_argument("--voters", type=int, default=300, help="voters (codes) per meeting")
    parser.add_argument("--at-once", type=int, default=250, help="halls voting at the same time")
    parser.add_argument("--rate", type=float, default=170.0, help="ballots/s offered while all halls vote")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--generators", type=int, default=1, help="load generator processes")
    parser.add_argument("--connections", type=int, default=128, help="phones' keep-alive connections per generator")
    parser.add_argument("--setup-concurrency", type=int, default=24, help="meetings set up at once")
    parser.add_argument("--no-forms", action="store_true", help="phones cast without opening the form first")
    parser.add_argument("--profile", type=int, default=0, metavar="SECONDS",
                        help="py-spy the server workers for SECONDS in the middle of the peak")
    parser.add_argument("--redis-socket", action="store_true",
                        help="Redis on a unix socket (as infra/topology.py runs it) instead of TCP on 127.0.0.1")
    parser.add_argument("--profile-from", type=float, default=None, metavar="SECONDS",
                        help="with --profile: start sampling this many seconds after the peak began "
                             "(default: the middle of a voting window, at most 60 s; 0 samples the ramp)")
    parser.add_argument("--profile-gil", action="store_true",
                        help="with --profile: sample only the thread holding the GIL (Python's CPU, no waits)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, plans, raw results)")
    args = parser.parse_args(argv)
    if args.quick:
        args.counties, args.meetings, args.voters, args.at_once, args.rate = 5, 20, 60, 16, 30.0
        args.no_docs = True
    if args.meetings < args.at_once:
        parser.error("--meetings must be at least --at-once")
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
