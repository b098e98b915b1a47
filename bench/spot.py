"""Benchmark of results on the spot: from the host's "close ballot" to the results on the last hall screen.

Run from the repository root:

    .venv/bin/python bench/spot.py                 # 1 warm-up + 5 measured rounds, rewrites its docs section
    .venv/bin/python bench/spot.py --quick         # 1 warm-up + 2 rounds, prints only
    .venv/bin/python bench/spot.py --profile DIR   # also py-spy records the server during each close
    .venv/bin/python bench/spot.py --against REV   # a second server on git revision REV, rounds alternated

What runs (one embedded PostgreSQL with durable settings, destroyed at the end):

1. one uvicorn process (`shuping.asgi:application` with the flags of
   `shuping.server_options`, as `shuping run`, the live tests and infra/ start
   it), in-memory channel layer, on a county with a `.localhost` host;
2. per round, a fresh meeting of 400 voters (200 party members, 200
   representatives, all checked in) on the 双述双评 preset: 10 subjects x 5
   criteria, taken to an open ballot through the API as a hall does;
3. 300 phone ballots cast over HTTP through the real casting path
   (`POST /api/v/<meeting>/ballot/`, sealed in the ballot box), 16 clients at
   a time, after the phones opened their forms; 100 paper ballots in 4
   numbered batches of 25, each entered by two tellers (`POST
   .../paper-batches/`), so every batch is reconciled;
4. 200 hall screens (`/ws/m/<meeting>/screen/`) and the host's console
   (`/ws/m/<meeting>/console/`) connect and get their snapshot; a quiet second;
5. measured: the host's console sends two requests, as the console page
   does (frontend/static/js/console.js: "ballot-close" then, on its own
   button, "announce-results"): `POST .../ballot/close/`, and as soon as its
   answer arrives `POST .../results/announce/`. The time runs from sending
   the close to the first frame carrying the announced results on each
   screen; per round the LAST screen is the figure (and the median screen).

The limit, measured in the same run right after each round on the same
database: psycopg (no Django), one connection opened beforehand, ONE
statement that reads the meeting's 400 ballots from the log (the 300
BallotCast events and one entry of each of the 4 paper batches), looks up
each ballot's voter category from the issued codes, and aggregates all
20,000 marks (subject x criterion x grade x category counts), inserting the
tally as one row; then one durable commit (synchronous_commit on).

Goal: the last screen within 3x the limit; at the least under 150 ms.
Timing never decides a test; this prints and writes docs/benchmarks.md (its
own section between `<!-- bench:spot:start -->` and `<!-- bench:spot:end -->`).
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
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
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
    say,
    show_section,
)
from ballots_http import machine_info  # noqa: E402
from live_fanout import CpuProbe, code_version, log_errors  # noqa: E402

COUNTY = "benchspot"
HOST = "benchspot.localhost"
GOAL_RATIO = 3.0
GOAL_MS = 150.0
SUBJECTS = [(f"s{i}", f"述评对象{i}") for i in range(10)]
CATEGORIES = (("party_member", "pm", "党员"), ("representative", "rep", "代表"))
PER_CATEGORY = 200  # voters of each category (400 in all)
PHONE_PER_CATEGORY = 150  # 300 phone ballots; the other 100 on paper
PAPER_BATCHES = 4
CLIENTS = 16  # concurrent phones casting
PER_CLIENT = 8  # connections per httpx client
CONNECT_AT_ONCE = 20
WAIT_SECONDS = 30.0


# -- processes -------------------------------------------------------------------------------------


class Server(ServerProcess):
    """One uvicorn worker started with the flags every deployment of the platform uses."""

    def __init__(self, env: dict[str, str], log: Path, *, label: str = "this tree", source: Path = REPO) -> None:
        from shuping.server_options import APP, server_flags

        self.label = label
        port = free_port()
        if source != REPO:
            # Another revision's code: its source roots go before the editable install's.
            env = dict(env, PYTHONPATH=os.pathsep.join([str(source / "platform"), str(source)]))
        argv = ["uvicorn", APP, "--host", "127.0.0.1", "--port", str(port), *server_flags()]
        super().__init__(argv, port=port, env=env, log=log, cwd=source)


class Profiler:
    """py-spy recording the server while one close runs (started before, stopped after the results)."""

    def __init__(self, folder: Path, pid: int) -> None:
        self.folder = folder
        self.pid = pid
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, name: str) -> None:
        binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [binary, "record", "--pid", str(self.pid), "--rate", "1000", "--format", "raw", "--nonblocking",
             "--output", str(self.folder / f"{name}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        time.sleep(1.0)  # attached before the close is sent

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


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


@dataclass
class Meeting:
    mid: str
    phone: list[tuple[str, str]]  # (code, category)
    paper: list[tuple[str, str]]
    grades: dict[str, list[str]]  # subject kind -> grade ids
    criteria: list[str]


def setup_meeting(admin: Api, host: Api, round_id: str, n: int) -> Meeting:
    """A 400-voter meeting at an open ballot, every voter checked in, codes issued per category."""
    starts = (datetime.now(UTC) + timedelta(days=4)).isoformat()
    roster = [{"member_id": f"{prefix}{i}", "name": f"{name}{i}", "category": category}
              for category, prefix, name in CATEGORIES for i in range(PER_CATEGORY)]
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": f"基准测试会（当场公布）{n}", "township": "柳林乡", "village": f"第{n}村",
        "starts_at": starts, "place": "村部",
        "subjects": [{"subject_id": sid, "name": name, "level": "village", "kind": "person"} for sid, name in SUBJECTS],
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
    phone, paper = [], []
    for category, _prefix, _name in CATEGORIES:
        codes = host.post(m + "codes/", {"category": category, "count": PER_CATEGORY})["codes"]
        phone += [(c, category) for c in codes[:PHONE_PER_CATEGORY]]
        paper += [(c, category) for c in codes[PHONE_PER_CATEGORY:]]
    host.post(m + "ballot/open/")
    rules = host.client.get("presets/").json()["shuang_shu_shuang_ping"]
    grades = {kind: [g["id"] for g in scale["grades"]] for kind, scale in rules["scales"].items()}
    return Meeting(mid, phone, paper, grades, [c["id"] for c in rules["criteria"]])


def marks(meeting: Meeting, rng: random.Random) -> dict[str, dict[str, str]]:
    grades = meeting.grades["person"]
    return {sid: {c: rng.choice(grades) for c in meeting.criteria} for sid, _ in SUBJECTS}


def _clients(port: int, concurrency: int) -> list[Any]:
    import httpx

    return [
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}/api/", headers={"Host": HOST}, timeout=httpx.Timeout(60),
            limits=httpx.Limits(max_connections=PER_CLIENT, max_keepalive_connections=PER_CLIENT), trust_env=False,
        )
        for _ in range((concurrency + PER_CLIENT - 1) // PER_CLIENT)
    ]


async def cast_phones(port: int, meeting: Meeting, rng: random.Random) -> None:
    """The phones open their forms, then cast their ballots, CLIENTS at a time (not measured)."""
    import httpx

    clients = _clients(port, CLIENTS)
    try:
        for step in ("form", "ballot"):
            pending = deque(meeting.phone)

            async def worker(client: Any, step: str = step, pending: deque[tuple[str, str]] = pending) -> None:
                while pending:
                    code, _category = pending.popleft()
                    body: dict[str, Any] = {"code": code}
                    if step == "ballot":
                        body["marks"] = marks(meeting, rng)
                    for attempt in range(3):
                        try:
                            response = await client.post(f"v/{meeting.mid}/{step}/", json=body)
                            break
                        except httpx.TransportError:  # a kept-alive connection the server closed: send again
                            if attempt == 2:
                                raise
                    # A ballot sent again after a lost answer is answered 200 with the same receipt.
                    if response.status_code not in ((200, 201) if step == "ballot" else (200,)):
                        raise RuntimeError(f"{step}: {response.status_code} {response.text[:300]}")

            await asyncio.wait_for(
                asyncio.gather(*(worker(clients[n // PER_CLIENT]) for n in range(CLIENTS))), timeout=240)
    finally:
        for client in clients:
            await client.aclose()


def enter_paper(tellers: list[Api], meeting: Meeting, rng: random.Random) -> None:
    """4 numbered batches of the paper ballots, each entered alike by two tellers (reconciled)."""
    size = -(-len(meeting.paper) // PAPER_BATCHES)
    for batch_no in range(1, PAPER_BATCHES + 1):
        part = meeting.paper[(batch_no - 1) * size:batch_no * size]
        ballots = [{"code": code, "marks": marks(meeting, rng)} for code, _category in part]
        for teller in tellers:
            teller.post(f"meetings/{meeting.mid}/paper-batches/", {"batch_no": batch_no, "ballots": ballots})


# -- screens -------------------------------------------------------------------------------------


@dataclass
class Screen:
    index: int
    kind: str
    conn: Any = None
    task: asyncio.Task[None] | None = None
    snapshots: int = 0
    closed_at: float | None = None  # first frame at ballot_closed
    results_at: float | None = None  # first frame with the announced results
    results_bytes: int = 0
    problems: list[str] = field(default_factory=list)


CLOSED = b'"phase": "ballot_closed"'
ANNOUNCED = b'"phase": "results_announced"'
WITH_RESULTS = b'"results": {'


async def listen(screen: Screen) -> None:
    """Note when the socket first shows the ballot closed, and the results (ends when it closes).

    Frames are looked at as bytes, not parsed: this process receives 200
    copies of a ~40 KiB frame on the CPUs the server runs on, and the time it
    takes to parse them would count as the server's (live.frames encodes
    with json's default separators).
    """
    from websockets.exceptions import ConnectionClosed

    try:
        while True:
            raw = await screen.conn.recv(decode=False)
            now = time.monotonic()
            if raw.startswith(b'{"type": "error"'):
                screen.problems.append(raw[:200].decode(errors="replace"))
            if not raw.startswith(b'{"type": "snapshot"'):
                continue
            screen.snapshots += 1
            if screen.closed_at is None and CLOSED in raw:
                screen.closed_at = now
            if screen.results_at is None and ANNOUNCED in raw and WITH_RESULTS in raw:
                screen.results_at = now
                screen.results_bytes = len(raw)
    except ConnectionClosed as closed:
        if closed.rcvd is None or closed.rcvd.code != 1000:
            screen.problems.append(f"closed {closed.rcvd.code if closed.rcvd else '?'}")


async def open_screens(port: int, mid: str, tokens: dict[str, str], count: int) -> list[Screen]:
    from websockets.asyncio.client import connect

    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    screens = [Screen(n, "screen") for n in range(count)] + [Screen(count, "console")]

    async def one(screen: Screen) -> None:
        uri = f"ws://{HOST}:{port}/ws/m/{mid}/{screen.kind}/?t={tokens[screen.kind]}"
        async with gate:
            screen.conn = await connect(uri, host="127.0.0.1", port=port, proxy=None, open_timeout=30,
                                        ping_interval=None, max_queue=4096, max_size=2**22)
            screen.task = asyncio.create_task(listen(screen))

    await asyncio.wait_for(asyncio.gather(*(one(s) for s in screens)), timeout=120)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(s.snapshots for s in screens):
        await asyncio.sleep(0.05)
    if not all(s.snapshots for s in screens):
        raise RuntimeError(f"{sum(1 for s in screens if not s.snapshots)} sockets got no snapshot within 30 s")
    return screens


async def close_screens(screens: list[Screen]) -> None:
    async def one(screen: Screen) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(screen.conn.close(), timeout=5)
        if screen.task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(screen.task, timeout=5)

    await asyncio.gather(*(one(s) for s in screens))


# -- the measured close ---------------------------------------------------------------------------


@dataclass
class Round:
    n: int
    warmup: bool
    mid: str = ""
    label: str = ""
    close_answer_ms: float = 0.0
    announce_answer_ms: float = 0.0
    closed_last_ms: float = 0.0  # the ballot_closed snapshot on the last screen
    median_ms: float = 0.0  # results on the median screen
    last_ms: float = 0.0  # results on the last screen
    console_ms: float = 0.0
    results_kb: float = 0.0
    limit_ms: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    missing: int = 0
    problems: list[str] = field(default_factory=list)


async def close_and_announce(port: int, token: str, screens: list[Screen], rnd: Round, probe: CpuProbe) -> None:
    import httpx

    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}/api/", timeout=60, trust_env=False,
        headers={"Host": HOST, "Authorization": f"Token {token}"},
    ) as host:
        await host.get("presets/")  # the console's connection is open, as it is after the host's earlier clicks
        await asyncio.sleep(1.0)
        cpu0 = probe.sample()
        t0 = time.monotonic()
        close = await host.post(f"meetings/{rnd.mid}/ballot/close/", json={})
        t1 = time.monotonic()
        announce = await host.post(f"meetings/{rnd.mid}/results/announce/", json={})
        t2 = time.monotonic()
        if close.status_code != 200 or announce.status_code != 200:
            raise RuntimeError(f"close {close.status_code} {close.text[:300]}; announce {announce.status_code} "
                               f"{announce.text[:300]}")
        deadline = t0 + WAIT_SECONDS
        while time.monotonic() < deadline and any(s.results_at is None for s in screens):
            await asyncio.sleep(0.002)
        rnd.cpu = {k: v - cpu0.get(k, 0.0) for k, v in probe.sample().items()}
    hall = [s for s in screens if s.kind == "screen"]
    arrived = sorted((s.results_at - t0) * 1000 for s in hall if s.results_at is not None)
    rnd.missing = len(hall) - len(arrived)
    rnd.close_answer_ms = (t1 - t0) * 1000
    rnd.announce_answer_ms = (t2 - t0) * 1000
    closed = [(s.closed_at - t0) * 1000 for s in hall if s.closed_at is not None]
    rnd.closed_last_ms = max(closed) if closed else float("nan")
    rnd.median_ms = statistics.median(arrived) if arrived else float("inf")
    rnd.last_ms = arrived[-1] if arrived and not rnd.missing else float("inf")
    console = next(s for s in screens if s.kind == "console")
    rnd.console_ms = (console.results_at - t0) * 1000 if console.results_at is not None else float("inf")
    rnd.results_kb = max((s.results_bytes for s in hall), default=0) / 1024
    for s in screens:
        rnd.problems += [f"{s.kind} {s.index}: {p}" for p in s.problems]


# -- the limit: PostgreSQL alone ------------------------------------------------------------------

LIMIT_SQL = """
INSERT INTO bench_spot.tallies (meeting_id, marks, tally)
WITH issued AS (
    SELECT code.value AS code_hash, e.data->>'category' AS category
      FROM {schema}.events e, jsonb_array_elements_text(e.data->'code_hashes') AS code(value)
     WHERE e.stream_id = %(stream)s AND e.type = 'BallotCodesIssued'
), paper AS (
    SELECT DISTINCT ON (e.data->>'batch_no') e.data->'ballots' AS ballots
      FROM {schema}.events e
     WHERE e.stream_id = %(stream)s AND e.type = 'PaperBatchEntered'
     ORDER BY e.data->>'batch_no', e.stream_version
), ballots AS (
    SELECT e.data->>'code_hash' AS code_hash, e.data->'marks' AS marks
      FROM {schema}.events e
     WHERE e.stream_id = %(stream)s AND e.type = 'BallotCast'
    UNION ALL
    SELECT b.value->>'code_hash', b.value->'marks' FROM paper, jsonb_array_elements(paper.ballots) AS b(value)
), counted AS (
    SELECT i.category, s.key AS subject, c.key AS criterion, c.value AS grade, count(*) AS n
      FROM ballots JOIN issued i USING (code_hash),
           jsonb_each(ballots.marks) AS s(key, value), jsonb_each_text(s.value) AS c(key, value)
     GROUP BY 1, 2, 3, 4
)
SELECT %(mid)s, sum(n), jsonb_agg(jsonb_build_array(category, subject, criterion, grade, n)) FROM counted
RETURNING marks
"""


class Limit:
    """One psycopg connection (no Django) on the same database, opened before the rounds."""

    def __init__(self, url: str, schema: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url)
        self.sql = LIMIT_SQL.replace("{schema}", schema)
        with self.conn.transaction():
            self.conn.execute("CREATE SCHEMA IF NOT EXISTS bench_spot")
            self.conn.execute("CREATE TABLE IF NOT EXISTS bench_spot.tallies"
                              " (meeting_id text, marks bigint, tally jsonb)")

    def measure(self, mid: str, repeat: int = 3) -> tuple[float, int]:
        """Milliseconds for the statement and its commit (median of `repeat`), and the marks it aggregated."""
        times, counted = [], 0
        for _ in range(repeat):
            t0 = time.perf_counter()
            row = self.conn.execute(self.sql, {"stream": f"meeting-{mid}", "mid": mid}).fetchone()
            self.conn.commit()
            times.append((time.perf_counter() - t0) * 1000)
            counted = int(row[0]) if row and row[0] is not None else 0
        return statistics.median(times), counted

    def close(self) -> None:
        self.conn.close()


# -- the report -----------------------------------------------------------------------------------


@dataclass
class Results:
    started: str
    command: str
    screens: int
    machine: dict[str, str] = field(default_factory=dict)
    rounds: list[Round] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    total_seconds: float = 0.0
    profile: str | None = None


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def closed_cell(x: Round) -> str:
    """The ballot_closed snapshot's arrival; none when every screen got the results' snapshot first (it is newer)."""
    return "none: results first" if x.closed_last_ms != x.closed_last_ms else f"{x.closed_last_ms:.0f} ms"


def render(r: Results) -> str:
    lines: list[str] = []
    add = lines.append
    add("## Results on the spot (`bench/spot.py`)")
    add("")
    add(f"Run {r.started}: `{r.command}` ({r.total_seconds:.0f} s in all). Machine: {r.machine.get('nproc')} CPUs "
        f"({r.machine.get('cpu')}), {r.machine.get('memory')}, Linux {r.machine.get('kernel')}, Python "
        f"{r.machine.get('python')}; {r.machine.get('postgres')} ({r.machine.get('settings')}); uvicorn "
        f"{r.machine.get('uvicorn')} (1 worker, flags of `shuping.server_options`, in-memory channel layer), "
        f"Django {r.machine.get('django')}; this tree: {r.machine.get('code')}. Load average when it ended: "
        f"{r.machine.get('load', '?')} (other work shares these CPUs).")
    add("")
    add(f"Each round: a fresh meeting of 400 voters (all checked in), 10 subjects x 5 criteria, 300 phone ballots "
        f"cast over HTTP and sealed, 100 paper ballots in {PAPER_BATCHES} batches each entered by two tellers; "
        f"{r.screens} hall screens and the host's console connected by websocket. The host's console sends "
        "`POST ballot/close/`, then on its answer `POST results/announce/` (two requests, as console.js sends "
        "them); measured from sending the close to the first frame with the announced results on each screen. "
        "The limit, measured right after each round on the same database (median of 3): psycopg alone reads "
        "those 400 ballots from the log and aggregates all 20,000 marks (by category, subject, criterion and "
        "grade) in one statement that stores the tally, plus one durable commit.")
    add("")
    add("| round | code | close answered | announce answered | ballot_closed on last screen | results: median "
        "screen | results: LAST screen | LAST after the announce's answer | console | limit | last / limit | "
        "CPU s: server, PostgreSQL |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for x in r.rounds:
        name = f"{x.n} (warm-up)" if x.warmup else str(x.n)
        server_cpu = sum(v for k, v in x.cpu.items() if k.startswith("server"))
        add(f"| {name} | {x.label} | {x.close_answer_ms:.0f} ms | {x.announce_answer_ms:.0f} ms | "
            f"{closed_cell(x)} | {x.median_ms:.0f} ms | **{x.last_ms:.0f} ms** | "
            f"{x.last_ms - x.announce_answer_ms:.0f} ms | {x.console_ms:.0f} ms | "
            f"{x.limit_ms:.1f} ms | {x.last_ms / x.limit_ms if x.limit_ms else float('nan'):.1f}x | "
            f"{server_cpu:.2f}, {x.cpu.get('PostgreSQL', 0):.2f} |")
    add("")
    labels = list(dict.fromkeys(x.label for x in r.rounds))
    for label in labels:
        measured = [x for x in r.rounds if not x.warmup and x.label == label]
        if not measured:
            continue
        last = med([x.last_ms for x in measured])
        limit = med([x.limit_ms for x in measured])
        ratios = [x.last_ms / x.limit_ms for x in measured if x.limit_ms]
        worst = max(x.last_ms for x in measured)
        # The part after the commands: reading, encoding and sending the results frame (the room's work).
        after = med([x.last_ms - x.announce_answer_ms for x in measured])
        close = med([x.close_answer_ms for x in measured])
        cpu = med([sum(v for k, v in x.cpu.items() if k.startswith("server")) for x in measured])
        add(f"- {label}, {len(measured)} measured rounds: last screen median **{last:.0f} ms** (max {worst:.0f} ms), "
            f"limit median {limit:.1f} ms: **{med(ratios):.1f}x** the limit (median of the rounds' ratios; "
            f"{min(ratios):.1f}-{max(ratios):.1f}x); close answered after {close:.0f} ms, last screen "
            f"{after:.0f} ms after the announce's answer (medians); server CPU {cpu * 1000:.0f} ms a round (median); results "
            f"frame {measured[-1].results_kb:.1f} KiB. Goal within {GOAL_RATIO:.0f}x: "
            f"**{'met' if med(ratios) <= GOAL_RATIO else 'NOT met'}**; under {GOAL_MS:.0f} ms: "
            f"**{'met' if last < GOAL_MS else 'NOT met'}**.")
    add("")
    if r.profile:
        add(r.profile)
        add("")
    if r.problems:
        add("### Problems seen in this run")
        add("")
        for problem in r.problems:
            add(f"- {problem}")
        add("")
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------------


def run_round(args: argparse.Namespace, server: Server, keys: dict[str, str], round_id: str, schema: str, n: int,
              count: int, limit: Limit, probe: CpuProbe, rng: random.Random, results: Results) -> None:
    """One meeting set up on `server`, voted, closed and announced while its screens watch."""
    from common import tokens

    t = time.perf_counter()
    admin, host = Api(server.port, keys["admin"]), Api(server.port, keys["host"])
    tellers = [Api(server.port, keys["teller1"]), Api(server.port, keys["teller2"])]
    meeting = setup_meeting(admin, host, round_id, count)
    asyncio.run(cast_phones(server.port, meeting, rng))
    enter_paper(tellers, meeting, rng)
    page_tokens = {kind: tokens.issue(county=schema, meeting_id=meeting.mid, kind=kind) for kind in ("screen", "console")}
    rnd = Round(n, warmup=n == 0, mid=meeting.mid, label=server.label)
    profiler = Profiler(Path(args.profile), server.proc.pid) if args.profile else None

    async def measure() -> None:
        screens = await open_screens(server.port, meeting.mid, page_tokens, args.screens)
        try:
            if profiler is not None:
                profiler.start(f"round{count}")
            try:
                await close_and_announce(server.port, keys["host"], screens, rnd, probe)
            finally:
                if profiler is not None:
                    profiler.stop()
        finally:
            await close_screens(screens)

    asyncio.run(measure())
    rnd.limit_ms, counted = limit.measure(meeting.mid)
    expected = 2 * PER_CATEGORY * len(SUBJECTS) * len(meeting.criteria)
    if counted != expected:
        rnd.problems.append(f"the limit aggregated {counted} marks, not {expected}")
    results.rounds.append(rnd)
    server_cpu = sum(v for k, v in rnd.cpu.items() if k.startswith("server"))
    say(f"round {n}{' (warm-up)' if rnd.warmup else ''} on {server.label}: close answered "
        f"{rnd.close_answer_ms:.0f} ms, announce answered {rnd.announce_answer_ms:.0f} ms, ballot_closed on the "
        f"last screen {rnd.closed_last_ms:.0f} ms, results on the median screen {rnd.median_ms:.0f} ms, LAST "
        f"{rnd.last_ms:.0f} ms (console {rnd.console_ms:.0f} ms; missing {rnd.missing}); limit {rnd.limit_ms:.1f} ms "
        f"({counted} marks); {rnd.last_ms / rnd.limit_ms:.1f}x; CPU s server {server_cpu:.2f}, PostgreSQL "
        f"{rnd.cpu.get('PostgreSQL', 0):.2f} [{time.perf_counter() - t:.0f} s]")
    for problem in rnd.problems:
        results.problems.append(f"round {n} ({server.label}): {problem}")
    if rnd.missing:
        results.problems.append(f"round {n} ({server.label}): {rnd.missing} screens never showed the results")



def main(argv: list[str] | None = None) -> int:
    parser = bench_arguments(__doc__, quick="2 measured rounds; implies --no-docs")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (after one warm-up)")
    parser.add_argument("--screens", type=int, default=200)
    parser.add_argument("--profile", metavar="DIR", help="py-spy record the server during each close into DIR")
    parser.add_argument("--against", metavar="REV",
                        help="also run a server on git revision REV (same database); rounds alternate between them")
    parser.add_argument("--profile-text", metavar="FILE",
                        help="a Markdown paragraph (where the time goes) to put in the docs section")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.no_docs = 2, True
    if args.profile:
        args.no_docs = True  # a profiled run is slower: its figures are not the record

    results = Results(started=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"), command=command_line(),
                      screens=args.screens)
    if args.profile_text:
        results.profile = Path(args.profile_text).read_text(encoding="utf-8").strip()
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="shuping-bench-spot-"))
    from shuping.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(workdir / "pg", port=free_port(), throwaway=False)
    servers: list[Server] = []
    limit: Limit | None = None
    try:
        say(f"starting PostgreSQL (durable) in {workdir} …")
        url = pg.start(log=False)
        key = secrets.token_urlsafe(50)
        env = dict(os.environ, DATABASE_URL=url, SHUPING_HOME=str(workdir), SHUPING_SECRET_KEY=key,
                   DJANGO_SETTINGS_MODULE="shuping.settings", PYTHONUNBUFFERED="1")
        for name in ("SHUPING_DEBUG", "REDIS_URL"):
            env.pop(name, None)
        subprocess.run([sys.executable, "-m", "shuping.cli", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="shuping.settings", SHUPING_SECRET_KEY=key)
        os.environ.pop("REDIS_URL", None)
        import django

        django.setup()
        from django.db import connection
        from django_tenants.utils import schema_context

        from accounts.api_tokens import issue_token
        from accounts.models import User
        from tenants.provisioning import create_county

        county = create_county(slug=COUNTY, name="基准县（当场公布）", domains=[HOST])
        keys = {}
        with schema_context(county.schema_name):
            for username, role in (("admin", "county_admin"), ("host", "host"), ("teller1", "teller"),
                                   ("teller2", "teller")):
                user = User.objects.create_user(username=f"bench_{username}", password=secrets.token_urlsafe(12),
                                                role=role)
                keys[username] = issue_token(user).key
        connection.close()
        results.machine = machine_info(url)
        results.machine["code"] = code_version()
        say(f"PostgreSQL: {results.machine['postgres']}\n  {results.machine['settings']}")

        server = Server(env, workdir / "uvicorn.log")
        servers = [server]
        if args.against:
            tree = workdir / "against"
            tree.mkdir()
            archive = subprocess.run(["git", "archive", args.against], cwd=REPO, check=True, capture_output=True)
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
            sha = subprocess.run(["git", "rev-parse", "--short", args.against], cwd=REPO, check=True,
                                 capture_output=True, text=True).stdout.strip()
            servers.append(Server(env, workdir / "uvicorn-against.log", label=f"`{sha}` ({args.against})",
                                  source=tree))
        for each in servers:
            each.wait_ready(HOST)
            say(f"server ({each.label}): {' '.join(each.argv)}")
        admin = Api(server.port, keys["admin"])
        round_id = admin.post("rounds/", {"name": "基准测试（当场公布）", "year": 2026,
                                          "variant": "shuang_shu_shuang_ping"}, 201)["round_id"]
        limit = Limit(url, county.schema_name)
        roots = {f"server {i}": each.proc.pid for i, each in enumerate(servers)}
        postmaster = pg.running_server()
        if postmaster is not None:
            roots["PostgreSQL"] = postmaster.pid
        probe = CpuProbe(roots)
        rng = random.Random(20261203)
        count = 0
        for n in range(args.rounds + 1):
            # Alternate which server goes first, so neither always follows the other.
            for each in servers if n % 2 == 0 else servers[::-1]:
                run_round(args, each, keys, round_id, county.schema_name, n, count, limit, probe, rng, results)
                count += 1
        for each in servers:
            errors = log_errors(each.output())
            if errors:
                results.problems.append(f"the log of the server on {each.label} shows: " + "; ".join(
                    f"`{line[:160]}` x {k}" for line, k in errors.most_common(5)))
        results.total_seconds = time.perf_counter() - began
        results.machine["load"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
        section = render(results)
        show_section("spot", section, no_docs=args.no_docs)
        return 1 if results.problems else 0
    finally:
        if limit is not None:
            limit.close()
        for each in servers:
            each.stop()
        close_django()
        pg.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
