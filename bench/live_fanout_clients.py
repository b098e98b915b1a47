"""The load generator of bench/live_fanout.py: hall screens on websockets, phones casting over HTTP.

The screens record the arrival time and count of every frame they get; the
phones open their ballot forms, then cast a closed-loop burst or an open-loop
paced phase, recording when each answer arrived. Also the county host and the
ballot they use, shared with bench/live_fanout.py and its report.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from ballots_http import pct

HOST = "benchlive.localhost"
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
PER_CLIENT = 8  # connections per httpx client (one client's pool slows down with many)
CONNECT_AT_ONCE = 20  # screens opening at the same time
SETTLE_SECONDS = 30.0  # after the last answer, how long screens may take to show the final count


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
