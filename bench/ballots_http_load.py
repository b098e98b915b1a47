"""The load of bench/ballots_http.py: each phase's requests or rows, and what sends them.

Ballots interleaved across the meetings; phones (a minimal HTTP/1.1 client on
asyncio streams, or httpx with `--client httpx`) sending them closed loop or
open loop; the raw floor's psycopg writer threads. Each phase returns a Phase.
Also the county host and the ballot's subjects, shared with bench/ballots_http.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

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
