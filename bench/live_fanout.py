"""Benchmark of the live hall: from a ballot's HTTP answer to its count on every hall screen.

Run from the repository root:

    .venv/bin/python bench/live_fanout.py              # full run, rewrites its docs section
    .venv/bin/python bench/live_fanout.py --quick      # 20 screens, 50 ballots, prints only
    .venv/bin/python bench/live_fanout.py --redis      # Redis channel layer, 2 uvicorn workers

What runs (one embedded PostgreSQL with durable settings, destroyed at the end):

1. `uvicorn shuping.asgi:application` (1 worker by default: the in-memory
   channel layer lives in one process; with `--redis` a `redis-server` is
   started on a free port of 127.0.0.1, REDIS_URL points the server at it and
   2 workers share the screens and the ballots), on a county with a
   `.localhost` host;
2. one meeting is taken to an open ballot through the API (check-ins, open,
   reports, codes, ballot open), as a hall does;
3. S hall screens (200) subscribe to `/ws/m/<meeting>/screen/?t=<token>`, all
   in this one asyncio process, with tokens signed by the server's key (the
   same SHUPING_SECRET_KEY is given to the server and to this process). Each
   screen records (arrival time, cast count) of every `snapshot`
   (turnout.cast) and `turnout` (cast) message;
4. the phones open their ballot forms (`POST /api/v/<meeting>/form/`, one
   per code, C at a time), as voters do when they scan their QR slips; not
   measured, and it changes nothing (so the burst does not meet a cold HTTP
   thread pool that opens its database connections during the first ballots);
5. a burst of B ballots (300) is cast over HTTP by C concurrent clients
   (closed loop: each sends its next ballot as soon as the previous one is
   answered), recording the time each 201 answer arrived; then (full run) a
   paced phase casts 100 more open loop at 5 ballots/s (a hall of 300 voting
   in a minute), for comparison. After each phase the screens get up to 30 s
   to show the final count.

The latency measured, and why it is fair. Counts are interchangeable: a
screen shows "how many ballots were cast", not which. So ballots are matched
to counts by rank: sort the 201 answers by arrival; the k-th answer (rank k)
proves that at least k ballots are committed (each answer comes after its own
commit). A screen is up to date with that ballot once it shows a count
>= base + k (base: the count before the phase). The latency of ballot k on
screen s is

    (first arrival on s of a message with cast >= base + k) - (arrival of the k-th answer)

over all ballots and all screens (B x S values): p50/p90/p99/max. Nothing is
clamped: the server publishes the count right after the commit, before the
HTTP answer is written, so a screen can legitimately show a count before the
answer reaches its client; such negative values are counted and reported. A
ballot a screen never caught up with within the settle time is "missing" and
counts as infinitely late in the percentiles (shown as "missed"), not left out.
All times are `time.monotonic()` in this process, taken when the coroutine
that received the answer or the frame resumes, so the load generator's own
event-loop delays hit both ends alike.

The server coalesces (docs/live.md): at most one message per 50 ms per screen,
so a burst of B ballots reaches a screen as far fewer messages; the messages
received per screen are reported beside the ballots, and the CPU seconds used
by the server, PostgreSQL (Redis) and this process during each phase.

Goal (stated, checked, reported): fan-out p99 < 100 ms during the burst.

The docs section between `<!-- bench:live_fanout:start -->` and
`<!-- bench:live_fanout:end -->` in docs/benchmarks.md is rewritten with the
figures of the run (not with --quick / --no-docs); other sections are left alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    REPO,
    ServerProcess,
    bench_arguments,
    close_django,
    command_line,
    free_port,
    say,
    write_docs,
)
from ballots_http import machine_info  # noqa: E402
from live_fanout_clients import (  # noqa: E402
    GRADES,  # noqa: F401  # bench/sockets.py imports it from here
    HOST,
    SETTLE_SECONDS,
    SUBJECTS,
    burst,
    close_screens,
    open_forms,
    open_screens,
    paced,
    settle,
)
from live_fanout_report import Results, analyse, render, report_phase  # noqa: E402

COUNTY = "benchlive"
ROSTER = [{"member_id": f"pm{i}", "name": f"党员{i}", "category": "party_member"} for i in range(10)] + [
    {"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(30)
]


# -- processes -----------------------------------------------------------------------------------


class Server(ServerProcess):
    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        port = free_port()
        # The options of every worker (shuping.server_options): no permessage-deflate, 64 KiB frames.
        from shuping.server_options import APP, server_flags

        argv = ["uvicorn", APP, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), *server_flags()]
        super().__init__(argv, port=port, env=env, log=log)


class Redis:
    """redis-server on a free port of 127.0.0.1, nothing saved, in a temporary folder."""

    def __init__(self, binary: str, folder: Path) -> None:
        self.port = free_port()
        folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(folder)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("redis-server did not start")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def version(self) -> str:
        with contextlib.suppress(Exception):
            out = subprocess.run([shutil.which("redis-server") or "redis-server", "--version"],
                                 capture_output=True, text=True, timeout=10).stdout
            for part in out.split():
                if part.startswith("v="):
                    return part[2:]
        return "?"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class CpuProbe:
    """CPU seconds (user + system) used by process trees: the server, PostgreSQL, Redis; this process alone."""

    def __init__(self, roots: dict[str, int]) -> None:
        self.roots = roots

    def sample(self) -> dict[str, float]:
        import psutil

        used: dict[str, float] = {}
        for name, pid in self.roots.items():
            total = 0.0
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(pid)
                # This process's children are the server and Redis: counted under their own names.
                tree = [root] if pid == os.getpid() else [root, *root.children(recursive=True)]
                for proc in tree:
                    with contextlib.suppress(psutil.Error):
                        times = proc.cpu_times()
                        total += times.user + times.system
            used[name] = total
        return used


# -- the meeting, through the API ----------------------------------------------------------------


class Api:
    def __init__(self, port: int, token: str) -> None:
        import httpx

        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/api/", timeout=60, trust_env=False,
            headers={"Host": HOST, "Authorization": f"Token {token}"},
        )

    def post(self, path: str, body: Any = None, expect: int = 200) -> dict[str, Any]:
        response = self.client.post(path, json=body if body is not None else {})
        if response.status_code != expect:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:1000]}")
        return response.json()


def setup_meeting(admin: Api, host: Api, batches: list[tuple[str, int]]) -> tuple[str, list[list[str]]]:
    """A meeting taken to an open ballot; one list of codes per (category, count) batch."""
    round_id = admin.post("rounds/", {"name": "基准测试（大屏）", "year": 2026, "variant": "zhi_ping_cun_guan"},
                          201)["round_id"]
    starts = (datetime.now(UTC) + timedelta(days=4)).isoformat()
    # Codes stop at the category's roster (meetings.domain.counts): a roster member for every code.
    wanted = dict(batches)
    roster = list(ROSTER)
    for category, prefix, name in (("party_member", "pm", "党员"), ("representative", "rep", "代表")):
        have = sum(1 for m in roster if m["category"] == category)
        roster += [{"member_id": f"{prefix}{i}", "name": f"{name}{i}", "category": category}
                   for i in range(have, wanted.get(category, 0))]
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": "基准测试会（大屏）", "township": "柳林乡", "village": "柳林村",
        "starts_at": starts, "place": "村部",
        "subjects": [{"subject_id": sid, "name": name, "level": "village"} for sid, name in SUBJECTS],
        "roster": roster,
    }, 201)["meeting_id"]
    m = f"meetings/{mid}/"
    host.post(m + "announce/", {"starts_at": starts, "place": "村部", "agenda": ["述职", "测评"], "channels": ["广播"]})
    for member in roster:
        host.post(m + "check-in/", {"member_id": member["member_id"]})
    host.post(m + "open/")
    for sid, _name in SUBJECTS:
        host.post(m + "reports/start/", {"subject_id": sid})
        host.post(m + "reports/end/", {"subject_id": sid})
    codes = [host.post(m + "codes/", {"category": category, "count": count})["codes"] if count else []
             for category, count in batches]
    host.post(m + "ballot/open/")
    return mid, codes



# -- main ------------------------------------------------------------------------------------------------------


def used(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after}


async def measure(args: argparse.Namespace, port: int, mid: str, token: str, codes: list[list[str]],
                  results: Results, probe: CpuProbe) -> None:
    rng = random.Random(20261203)
    t0 = time.monotonic()
    screens = await open_screens(port, mid, token, args.screens)
    results.connect_seconds = time.monotonic() - t0
    base = max(s.max_cast for s in screens)
    if min(s.max_cast for s in screens) != base:
        raise RuntimeError(f"screens disagree on the count before the burst: {sorted({s.max_cast for s in screens})}")
    say(f"{len(screens)} screens subscribed in {results.connect_seconds:.1f} s (count shown: {base})")
    try:
        if args.cold:
            say("--cold: the phones do not open their forms first")
        else:
            seconds = await open_forms(port, mid, codes[0] + codes[1], args.clients)
            say(f"the phones opened their {len(codes[0]) + len(codes[1])} ballot forms ({args.clients} at a time) "
                f"in {seconds:.1f} s")
        await asyncio.sleep(0.5)  # a quiet spell: the first notice of the burst goes out at once
        say(f"burst: {len(codes[0])} ballots, {args.clients} concurrent clients …")
        cpu0 = probe.sample()
        phase = await burst(port, mid, codes[0], args.clients, rng)
        cpu1 = probe.sample()
        waited = await settle(screens, base + len(phase.created))
        fan = analyse(phase, screens, base, time.monotonic(), args.clients, used(cpu0, cpu1),
                      used(cpu0, probe.sample()))
        results.phases.append(fan)
        report_phase(fan, waited)
        if codes[1]:
            # The count before this phase: what was shown at the start plus the ballots answered 201
            # since (not what the screens show now: a screen that missed notices shows less).
            base += len(phase.created)
            await asyncio.sleep(0.5)
            say(f"paced: {len(codes[1])} ballots open loop at {args.paced_rate:g}/s …")
            cpu0 = probe.sample()
            phase = await paced(port, mid, codes[1], args.paced_rate, args.clients, rng)
            cpu1 = probe.sample()
            waited = await settle(screens, base + len(phase.created))
            fan = analyse(phase, screens, base, time.monotonic(), None, used(cpu0, cpu1), used(cpu0, probe.sample()))
            results.phases.append(fan)
            report_phase(fan, waited)
        closes = Counter(s.close for s in screens if s.close is not None)
        others = sum((s.other for s in screens), Counter())
        if closes:
            results.problems.append(f"screens closed by the server during the run: {dict(closes)}")
        if others:
            results.problems.append(f"other messages on screens: {dict(others)}")
    finally:
        await close_screens(screens)


def code_version() -> str:
    """The commit the server runs, and the server files that differ from it (read-only git calls)."""
    def git(*args: str) -> str:
        done = subprocess.run(["git", "--no-optional-locks", *args], cwd=REPO, capture_output=True, text=True,
                              timeout=30)
        return done.stdout if done.returncode == 0 else ""

    sha = git("rev-parse", "--short", "HEAD").strip()
    if not sha:
        return "unknown (no git)"
    changed = [line[3:] for line in git("status", "--porcelain", "--", "platform").splitlines() if line.strip()]
    if not changed:
        return f"commit `{sha}`, no uncommitted changes under platform/"
    shown = ", ".join(f"`{name}`" for name in changed[:8]) + (" …" if len(changed) > 8 else "")
    return f"commit `{sha}` plus uncommitted changes in {shown}"


def log_errors(log: str) -> Counter[str]:
    """The exception lines (last line of each traceback) and ERROR lines of the server's log, counted."""
    import re

    found: Counter[str] = Counter()
    for line in log.splitlines():
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Timeout)\w*(: |$)", line) or " died" in line:
            found[line.strip()] += 1
        elif line.startswith("ERROR:"):
            found[line.strip()] += 1
    return found


