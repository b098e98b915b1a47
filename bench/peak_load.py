"""The load generator of bench/peak.py: hall screens, consoles, phones and hosts of many meetings, in its own process.

Started by bench/peak.py as `python bench/peak_load.py PLAN.json OUT.json`
(one process per shard of the halls). It reads the plan (the server's port,
the meetings with their county host, codes and tokens, which hall runs which
meetings, when the peak starts), and:

1. opens every meeting's hall screen and host console websocket, and records
   the arrival time, turnout count and phase of every frame;
2. at the peak's start, runs each hall: its meetings one after the other.
   A meeting: the host opens the ballot; each voter's phone opens its form
   (`POST /api/v/<m>/form/`) 5-30 s before it casts, and casts at a random
   time within the meeting's voting window (open loop: a request leaves at its
   time whatever the others do; a phone takes a free keep-alive connection of
   a shared pool, and waiting for one counts in its latency); after the window
   (and the last answer) the host closes the ballot and announces the results
   at once, then closes the meeting, and the county's organization
   department publishes the notice from its desk (`/notices/<m>/`, a form page with a session);
3. writes what it saw (times on `time.monotonic()`, shared by every process
   of the machine) and its own CPU time over the peak (getrusage) to OUT.json.

It measures nothing itself: bench/peak.py matches ballots to screens.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ballots_http import Phone  # noqa: E402

GRADES = ("chenzhi", "jiben_chenzhi", "bu_chenzhi")
CONNECT_AT_ONCE = 20
RESULTS_WAIT = 60.0  # seconds a hall waits for the results on its screen before it moves on
FORM_LEAD = (5.0, 30.0)  # a voter opens the form this long before casting


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Pool:
    """Keep-alive connections shared by many senders; waiting for a free one is part of a request's latency."""

    def __init__(self, port: int, size: int) -> None:
        self.free: asyncio.Queue[Phone] = asyncio.Queue()
        for _ in range(size):
            self.free.put_nowait(Phone(port))
        self.size = size

    async def request(self, method: str, path: str, body: bytes | None, *, host: str, extra: str = "") -> int:
        phone = await self.free.get()
        try:
            status, _ = await phone.request(method, path, body, host=host, extra=extra)
            return status
        finally:
            self.free.put_nowait(phone)

    async def close(self) -> None:
        while not self.free.empty():
            await self.free.get_nowait().close()


class Hall:
    """One meeting's screen, console and the record of what happened to it."""

    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.screen: list[tuple[float, int | None, str, str | None]] = []  # (t, cast, type, phase)
        self.console_frames = 0
        self.console_bytes = 0
        self.closes: dict[str, str] = {}
        self.results_seen = asyncio.Event()
        self.results_at: float | None = None
        self.record: dict[str, Any] = {"mid": plan["mid"], "county": plan["county"], "slot": plan["slot"],
                                       "ballots": [], "forms": [], "ops": {}, "failures": 0}

    def on_screen(self, raw: str | bytes, now: float) -> None:
        message = json.loads(raw)
        kind = str(message.get("type"))
        cast: int | None = None
        phase = message.get("phase")
        if kind == "turnout":
            cast = int(message.get("cast", 0))
        elif kind == "snapshot":
            cast = (message.get("turnout") or {}).get("cast")
            if phase == "results_announced" and message.get("results") and self.results_at is None:
                self.results_at = now
                self.results_seen.set()
        self.screen.append((now, cast, kind, phase))


async def listen(conn: Any, on_frame: Any, hall: Hall, name: str) -> None:
    from websockets.exceptions import ConnectionClosed

    try:
        async for raw in conn:
            on_frame(raw, time.monotonic())
    except ConnectionClosed as closed:
        hall.closes[name] = str(closed.rcvd.code if closed.rcvd else "?")


