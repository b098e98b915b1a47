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
import json
import math
import os
import random
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
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
    machine_text,
    say,
    write_docs,
)
from ballots_http import machine_info, pct  # noqa: E402

COUNTY = "benchlive"
HOST = "benchlive.localhost"
GOAL_P99_MS = 100.0
COALESCE_MS = 50  # live.relay.WINDOW, quoted in the report
GRADES = ("chenzhi", "jiben_chenzhi", "bu_chenzhi")
SUBJECTS = [
    ("cun_shuji", "村党支部书记 王建国"),
    ("cun_zhuren", "村委会主任 李秀英"),
    ("jianwei_zhuren", "村务监督委员会主任 张卫民"),
    ("fu_shuji", "村党支部副书记 刘国强"),
    ("wenshu", "村文书 赵丽娟"),
    ("funu_zhuren", "妇女主任 孙桂兰"),
    ("kuaiji", "村会计 吴建华"),
]
ROSTER = [{"member_id": f"pm{i}", "name": f"党员{i}", "category": "party_member"} for i in range(10)] + [
    {"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(30)
]
PER_CLIENT = 8  # connections per httpx client (one client's pool slows down with many)
CONNECT_AT_ONCE = 20  # screens opening at the same time
SETTLE_SECONDS = 30.0  # after the last answer, how long screens may take to show the final count


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


def marks(rng: random.Random) -> dict[str, dict[str, str]]:
    return {sid: {"zongti": rng.choice(GRADES)} for sid, _ in SUBJECTS}


# -- screens ---------------------------------------------------------------------------------------


@dataclass
class Screen:
    index: int
    conn: Any = None
    arrivals: list[tuple[float, int, str]] = field(default_factory=list)  # (monotonic, cast, type)
    max_cast: int = -1
    other: Counter[str] = field(default_factory=Counter)  # errors, pongs, unparsable
    close: str | None = None
    task: asyncio.Task[None] | None = None


def cast_of(message: dict[str, Any]) -> int | None:
    if message.get("type") == "turnout":
        return int(message.get("cast", 0))
    if message.get("type") == "snapshot":
        turnout = message.get("turnout") or {}
        return int(turnout.get("cast", 0)) if "cast" in turnout else None
    return None


async def listen(screen: Screen) -> None:
    """Record every frame: the time first, then the count (ends when the socket closes)."""
    from websockets.exceptions import ConnectionClosed

    try:
        async for raw in screen.conn:
            now = time.monotonic()
            try:
                message = json.loads(raw)
                cast = cast_of(message)
            except (ValueError, TypeError, AttributeError):
                screen.other["unparsable"] += 1
                continue
            if cast is None:
                screen.other[str(message.get("type"))] += 1
                if message.get("type") == "error":
                    screen.other[f"error:{message.get('code')}"] += 1
                continue
            screen.arrivals.append((now, cast, str(message["type"])))
            if cast > screen.max_cast:
                screen.max_cast = cast
    except ConnectionClosed as closed:
        screen.close = f"{closed.rcvd.code if closed.rcvd else '?'}"


async def open_screens(port: int, mid: str, token: str, count: int) -> list[Screen]:
    from websockets.asyncio.client import connect

    uri = f"ws://{HOST}:{port}/ws/m/{mid}/screen/?t={token}"
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    screens = [Screen(n) for n in range(count)]

    async def one(screen: Screen) -> None:
        async with gate:
            # The socket goes to 127.0.0.1; the county's host name travels in the Host header.
            screen.conn = await connect(uri, host="127.0.0.1", port=port, proxy=None, open_timeout=30,
                                        ping_interval=None, max_queue=4096, max_size=2**20)
            screen.task = asyncio.create_task(listen(screen))

    await asyncio.wait_for(asyncio.gather(*(one(s) for s in screens)), timeout=120)
    # Every screen must have its snapshot (the meeting at ballot_open) before the burst.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(s.arrivals for s in screens):
        await asyncio.sleep(0.05)
    missing = [s.index for s in screens if not s.arrivals]
    if missing:
        raise RuntimeError(f"{len(missing)} screens got no snapshot within 30 s ({[dict(screens[i].other) for i in missing[:3]]})")
    return screens


async def close_screens(screens: list[Screen]) -> None:
    async def one(screen: Screen) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(screen.conn.close(), timeout=5)
        if screen.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(screen.task, timeout=5)

    await asyncio.gather(*(one(s) for s in screens))


# -- casting -----------------------------------------------------------------------------------------


@dataclass
class Cast:
    """The answers of one phase."""

    name: str
    began: float = 0.0
    ended: float = 0.0
    answers: list[tuple[float, float, int]] = field(default_factory=list)  # (arrival, latency s, status)
    failures: int = 0
    offered_rate: float | None = None

    @property
    def created(self) -> list[float]:
        """Arrival times of the 201 answers, in order: index k-1 is the k-th answer."""
        return sorted(t for t, _, status in self.answers if status == 201)

    @property
    def statuses(self) -> Counter[int]:
        return Counter(status for _, _, status in self.answers)

    @property
    def rate(self) -> float:
        seconds = self.ended - self.began
        return len(self.created) / seconds if seconds > 0 else 0.0

    def http_ms(self, p: float) -> float:
        return pct([lat for _, lat, _ in self.answers], p) * 1000


def _clients(port: int, concurrency: int) -> list[Any]:
    import httpx

    return [
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}/api/", headers={"Host": HOST}, timeout=httpx.Timeout(60),
            limits=httpx.Limits(max_connections=PER_CLIENT, max_keepalive_connections=PER_CLIENT),
            trust_env=False,
        )
        for _ in range((concurrency + PER_CLIENT - 1) // PER_CLIENT)
    ]


