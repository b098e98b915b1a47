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
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    ServerProcess,
    bench_arguments,
    close_django,
    command_line,
    free_port,
    machine,
    machine_text,
    say,
    show_section,
)

COUNTY = "benchhttp"
HOST = "benchhttp.localhost"
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
RAW_WRITERS = 16
PER_CLIENT = 10  # connections per httpx client (httpx's pool slows down with many on one client)


def pct(xs: list[float], p: float) -> float:
    if not xs:
        return float("nan")
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass
class Phase:
    name: str
    ballots: int
    seconds: float
    latencies: list[float]  # seconds
    statuses: Counter[int] = field(default_factory=Counter)
    failures: int = 0
    target_rate: float | None = None
    cpu: dict[str, float] = field(default_factory=dict)  # average cores busy during the phase

    @property
    def rate(self) -> float:
        return self.ballots / self.seconds if self.seconds else 0.0

    def ms(self, p: float) -> float:
        return pct(self.latencies, p) * 1000


@dataclass
class Results:
    started: str
    command: str
    workers: int
    meetings: int
    voters: int
    clients: int
    machine: dict[str, str] = field(default_factory=dict)
    ceiling: Phase | None = None
    peak: Phase | None = None
    paced: Phase | None = None
    raw: Phase | None = None
    problems: list[str] = field(default_factory=list)
    total_seconds: float = 0.0


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


def interleave(batches: list[tuple[str, list[str]]], rng: random.Random) -> list[tuple[str, str, dict[str, Any]]]:
    """(meeting, code, marks) with the meetings interleaved, as in a county with several halls voting."""
    rows = []
    for position in range(max(len(codes) for _, codes in batches)):
        for mid, codes in batches:
            if position < len(codes):
                rows.append((mid, codes[position], {sid: {"zongti": rng.choice(GRADES)} for sid, _ in SUBJECTS}))
    return rows


class _Stale(Exception):
    """The connection was closed before any byte of an answer came."""