async def open_sockets(port: int, halls: list[Hall]) -> tuple[list[Any], list[asyncio.Task[None]]]:
    from websockets.asyncio.client import connect

    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    conns: list[Any] = []
    tasks: list[asyncio.Task[None]] = []

    def console_frame(hall: Hall) -> Any:
        def on(raw: str | bytes, now: float) -> None:
            hall.console_frames += 1
            hall.console_bytes += len(raw)
        return on

    async def one(hall: Hall, kind: str) -> None:
        p = hall.plan
        uri = f"ws://{p['host']}:{port}/ws/m/{p['mid']}/{kind}/?t={p[kind + '_token']}"
        async with gate:
            conn = await connect(uri, host="127.0.0.1", port=port, proxy=None, open_timeout=60, ping_interval=None,
                                 max_queue=4096, max_size=2**22, compression=None)
        conns.append(conn)
        handler = hall.on_screen if kind == "screen" else console_frame(hall)
        tasks.append(asyncio.create_task(listen(conn, handler, hall, kind)))

    await asyncio.gather(*(one(h, kind) for h in halls for kind in ("screen", "console")))
    return conns, tasks


class Generator:
    def __init__(self, plan: dict[str, Any]) -> None:
        self.plan = plan
        self.port = int(plan["port"])
        self.rng = random.Random(plan["seed"])
        self.phones = Pool(self.port, int(plan["connections"]))
        self.hosts = Pool(self.port, int(plan["host_connections"]))
        self.desks: dict[str, Any] = {}
        self.desk_locks: dict[str, asyncio.Lock] = {}

    def marks(self) -> bytes:
        return json.dumps({sid: {"zongti": self.rng.choice(GRADES)} for sid in self.plan["subjects"]}).encode()

    async def host_op(self, hall: Hall, name: str, path: str, body: dict[str, Any] | None = None) -> int:
        p = hall.plan
        sent = time.monotonic()
        try:
            status = await self.hosts.request("POST", f"/api/meetings/{p['mid']}/{path}",
                                              json.dumps(body or {}).encode(), host=p["host"],
                                              extra=f"Authorization: Token {p['host_token']}\r\n")
        except ConnectionError:
            status = -1
        hall.record["ops"][name] = [sent, time.monotonic(), status]
        return status

    async def send(self, hall: Hall, kind: str, code: str, at: float) -> None:
        """A phone's form request or ballot, due at `at`; its latency counts from `at`."""
        p = hall.plan
        if kind == "form":
            path, body = f"/api/v/{p['mid']}/form/", json.dumps({"code": code}).encode()
        else:
            path = f"/api/v/{p['mid']}/ballot/"
            body = b'{"code": ' + json.dumps(code).encode() + b', "marks": ' + self.marks() + b"}"
        try:
            status = await self.phones.request("POST", path, body, host=p["host"])
        except ConnectionError:
            hall.record["failures"] += 1
            return
        hall.record["forms" if kind == "form" else "ballots"].append([at, time.monotonic(), status])

    async def meeting(self, hall: Hall) -> None:
        p = hall.plan
        await self.host_op(hall, "ballot_open", "ballot/open/")
        opened = time.monotonic()
        window = float(p["window"])
        due: list[tuple[float, str, str]] = []
        for code in p["codes"]:
            cast_at = opened + 0.2 + self.rng.uniform(0, window)
            if self.plan["forms"]:
                due.append((max(opened + 0.1, cast_at - self.rng.uniform(*FORM_LEAD)), "form", code))
            due.append((cast_at, "cast", code))
        # Requests are tasks only while due or in flight: one sleeper per meeting, not one per voter.
        in_flight: set[asyncio.Task[None]] = set()
        for at, kind, code in sorted(due):
            await sleep_until(at)
            task = asyncio.create_task(self.send(hall, kind, code, at))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        await asyncio.gather(*list(in_flight))
        await sleep_until(opened + window + 0.5)
        await self.host_op(hall, "ballot_close", "ballot/close/")
        await self.host_op(hall, "announce", "results/announce/")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(hall.results_seen.wait(), timeout=RESULTS_WAIT)
        hall.record["results_on_screen"] = hall.results_at
        # The notice carries the log's head at the meeting's close: the host ends the meeting first.
        await self.host_op(hall, "meeting_close", "close/")
        await self.notice(hall)

    async def notice(self, hall: Hall) -> None:
        """The organization department publishes the notice from its desk: the form page, then its post."""
        import httpx

        p = hall.plan
        desk = self.desks.get(p["county"])
        if desk is None:
            desk = self.desks[p["county"]] = httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{self.port}", headers={"Host": p["host"]}, timeout=120, trust_env=False,
                cookies={p["session_cookie"]: p["session"]},
            )
        # One official per county's desk: two forms opened at once before the desk has a CSRF cookie would
        # each set a new one, and the first post would be refused (403) for a reason no person meets.
        lock = self.desk_locks.setdefault(p["county"], asyncio.Lock())
        async with lock:
            await self._publish(hall, desk)  # timed from the form's request: waiting for the desk is not the server's

    async def _publish(self, hall: Hall, desk: Any) -> None:
        import httpx

        p = hall.plan
        sent = time.monotonic()
        status = -1
        try:
            page = await desk.get(f"/notices/{p['mid']}/")
            title = re.search(r'name="title" value="([^"]*)"', page.text)
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]*)"', page.text)
            if page.status_code == 200 and title and token:
                import html

                answer = await desk.post(f"/notices/{p['mid']}/", data={
                    "csrfmiddlewaretoken": token[1], "op": "publish", "command_id": f"{p['mid']}-notice",
                    "title": html.unescape(title[1]), "text": "现将测评结果予以公示。", "working_days": "5",
                })
                status = answer.status_code
            else:
                status = page.status_code * 1000  # the form page itself failed (or had no form)
                hall.record["notice_page"] = re.sub(r"\s+", " ", page.text)[:3000]
        except httpx.HTTPError as error:
            hall.record["notice_error"] = f"{type(error).__name__}: {error}"[:300]
        hall.record["ops"]["notice"] = [sent, time.monotonic(), status]

    async def hall_line(self, halls: list[Hall], at: float) -> None:
        """One hall's meetings, one after the other (the next starts when the last published its notice)."""
        for hall in halls:
            await sleep_until(at)
            await self.meeting(hall)
            at = time.monotonic()

    async def run(self) -> dict[str, Any]:
        halls = {p["mid"]: Hall(p) for p in self.plan["meetings"]}
        t0 = time.monotonic()
        conns, tasks = await open_sockets(self.port, list(halls.values()))
        connected = time.monotonic() - t0
        start = float(self.plan["start_at"])
        late = max(0.0, time.monotonic() - start)
        cpu0, began = cpu_seconds(), max(start, time.monotonic())
        lines = [self.hall_line([halls[mid] for mid in line["meetings"]], began + float(line["offset"]))
                 for line in self.plan["lines"]]
        await asyncio.gather(*lines)
        ended, cpu1 = time.monotonic(), cpu_seconds()
        await asyncio.sleep(0.5)
        for conn in conns:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), timeout=5)
        for task in tasks:
            task.cancel()
        await self.phones.close()
        await self.hosts.close()
        for desk in self.desks.values():
            await desk.aclose()
        out = []
        for hall in halls.values():
            hall.record["screen"] = hall.screen
            hall.record["console"] = [hall.console_frames, hall.console_bytes]
            hall.record["closes"] = hall.closes
            out.append(hall.record)
        return {"began": began, "ended": ended, "cpu": cpu1 - cpu0, "late": late, "connect_seconds": connected,
                "sockets": len(conns), "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "meetings": out}


async def sleep_until(moment: float) -> None:
    delay = moment - time.monotonic()
    if delay > 0:
        await asyncio.sleep(delay)


def main() -> int:
    plan = json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))
    with contextlib.suppress(ImportError):
        import uvloop  # the same loop as the server's, when installed

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    result = asyncio.run(Generator(plan).run())
    Path(sys.argv[2]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