def main(argv: list[str] | None = None) -> int:
    parser = bench_arguments(__doc__, quick="20 screens, 50 ballots, no paced phase; implies --no-docs")
    parser.add_argument("--screens", type=int, default=200)
    parser.add_argument("--ballots", type=int, default=300, help="ballots in the burst")
    parser.add_argument("--clients", type=int, default=16, help="concurrent HTTP clients in the burst")
    parser.add_argument("--paced", type=int, default=100, help="ballots in the paced phase after the burst (0: none)")
    parser.add_argument("--paced-rate", type=float, default=5.0,
                        help="ballots/s offered in the paced phase (5/s: a hall of 300 voting in a minute)")
    parser.add_argument("--cold", action="store_true",
                        help="skip the phones' form opening: the burst's casts are the server's first HTTP requests "
                             "after the setup; implies --no-docs")
    parser.add_argument("--redis", action="store_true", help="Redis channel layer (starts redis-server); 2 workers")
    parser.add_argument("--workers", type=int, default=None, help="uvicorn workers (1; 2 with --redis)")
    args = parser.parse_args(argv)
    if args.quick:
        args.screens, args.ballots, args.paced, args.no_docs = 20, 50, 0, True
    if args.cold:
        args.no_docs = True
    if args.workers is None:
        args.workers = 2 if args.redis else 1
    if args.workers > 1 and not args.redis:
        parser.error("several workers need --redis: the in-memory channel layer does not cross processes")
    redis_binary = shutil.which("redis-server") if args.redis else None
    if args.redis and redis_binary is None:
        parser.error("--redis: redis-server is not installed")
    for name in ("screens", "ballots", "clients"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")

    results = Results(
        started=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        command=command_line(),
        workers=args.workers, redis=None, threads=os.environ.get("SHUPING_HTTP_THREADS", "16"), screens=args.screens,
    )
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="shuping-bench-live-"))
    from shuping.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(workdir / "pg", port=free_port(), throwaway=False)
    server: Server | None = None
    redis: Redis | None = None
    try:
        say(f"starting PostgreSQL (durable) in {workdir} …")
        url = pg.start(log=False)
        key = secrets.token_urlsafe(50)
        env = dict(os.environ, DATABASE_URL=url, SHUPING_HOME=str(workdir), SHUPING_SECRET_KEY=key,
                   DJANGO_SETTINGS_MODULE="shuping.settings", PYTHONUNBUFFERED="1")
        for name in ("SHUPING_DEBUG", "REDIS_URL"):
            env.pop(name, None)
        if redis_binary is not None:
            redis = Redis(redis_binary, workdir / "redis")
            env["REDIS_URL"] = redis.url
            results.redis = redis.version()
            say(f"redis-server {results.redis} on port {redis.port}")
        subprocess.run([sys.executable, "-m", "shuping.cli", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        # This process signs the screens' tokens: the same key as the server's.
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="shuping.settings", SHUPING_SECRET_KEY=key)
        os.environ.pop("REDIS_URL", None)
        import django

        django.setup()
        from django.db import connection
        from django_tenants.utils import schema_context

        from accounts.api_tokens import issue_token
        from accounts.models import User
        from common import tokens
        from tenants.provisioning import create_county

        county = create_county(slug=COUNTY, name="基准县（大屏）", domains=[HOST])
        keys = {}
        with schema_context(county.schema_name):
            for role in ("county_admin", "host"):
                user = User.objects.create_user(username=f"bench_{role}", password=secrets.token_urlsafe(12), role=role)
                keys[role] = issue_token(user).key
        connection.close()
        results.machine = machine_info(url)
        from importlib.metadata import version

        results.machine["websockets"] = version("websockets")
        results.machine["code"] = code_version()
        say(f"PostgreSQL: {results.machine['postgres']}\n  {results.machine['settings']}")

        server = Server(env, args.workers, workdir / "uvicorn.log")
        server.wait_ready(HOST)
        say(f"server: uvicorn, {args.workers} worker(s), port {server.port}"
            + (f", Redis channel layer on port {redis.port}" if redis else ", in-memory channel layer"))
        t0 = time.perf_counter()
        mid, codes = setup_meeting(Api(server.port, keys["county_admin"]), Api(server.port, keys["host"]),
                                   [("representative", args.ballots), ("party_member", args.paced)])
        say(f"meeting {mid} at ballot_open with {args.ballots} + {args.paced} codes, set up through the API in "
            f"{time.perf_counter() - t0:.1f} s")
        token = tokens.issue(county=county.schema_name, meeting_id=mid, kind="screen")

        roots = {"server": server.proc.pid, "load generator": os.getpid()}
        postmaster = pg.running_server()
        if postmaster is not None:
            roots["PostgreSQL"] = postmaster.pid
        if redis is not None:
            roots["Redis"] = redis.proc.pid
        asyncio.run(measure(args, server.port, mid, token, codes, results, CpuProbe(roots)))

        for f in results.phases:
            expected = args.ballots if f.name == "burst" else args.paced
            if f.statuses[201] != expected or f.failures:
                results.problems.append(f"{f.name}: {f.statuses[201]} of {expected} ballots answered 201 "
                                        f"({dict(f.statuses)}, transport errors {f.failures})")
            if f.missing or f.behind:
                shown = f"{f.stuck_at[0]}" if len(f.stuck_at) == 1 else f"{f.stuck_at[0]}-{f.stuck_at[-1]}"
                results.problems.append(f"{f.name}: {f.behind} of {f.screens} screens never showed the final count "
                                        f"({f.statuses[201]} ballots) within {SETTLE_SECONDS:.0f} s after the last "
                                        f"answer: they stayed at {shown} ({f.missing:,} ballot x screen pairs missed)")
        log = server.output()
        errors = log_errors(log)
        if errors:
            results.problems.append(f"the server log shows {log.count('Traceback')} tracebacks: " + "; ".join(
                f"`{line[:160]}` x {n}" for line, n in errors.most_common(5)))

        results.total_seconds = time.perf_counter() - began
        section = render(results)
        print()
        print(section)
        if "Traceback" in log:
            lines = log.splitlines()
            first = next(i for i, line in enumerate(lines) if line.startswith("Traceback"))
            say(f"\nserver log: {len(lines)} lines; the first traceback:\n" + "\n".join(lines[max(0, first - 2):first + 60]))
        if not args.no_docs:
            write_docs("live_fanout", section)
        return 1 if results.problems else 0
    finally:
        if server is not None:
            server.stop()
        if redis is not None:
            redis.stop()
        close_django()
        pg.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