class Phone:
    """One keep-alive HTTP/1.1 connection, as a phone holds one: a minimal client on asyncio streams.

    The load generator shares the machine's CPUs with the server and
    PostgreSQL, so it should take as little of them as it can: this client
    writes a request and reads the status line, the headers and a body of
    Content-Length or chunked, nothing more (httpx spends about five times
    the CPU per request; `--client httpx` measures with it instead).
    """

    def __init__(self, port: int, host: str = HOST) -> None:
        self.port = port
        self.host = host  # the default Host header (bench/peak.py's phones serve many counties)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes | None = None, *, host: str | None = None,
                      extra: str = "") -> tuple[int, bytes]:
        """One request; `host` overrides the Host header, `extra` is more header lines ("Name: value\r\n")."""
        reused = self.writer is not None
        try:
            return await self._request(method, path, body, host or self.host, extra)
        except _Stale:
            if not reused:
                raise ConnectionError("connection closed by the server") from None
            # The server closed an idle keep-alive connection: send once more on a new one.
            return await self._request(method, path, body, host or self.host, extra)

    async def _request(self, method: str, path: str, body: bytes | None, host: str, extra: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/json\r\n{extra}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        try:
            self.writer.write(head.encode() + b"\r\n" + (body or b""))
            status_line = await self.reader.readline()
            if not status_line:
                await self.close()
                raise _Stale()
            status = int(status_line.split(None, 2)[1])
            length, chunked, close = 0, False, False
            while (line := await self.reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    chunked = b"chunked" in value.lower()
                elif name == b"connection":
                    close = b"close" in value.lower()
            if chunked:
                parts = []
                while (size := int((await self.reader.readline()).split(b";")[0], 16)) > 0:
                    parts.append(await self.reader.readexactly(size))
                    await self.reader.readline()
                await self.reader.readline()
                data = b"".join(parts)
            else:
                data = await self.reader.readexactly(length) if length else b""
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            await self.close()
            raise ConnectionError("the request failed") from None
        if close:
            await self.close()
        return status, data

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None


class HttpxPhones:
    """The same interface on httpx (clients of PER_CLIENT connections each)."""

    def __init__(self, port: int, count: int) -> None:
        import httpx

        self.clients = [
            httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers={"Host": HOST}, timeout=httpx.Timeout(120),
                limits=httpx.Limits(max_connections=PER_CLIENT, max_keepalive_connections=PER_CLIENT),
            )
            for _ in range((count + PER_CLIENT - 1) // PER_CLIENT)
        ]

    def phone(self, n: int) -> Any:
        client = self.clients[(n // PER_CLIENT) % len(self.clients)]

        class _Phone:
            async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
                import httpx

                try:
                    if body is None:
                        response = await client.request(method, path)
                    else:
                        response = await client.request(
                            method, path, content=body, headers={"Content-Type": "application/json"}
                        )
                except httpx.HTTPError as exc:
                    raise ConnectionError(str(exc)) from None
                return response.status_code, response.content

            async def close(self) -> None:
                pass

        return _Phone()

    async def close(self) -> None:
        for client in self.clients:
            await client.aclose()


CLIENT = "lean"  # or "httpx" (--client)


class Phones:
    """`count` phones (connections) of the chosen client."""

    def __init__(self, port: int, count: int) -> None:
        self.httpx = HttpxPhones(port, count) if CLIENT == "httpx" else None
        self.all = [self.httpx.phone(n) if self.httpx else Phone(port) for n in range(count)]

    async def close(self) -> None:
        for phone in self.all:
            await phone.close()
        if self.httpx is not None:
            await self.httpx.close()


def _ballot(mid: str, code: str, marks: dict[str, Any]) -> tuple[str, bytes]:
    return f"/api/v/{mid}/ballot/", json.dumps({"code": code, "marks": marks}, ensure_ascii=False).encode()


async def closed_loop(port: int, rows: list[tuple[str, str, dict[str, Any]]], concurrency: int) -> Phase:
    """`concurrency` phones, each sending its next ballot as soon as the last one is answered."""
    return await _closed_loop("peak", port, [("POST", *_ballot(*row)) for row in rows], concurrency, ok=201)


async def ceiling_loop(port: int, requests: int, concurrency: int) -> Phase:
    """The HTTP stack ceiling: `GET /healthz` on the county host, closed loop, the same phones.

    The health probe goes through the same server stack as a ballot (uvicorn,
    the ASGI router, the thread pool, Django's WSGI handler with every
    middleware, the county resolved from the host) and runs one `SELECT 1`,
    but parses no body and writes nothing: its peak is about the most this
    stack answers on this machine, whatever the cast path does.
    """
    return await _closed_loop("ceiling", port, [("GET", "/healthz", None)] * requests, concurrency, ok=200)


async def _closed_loop(
    name: str, port: int, requests: list[tuple[str, str, bytes | None]], concurrency: int, *, ok: int
) -> Phase:
    pending = deque(requests)
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    failures = 0
    phones = Phones(port, concurrency)

    async def worker(phone: Any) -> None:
        nonlocal failures
        while pending:
            method, path, body = pending.popleft()
            t0 = time.perf_counter()
            try:
                status, _ = await phone.request(method, path, body)
            except ConnectionError:
                failures += 1
                continue
            latencies.append(time.perf_counter() - t0)
            statuses[status] += 1

    began = time.perf_counter()
    try:
        await asyncio.gather(*(worker(phone) for phone in phones.all))
    finally:
        await phones.close()
    seconds = time.perf_counter() - began
    return Phase(name, statuses[ok], seconds, latencies, statuses, failures)


async def open_loop(port: int, rows: list[tuple[str, str, dict[str, Any]]], rate: float, concurrency: int) -> Phase:
    """Each request leaves at began + i / rate on a free phone; latency counts from that scheduled time.

    A request that finds all `concurrency` phones busy waits for one, and the
    wait is part of its latency.
    """
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    failures = 0
    phones = Phones(port, concurrency)
    free: asyncio.Queue[Any] = asyncio.Queue()
    for phone in phones.all:
        free.put_nowait(phone)
    loop = asyncio.get_running_loop()
    requests = [_ballot(*row) for row in rows]

    async def one(i: int, path: str, body: bytes) -> None:
        nonlocal failures
        scheduled = began + i / rate
        delay = scheduled - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        phone = await free.get()
        try:
            status, _ = await phone.request("POST", path, body)
        except ConnectionError:
            failures += 1
            return
        finally:
            free.put_nowait(phone)
        latencies.append(loop.time() - scheduled)
        statuses[status] += 1

    began = loop.time() + 0.5
    try:
        await asyncio.gather(*(one(i, *request) for i, request in enumerate(requests)))
    finally:
        await phones.close()
    seconds = loop.time() - began
    return Phase("paced", statuses[201], seconds, latencies, statuses, failures, target_rate=rate)


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


# -- the raw floor -----------------------------------------------------------------------------


def raw_floor(url: str, rows: list[tuple[str, str, dict[str, Any]]]) -> Phase:
    import hashlib

    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS raw_bench CASCADE")
        conn.execute("CREATE SCHEMA raw_bench")
        # The shape of meetings_ballot_box: the code hash as primary key.
        conn.execute(
            "CREATE TABLE raw_bench.ballot_box (code_hash text PRIMARY KEY, meeting_id text NOT NULL, "
            "marks jsonb NOT NULL, receipt text NOT NULL)"
        )
        conn.execute("CREATE INDEX ON raw_bench.ballot_box (meeting_id)")
    prepared = [
        (hashlib.sha256(f"{mid}/{code}".encode()).hexdigest(), mid, json.dumps(marks, ensure_ascii=False),
         hashlib.sha256(f"r/{mid}/{code}".encode()).hexdigest()[:16])
        for mid, code, marks in rows
    ]
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(RAW_WRITERS + 1)

    def writer(index: int) -> None:
        mine = prepared[index::RAW_WRITERS]
        own: list[float] = []
        with psycopg.connect(url, autocommit=True) as conn:
            barrier.wait()
            for row in mine:
                t0 = time.perf_counter()
                conn.execute(
                    "INSERT INTO raw_bench.ballot_box (code_hash, meeting_id, marks, receipt) "
                    "VALUES (%s, %s, %s::jsonb, %s) ON CONFLICT (code_hash) DO NOTHING",
                    row,
                )
                own.append(time.perf_counter() - t0)
        with lock:
            latencies.extend(own)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(RAW_WRITERS)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    return Phase(f"raw psycopg, {RAW_WRITERS} writers", len(prepared), seconds, latencies)


# -- report -------------------------------------------------------------------------------------


def render(r: Results) -> str:
    lines: list[str] = []
    add = lines.append
    add("## Ballot casting over HTTP (`bench/ballots_http.py`)")
    add("")
    add(f"Run {r.started} with `{r.command}` in {r.total_seconds:.0f} s.  ")
    add(f"Machine: {machine_text(r.machine)}, uvicorn {r.machine['uvicorn']}, Django {r.machine['django']}.  ")
    add(f"PostgreSQL: {r.machine['postgres']}, embedded, on the same machine; {r.machine['settings']}.  ")
    add(f"Server: `uvicorn shuping.asgi:application --workers {r.workers}` (event loop: {r.machine['loop']}, "
        f"HTTP parser: {r.machine['http']}); in each worker HTTP runs in Django's WSGI handler on a pool of "
        f"{os.environ.get('SHUPING_HTTP_THREADS', '16')} threads (SHUPING_HTTP_THREADS, one hand-off each way, "
        "see shuping/http_bridge.py) with persistent database connections "
        f"(CONN_MAX_AGE={os.environ.get('SHUPING_CONN_MAX_AGE', '300')} s), websockets (none here) on the event loop; "
        "on the same machine as PostgreSQL and the load generator (one Python process, asyncio, "
        f"{'a minimal HTTP/1.1 client on asyncio streams' if CLIENT == 'lean' else 'httpx'}), so all three share "
        "the CPUs, with whatever else runs on the machine.")
    add("")
    add(f"Load: {r.meetings} meetings with ballots open, {r.voters} voters each per phase, {len(SUBJECTS)} subjects per "
        "ballot, casts interleaved across the meetings; each request is `POST /api/v/<meeting>/ballot/` with a "
        "fresh code (a first cast, answered 201).")
    add("")
    add("| what | ballots | ballots/s | p50 ms | p99 ms | answers |")
    add("|---|---:|---:|---:|---:|---|")
    for phase in (r.ceiling, r.peak, r.paced, r.raw):
        if phase is None:
            continue
        label = phase.name
        if phase is r.ceiling:
            label = f"HTTP stack ceiling: `GET /healthz`, {r.clients} concurrent clients (closed loop)"
            answers = ", ".join(f"{k}: {v}" for k, v in sorted(phase.statuses.items()))
            add(f"| {label} | {phase.ballots:,} requests | {phase.rate:,.0f} req/s | {phase.ms(50):.1f} | "
                f"{phase.ms(99):.1f} | {answers or '-'} |")
            continue
        if phase is r.peak:
            label = f"HTTP peak, {r.clients} concurrent clients (closed loop)"
        elif phase is r.paced:
            label = f"HTTP at 50% of peak, open loop ({phase.target_rate:.0f}/s offered)"
        else:
            label = f"raw floor: psycopg INSERT, autocommit, {RAW_WRITERS} writer threads"
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(phase.statuses.items()))
        if phase.failures:
            answers += f", transport errors: {phase.failures}"
        add(f"| {label} | {phase.ballots:,} | {phase.rate:,.0f} | {phase.ms(50):.1f} | {phase.ms(99):.1f} | {answers or '-'} |")
    add("")
    measured = [(name, phase, unit) for name, phase, unit in (
        ("HTTP stack ceiling", r.ceiling, "request"), ("HTTP peak", r.peak, "ballot"),
        ("HTTP at 50% of peak", r.paced, "ballot"), ("raw floor", r.raw, "row"),
    ) if phase is not None and phase.cpu and phase.rate]
    if measured:
        add("Where the CPU went (average cores busy during each phase, and CPU milliseconds per request, ballot "
            "or row; the load generator is this script's process; the rest of the machine is everything else "
            "that ran meanwhile):")
        add("")
        add("| phase | server | PostgreSQL | load generator | whole machine |")
        add("|---|---:|---:|---:|---:|")
        for name, phase, unit in measured:
            cells = " | ".join(
                f"{phase.cpu[part]:.2f} ({phase.cpu[part] / phase.rate * 1000:.2f} ms/{unit})"
                for part in ("server", "postgres", "generator")
            )
            add(f"| {name} | {cells} | {phase.cpu['machine']:.2f} of {r.machine['nproc']} |")
        add("")
    if r.peak and r.raw and r.paced:
        ratio = r.peak.rate / r.raw.rate if r.raw.rate else 0.0
        throughput_ok = ratio >= 0.5
        latency_ok = r.paced.ms(99) < 100
        add("Goal: HTTP peak >= 0.5 x the raw 16-writer floor, and p99 < 100 ms at half the peak rate.")
        add("")
        add(f"- throughput: {r.peak.rate:,.0f} / {r.raw.rate:,.0f} = **{ratio:.2f} x** the floor: "
            f"**{'met' if throughput_ok else 'NOT met'}**")
        add(f"- latency at 50% of peak: p99 **{r.paced.ms(99):.1f} ms**: **{'met' if latency_ok else 'NOT met'}**")
        add("")
        add("What the floor is: a bare INSERT of an already-built row from 16 threads holding one connection "
            "each: no HTTP, no request parsing, no check against the meeting, no county, no lock on the meeting's "
            "stream, no transaction beyond the INSERT's own. It is the database's share of a cast and nothing "
            "else; a cast over HTTP adds an HTTP request and answer, Django's request cycle and the check of the "
            "ballot, all in Python.")
        add("")
    if r.ceiling and r.raw and r.peak:
        add(f"HTTP stack ceiling: a trivial request (`GET /healthz`: the same uvicorn, ASGI router, thread pool, "
            f"Django middleware and county lookup, plus one `SELECT 1` and no commit) peaks at "
            f"{r.ceiling.rate:,.0f} req/s here, **{r.ceiling.rate / r.raw.rate:.2f} x** the floor. A cast does all "
            f"of that and more (a request body, the check, a durable commit), so on this stack and machine it "
            f"cannot reach the ceiling, let alone the floor; it reaches **{r.peak.rate / r.ceiling.rate:.2f} x** "
            "the ceiling.")
        add("")
    if r.problems:
        add("### Problems seen in this run")
        add("")
        for problem in r.problems:
            add(f"- {problem}")
        add("")
    return "\n".join(lines)


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
    global CLIENT
    CLIENT = args.client
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
