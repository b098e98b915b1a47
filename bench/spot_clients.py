"""The hall side of bench/spot.py: phones casting over HTTP, screens and console on websockets, the measured close.

Also the meeting's shape shared with bench/spot.py and its report: the county
host, the subjects, the paper batches.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import statistics
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from live_fanout import CpuProbe

HOST = "benchspot.localhost"
SUBJECTS = [(f"s{i}", f"述评对象{i}") for i in range(10)]
PAPER_BATCHES = 4
CLIENTS = 16  # concurrent phones casting
PER_CLIENT = 8  # connections per httpx client
CONNECT_AT_ONCE = 20
WAIT_SECONDS = 30.0


@dataclass
class Meeting:
    mid: str
    phone: list[tuple[str, str]]  # (code, category)
    paper: list[tuple[str, str]]
    grades: dict[str, list[str]]  # subject kind -> grade ids
    criteria: list[str]


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