async def open_forms(port: int, mid: str, codes: list[str], concurrency: int) -> float:
    """Every phone opens its ballot form (`POST /api/v/<meeting>/form/`), `concurrency` at a time.

    A hall's phones do this when their voters scan the QR slips, before they
    cast. It changes nothing, and it is not measured: it only means the burst
    meets a server whose HTTP threads have already served a request each (as
    at any meeting), not a cold pool opening its database connections in the
    middle of the first ballots. Returns the seconds it took.
    """
    import httpx

    pending = deque(codes)
    clients = _clients(port, concurrency)
    began = time.monotonic()

    async def worker(client: httpx.AsyncClient) -> None:
        while pending:
            code = pending.popleft()
            response = await client.post(f"v/{mid}/form/", json={"code": code})
            if response.status_code != 200:
                raise RuntimeError(f"ballot form: {response.status_code} {response.text[:300]}")

    try:
        await asyncio.wait_for(
            asyncio.gather(*(worker(clients[n // PER_CLIENT]) for n in range(concurrency))), timeout=240)
    finally:
        for client in clients:
            await client.aclose()
    return time.monotonic() - began


async def burst(port: int, mid: str, codes: list[str], concurrency: int, rng: random.Random) -> Cast:
    """Closed loop: `concurrency` clients, each casting its next ballot when the last is answered."""
    import httpx

    pending = deque((code, marks(rng)) for code in codes)
    phase = Cast("burst")
    clients = _clients(port, concurrency)

    async def worker(client: httpx.AsyncClient) -> None:
        while pending:
            code, body = pending.popleft()
            t0 = time.monotonic()
            try:
                response = await client.post(f"v/{mid}/ballot/", json={"code": code, "marks": body})
            except httpx.HTTPError:
                phase.failures += 1
                continue
            now = time.monotonic()
            phase.answers.append((now, now - t0, response.status_code))

    phase.began = time.monotonic()
    try:
        await asyncio.wait_for(
            asyncio.gather(*(worker(clients[n // PER_CLIENT]) for n in range(concurrency))), timeout=240)
    finally:
        phase.ended = time.monotonic()
        for client in clients:
            await client.aclose()
    return phase


async def paced(port: int, mid: str, codes: list[str], rate: float, concurrency: int, rng: random.Random) -> Cast:
    """Open loop: ballot i leaves at began + i / rate whatever the others do."""
    import httpx

    phase = Cast("paced", offered_rate=rate)
    clients = _clients(port, concurrency)
    bodies = [(code, marks(rng)) for code in codes]

    async def one(i: int, code: str, body: dict[str, Any]) -> None:
        delay = phase.began + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        t0 = time.monotonic()
        try:
            response = await clients[i % len(clients)].post(f"v/{mid}/ballot/", json={"code": code, "marks": body})
        except httpx.HTTPError:
            phase.failures += 1
            return
        now = time.monotonic()
        phase.answers.append((now, now - t0, response.status_code))

    phase.began = time.monotonic() + 0.2
    try:
        await asyncio.wait_for(asyncio.gather(*(one(i, *row) for i, row in enumerate(bodies))),
                               timeout=len(bodies) / rate + 120)
    finally:
        phase.ended = time.monotonic()
        for client in clients:
            await client.aclose()
    return phase


async def settle(screens: list[Screen], target: int) -> float:
    """Wait (bounded) until every screen shows `target`; return the seconds waited."""
    began = time.monotonic()
    deadline = began + SETTLE_SECONDS
    while time.monotonic() < deadline and any(s.max_cast < target for s in screens):
        await asyncio.sleep(0.05)
    # Let trailing coalesced messages in, so that messages per screen are complete.
    await asyncio.sleep(2 * COALESCE_MS / 1000)
    return time.monotonic() - began


# -- analysis --------------------------------------------------------------------------------------------


@dataclass
class Fanout:
    name: str
    ballots: int
    rate: float
    offered_rate: float | None
    concurrency: int | None
    http_p50: float
    http_p99: float
    statuses: Counter[int]
    failures: int
    screens: int
    latencies_ms: list[float]
    negatives: int
    missing: int
    messages: list[int]  # per screen, during the phase (and its settle)
    cpu: dict[str, float]  # CPU seconds per process tree from the phase's start to its last answer
    cpu_settled: dict[str, float]  # ... from the phase's start to the end of its settle
    wall: float  # seconds from the phase's start to the end of its settle
    duration: float  # seconds from the phase's start to its last answer
    snapshots: int  # snapshot messages (not turnout) received during the phase, all screens
    behind: int  # screens that never showed the final count
    stuck_at: list[int]  # the highest count those screens showed

    def p(self, q: float) -> float:
        return pct(self.latencies_ms, q)

    def worst(self) -> float:
        return max(self.latencies_ms, default=float("nan"))


def ms(value: float) -> str:
    return "missed" if math.isinf(value) else f"{value:.1f}"


def ms_unit(value: float) -> str:
    return "missed (some screens never caught up)" if math.isinf(value) else f"{value:.1f} ms"


def cpu_text(cpu: dict[str, float]) -> str:
    return ", ".join(f"{name} {sec:.1f}" for name, sec in cpu.items())


def analyse(phase: Cast, screens: list[Screen], base: int, until: float, concurrency: int | None,
            cpu: dict[str, float], cpu_settled: dict[str, float]) -> Fanout:
    created = phase.created
    latencies: list[float] = []
    missing = 0
    messages: list[int] = []
    snapshots = 0
    for screen in screens:
        during = [(t, cast, kind) for t, cast, kind in screen.arrivals if phase.began <= t <= until]
        messages.append(len(during))
        snapshots += sum(1 for _, _, kind in during if kind == "snapshot")
        # Arrivals before the phase count too (a screen cannot show >= base + 1 before it: checked by j).
        arrivals = [(t, cast) for t, cast, _ in screen.arrivals if t <= until]
        j = 0
        shown = -1
        for k, answered in enumerate(created, start=1):
            while shown < base + k and j < len(arrivals):
                shown = max(shown, arrivals[j][1])
                j += 1
            if shown < base + k:
                # Never shown within the settle time: counted as infinitely late, not left out.
                missing += len(created) - k + 1
                latencies.extend([math.inf] * (len(created) - k + 1))
                break
            latencies.append((arrivals[j - 1][0] - answered) * 1000)
    negatives = sum(1 for ms in latencies if ms < 0)
    final = base + len(created)
    return Fanout(
        name=phase.name, ballots=len(created), rate=phase.rate, offered_rate=phase.offered_rate,
        concurrency=concurrency, http_p50=phase.http_ms(50), http_p99=phase.http_ms(99),
        statuses=phase.statuses, failures=phase.failures, screens=len(screens), latencies_ms=latencies,
        negatives=negatives, missing=missing, messages=messages, cpu=cpu, cpu_settled=cpu_settled, wall=until - phase.began,
        duration=phase.ended - phase.began, snapshots=snapshots,
        behind=sum(1 for s in screens if s.max_cast < final),
        stuck_at=sorted({s.max_cast for s in screens if s.max_cast < final}),
    )


# -- report ------------------------------------------------------------------------------------------------


@dataclass
class Results:
    started: str
    command: str
    workers: int
    redis: str | None
    threads: str
    screens: int
    machine: dict[str, str] = field(default_factory=dict)
    phases: list[Fanout] = field(default_factory=list)
    connect_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    total_seconds: float = 0.0


def table(r: Results) -> list[str]:
    lines = [
        "| phase | ballots | ballots/s | HTTP p50 / p99 ms | screens | fan-out p50 ms | p90 ms | p99 ms | max ms "
        "| negative | missing | messages per screen (min-max) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for f in r.phases:
        if f.name == "burst":
            label = f"burst, {f.concurrency} clients closed loop"
        else:
            label = f"paced, open loop at {f.offered_rate:.0f}/s"
        mean = sum(f.messages) / len(f.messages) if f.messages else 0.0
        lines.append(
            f"| {label} | {f.ballots:,} | {f.rate:,.0f} | {f.http_p50:.1f} / {f.http_p99:.1f} | {f.screens} "
            f"| {ms(f.p(50))} | {ms(f.p(90))} | {ms(f.p(99))} | {ms(f.worst())} "
            f"| {f.negatives:,} | {f.missing:,} | {mean:.1f} ({min(f.messages, default=0)}-{max(f.messages, default=0)}) |"
        )
    return lines


def render(r: Results) -> str:
    lines: list[str] = []
    add = lines.append
    m = r.machine
    add("## Live turnout fan-out to hall screens (`bench/live_fanout.py`)")
    add("")
    add(f"Run {r.started} with `{r.command}` in {r.total_seconds:.0f} s.  ")
    add(f"Machine: {machine_text(m)}, "
        f"uvicorn {m['uvicorn']}, Django {m['django']}, websockets {m['websockets']}.  ")
    add(f"PostgreSQL: {m['postgres']}, embedded, on the same machine; {m['settings']}.  ")
    add(f"Code measured: {m['code']}.  ")
    layer = f"channels_redis on a local redis-server {r.redis}" if r.redis else "the in-memory channel layer (one process)"
    add(f"Server: `uvicorn shuping.asgi:application --workers {r.workers}` with the flags of "
        f"`shuping.server_options` (no permessage-deflate, 64 KiB frames); HTTP in Django's WSGI handler on a pool of threads (shuping.http_bridge, "
        f"SHUPING_HTTP_THREADS={r.threads}) with persistent database connections, websockets on the event "
        f"loop with Channels and {layer}; in each server process one subscription per meeting relays to that "
        f"process's screens (live.relay). The server, PostgreSQL{', Redis' if r.redis else ''} and the load generator "
        "(one Python process: asyncio, httpx for the ballots, the `websockets` client with permessage-deflate for "
        "the screens) share the CPUs.")
    add("")
    add(f"Load: one meeting at ballot_open ({len(SUBJECTS)} subjects per ballot), {r.screens} hall screens subscribed "
        f"(opened {CONNECT_AT_ONCE} at a time in {r.connect_seconds:.1f} s); the phones open their ballot forms "
        "first (`POST /api/v/<meeting>/form/` for every code, not measured: the burst meets HTTP threads that "
        "have served a request, as at any meeting), then ballots are cast with fresh codes "
        "(`POST /api/v/<meeting>/ballot/`, answered 201).")
    add("")
    add("Fan-out latency of a ballot on a screen: counts are interchangeable, so ballots are matched to counts by "
        "rank. When the k-th 201 answer arrives, at least k ballots are committed; the screen is up to date with "
        "that ballot from the first message showing a count >= k (base + k in a later phase). Latency = that "
        "arrival minus the k-th answer's arrival, over every ballot on every screen, both clocked in the load "
        "generator. Nothing is clamped: the server publishes right after the commit, before it writes the answer, "
        "so a screen may show a count before the answer reaches its client (\"negative\"). \"missing\": ballots a "
        f"screen never caught up with within {SETTLE_SECONDS:.0f} s. The server sends a screen at most one message "
        f"per {COALESCE_MS} ms, so a burst arrives as far fewer messages than ballots.")
    add("")
    lines.extend(table(r))
    add("")
    burst_phase = next((f for f in r.phases if f.name == "burst"), None)
    if burst_phase is not None:
        p99 = burst_phase.p(99)
        met = p99 < GOAL_P99_MS and not burst_phase.missing and not burst_phase.behind
        add(f"Goal: fan-out p99 < {GOAL_P99_MS:.0f} ms during the burst.")
        add("")
        add(f"- burst of {burst_phase.ballots} ballots at {burst_phase.rate:,.0f}/s to {burst_phase.screens} screens: "
            f"p99 **{ms_unit(p99)}**: **{'met' if met else 'NOT met'}**")
        for f in r.phases:
            if f.name != "burst":
                add(f"- for comparison, paced at {f.offered_rate:.0f} ballots/s: p99 {ms_unit(f.p(99))}")
        mean = sum(burst_phase.messages) / len(burst_phase.messages) if burst_phase.messages else 0.0
        add(f"- coalescing: {burst_phase.ballots} ballots reached each screen as {mean:.1f} messages on average "
            f"({burst_phase.ballots / mean if mean else 0:.1f} ballots per message; "
            f"{burst_phase.snapshots} of them full snapshots over all screens)")
        for f in r.phases:
            add(f"- CPU seconds during the {f.name} phase ({f.duration:.1f} s to its last answer, {r.machine['nproc']} "
                f"CPUs): {cpu_text(f.cpu)}; until the screens settled ({f.wall:.1f} s): {cpu_text(f.cpu_settled)}")
        add("")
    if r.problems:
        add("### Problems seen in this run")
        add("")
        for problem in r.problems:
            add(f"- {problem}")
        add("")
    return "\n".join(lines)


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


def report_phase(f: Fanout, waited: float) -> None:
    mean = sum(f.messages) / len(f.messages) if f.messages else 0.0
    say(f"  {f.ballots} ballots at {f.rate:,.0f}/s (HTTP p50 {f.http_p50:.1f} ms, p99 {f.http_p99:.1f} ms, "
        f"{dict(f.statuses)}); screens settled in {waited:.2f} s")
    say(f"  fan-out p50 {ms(f.p(50))} ms, p90 {ms(f.p(90))} ms, p99 {ms(f.p(99))} ms, "
        f"max {ms(f.worst())} ms; negative {f.negatives}, missing {f.missing}; "
        f"{mean:.1f} messages per screen ({f.snapshots} snapshots in all)")
    say(f"  CPU seconds over the {f.duration:.1f} s of the phase: {cpu_text(f.cpu)}; "
        f"until settled ({f.wall:.1f} s): {cpu_text(f.cpu_settled)}")


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
