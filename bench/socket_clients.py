"""The load generator of bench/sockets.py: a child process holding thousands of hall-screen websockets.

Run as `python bench/socket_clients.py --port P [--client raw|websockets]`
(bench/sockets.py starts it; `Child` is its handle). The first line on stdin
is the JSON list of screen URIs; then the parent's lines:

- ``watch C``: from now on, note when each screen first shows a count >= C;
- ``collect C``: wait (up to SETTLE_SECONDS) until every open screen showed
  C, then print their arrival times (CLOCK_MONOTONIC ns; 0 for a screen that
  showed it before the watch; null for one that never did) and this
  process's CPU seconds;
- ``quit``.

Two clients. ``websockets``: the library's asyncio client, no compression.
``raw`` (default): a bare asyncio Protocol that speaks just enough RFC 6455
for a hall screen (handshake, unfragmented server frames, pong for ping,
close), so that on a 2-core machine the load generator takes as little CPU as
possible from the server it measures. It does not check the handshake's
accept hash; the server's frames are not masked, ours are (a zero key).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CONNECT_AT_ONCE = 50  # handshakes in flight per child
SETTLE_SECONDS = 30.0
OPEN_TIMEOUT = 120.0


def raise_nofile(wanted: int | None) -> tuple[int, int]:
    """Set RLIMIT_NOFILE to `wanted` (default: the hard limit; root may raise the hard limit too)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted or hard
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, max(hard, target)))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(target, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


class Screens:
    """What every screen of this process showed, and when."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.best = [-1] * count
        self.opened = [False] * count
        self.snapshots = 0
        self.failed: dict[str, int] = {}
        self.closed: dict[str, int] = {}
        self.watching: dict[int, list[int | None]] = {}

    def message(self, i: int, raw: bytes | str) -> None:
        now = time.monotonic_ns()
        message = json.loads(raw)
        kind = message.get("type")
        if kind == "turnout":
            cast = int(message["cast"])
        elif kind == "snapshot" and "cast" in (message.get("turnout") or {}):
            cast = int(message["turnout"]["cast"])
        else:
            return
        if not self.opened[i]:
            self.opened[i] = True
            self.snapshots += 1
        if cast > self.best[i]:
            for target, times in self.watching.items():
                if self.best[i] < target <= cast and times[i] is None:
                    times[i] = now
            self.best[i] = cast

    def count_as(self, table: dict[str, int], error: BaseException | str) -> None:
        name = error if isinstance(error, str) else type(error).__name__ + (
            "" if isinstance(error, TimeoutError) else f": {error}"[:80])
        table[name] = table.get(name, 0) + 1

    @property
    def settled(self) -> bool:
        return self.snapshots + sum(self.failed.values()) >= self.count


class RawScreen(asyncio.Protocol):
    """One hall screen over a bare websocket: handshake, then server frames parsed in place."""

    def __init__(self, screens: Screens, i: int, host: str, path: str) -> None:
        self.screens, self.i = screens, i
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n").encode()
        self.buf = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None
        self.gone = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(exc or ConnectionError("closed during the handshake"))
        elif not self.gone:
            self.screens.count_as(self.screens.closed, "lost")
        self.gone = True

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded.done():
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buf[:buf.find(b"\r\n")])
            del buf[:end + 4]
            if b" 101 " not in status:
                self.upgraded.set_exception(ConnectionError(status.decode("latin-1")))
                return
            self.upgraded.set_result(None)
        while len(buf) >= 2:
            opcode, size, at = buf[0] & 0x0F, buf[1] & 0x7F, 2
            if size == 126:
                if len(buf) < 4:
                    return
                size, at = int.from_bytes(buf[2:4], "big"), 4
            elif size == 127:
                if len(buf) < 10:
                    return
                size, at = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < at + size:
                return
            payload = bytes(buf[at:at + size])
            del buf[:at + size]
            if opcode == 1:
                self.screens.message(self.i, payload)
            elif opcode == 9 and self.transport is not None:  # ping: pong with the same payload
                self.transport.write(bytes((0x8A, 0x80 | len(payload))) + b"\0\0\0\0" + payload)
            elif opcode == 8:
                self.gone = True
                self.screens.count_as(self.screens.closed, f"closed by server {int.from_bytes(payload[:2], 'big')}")


async def run(uris: list[str], port: int, client: str) -> None:
    loop = asyncio.get_running_loop()
    screens = Screens(len(uris))
    gate = asyncio.Semaphore(CONNECT_AT_ONCE)
    keep: list[Any] = []

    async def open_raw(i: int) -> None:
        parts = urlsplit(uris[i])
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            async with gate:
                transport, proto = await asyncio.wait_for(loop.create_connection(
                    lambda: RawScreen(screens, i, str(parts.netloc), path), "127.0.0.1", port), OPEN_TIMEOUT)
                keep.append(transport)
                await asyncio.wait_for(proto.upgraded, OPEN_TIMEOUT)
        except Exception as error:  # noqa: BLE001 - counted and reported: what breaks first
            screens.count_as(screens.failed, error)

    async def open_websockets(i: int) -> None:
        from websockets.asyncio.client import connect

        try:
            async with gate:
                conn = await connect(uris[i], host="127.0.0.1", port=port, proxy=None, compression=None,
                                     ping_interval=None, open_timeout=OPEN_TIMEOUT, max_size=2**20, max_queue=64)
        except Exception as error:  # noqa: BLE001
            screens.count_as(screens.failed, error)
            return
        keep.append(conn.transport)
        try:
            async for raw in conn:
                screens.message(i, raw)
        except Exception as error:  # noqa: BLE001
            screens.count_as(screens.closed, error)
        else:
            screens.count_as(screens.closed, "closed by server")

    opener = open_raw if client == "raw" else open_websockets
    tasks = [asyncio.create_task(opener(i)) for i in range(len(uris))]
    began = time.monotonic()
    while not screens.settled and time.monotonic() - began < 600:
        await asyncio.sleep(0.2)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def tell(payload: dict[str, Any]) -> None:
        ru = resource.getrusage(resource.RUSAGE_SELF)
        payload["cpu"] = {"user": ru.ru_utime, "sys": ru.ru_stime}
        sys.stdout.write(json.dumps(payload) + "\n")
        sys.stdout.flush()

    waiting = screens.count - screens.snapshots - sum(screens.failed.values())
    if waiting:  # neither open nor failed when the bench stops waiting (e.g. queued behind a full accept queue)
        screens.count_as(screens.failed, f"no snapshot within {time.monotonic() - began:.0f} s")
        screens.failed[next(reversed(screens.failed))] = waiting
    tell({"open": screens.snapshots, "failed": screens.failed, "seconds": time.monotonic() - began})
    while line := (await reader.readline()).decode().strip():
        verb, _, arg = line.partition(" ")
        if verb == "watch":
            target = int(arg)
            screens.watching[target] = [0 if best >= target else None for best in screens.best]
        elif verb == "collect":
            target = int(arg)
            times = screens.watching.get(target, [0] * screens.count)
            deadline = time.monotonic() + SETTLE_SECONDS
            while time.monotonic() < deadline and any(
                    t is None for t, up in zip(times, screens.opened, strict=True) if up):
                await asyncio.sleep(0.01)
            tell({"times": [t for t, up in zip(times, screens.opened, strict=True) if up], "closed": screens.closed})
            screens.watching.pop(target, None)
        elif verb == "quit":
            break
    for transport in keep:
        transport.abort()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


class Child:
    """One load-generator process and its line protocol (seen from bench/sockets.py)."""

    def __init__(self, uris: list[str], port: int, nofile: int, client: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--port", str(port), "--nofile", str(nofile), "--client", client],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parent.parent,
        )
        self.send(json.dumps(uris))

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"load generator {self.proc.pid} exited ({self.proc.poll()})")
        return dict(json.loads(line))

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.send("quit")
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--nofile", type=int, default=0)
    parser.add_argument("--client", choices=("raw", "websockets"), default="raw")
    args = parser.parse_args()
    raise_nofile(args.nofile or None)
    uris = json.loads(sys.stdin.readline())
    import uvloop

    uvloop.run(run(uris, args.port, args.client))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
