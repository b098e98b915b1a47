"""A websocket flood, run as its own process by tests/live/test_floods.py.

    python tests/live/flood_client.py <port> <host> <path-with-token> [sockets]

Opens `sockets` (30) sockets to the path with a valid token (a hall-screen
link is shared widely, so an attacker has one) and has each send, as fast
as its connection takes them, one kind of bad traffic:

- ``garbage``: text that is not JSON, or JSON that is not a protocol message;
- ``oversized``: text frames of 6 KiB (the protocol's limit is 4 KiB);
- ``binary``: binary frames;
- ``pings``: valid pings with no pause (what a broken client in a loop sends).

When the server closes a socket, it reconnects at once and starts again, so
the pressure lasts as long as the flood runs. It prints ``flooding`` once
the server has closed every socket once (and it reconnected), and stops when its standard input closes (or a
line arrives on it), then prints one JSON line: for each kind, the
connections made, frames sent, and the close codes the server chose
(`closed_by_client` counts the sockets still open at the stop).
"""

from __future__ import annotations

import asyncio
import collections
import json
import random
import sys
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

KINDS = ("garbage", "oversized", "binary", "pings")
GARBAGE = ["not json at all", "{", "[" * 3000, '{"type": "subscribe", "meeting": "*"}', '{"type": 1}',
           '"ping"', "[]", '{"type": "ping"' + " " * 100]


def frame(kind: str, rng: random.Random) -> str | bytes:
    if kind == "garbage":
        return rng.choice(GARBAGE)
    if kind == "oversized":
        return '{"type": "ping", "pad": "' + "x" * 6000 + '"}'
    if kind == "binary":
        return rng.randbytes(64)
    return '{"type": "ping"}'


class Tally:
    def __init__(self) -> None:
        self.connections: collections.Counter[str] = collections.Counter()
        self.frames: collections.Counter[str] = collections.Counter()
        self.closes: dict[str, collections.Counter[str]] = {kind: collections.Counter() for kind in KINDS}
        self.refused: collections.Counter[str] = collections.Counter()

    def report(self) -> dict[str, Any]:
        return {kind: {"connections": self.connections[kind], "frames": self.frames[kind],
                       "closes": dict(self.closes[kind]), "refused_handshakes": self.refused[kind]}
                for kind in KINDS}


async def drain(conn: ClientConnection) -> None:
    """Read what the server sends (its snapshot, its error), so that its close frame is seen."""
    try:
        async for _ in conn:
            pass
    except ConnectionClosed:
        pass


async def one_socket(url: str, port: int, kind: str, tally: Tally, stop: asyncio.Event, ready: asyncio.Event,
                     closed_once: list[int]) -> None:
    rng = random.Random()
    first = True
    while not stop.is_set():
        try:
            # The county's host name in the URL (the Host header), the loopback address to connect to.
            conn = await connect(url, host="127.0.0.1", port=port, max_size=2**20, open_timeout=30,
                                 ping_interval=None)
        except (InvalidHandshake, InvalidStatus, OSError, TimeoutError):
            tally.refused[kind] += 1
            await asyncio.sleep(0.05)
            continue
        tally.connections[kind] += 1
        reader = asyncio.ensure_future(drain(conn))
        try:
            while not stop.is_set():
                await conn.send(frame(kind, rng))
                tally.frames[kind] += 1
                await asyncio.sleep(0)  # let the other sockets and the readers run: a flood of 30, not of 1
        except ConnectionClosed:
            pass
        if stop.is_set() and conn.close_code is None:
            tally.closes[kind]["closed_by_client"] += 1
            await conn.close()
        else:
            await reader  # the close handshake finishes; then the server's code is known
            code = conn.close_code
            tally.closes[kind][str(code)] += 1
            if first:  # this socket has been closed by the server once: it is flooding for real
                first = False
                closed_once[0] += 1
                if closed_once[0] == closed_once[1]:
                    ready.set()
        reader.cancel()


async def main(port: int, host: str, path: str, sockets: int) -> None:
    url = f"ws://{host}:{port}{path}"
    tally, stop, ready = Tally(), asyncio.Event(), asyncio.Event()
    closed_once = [0, sockets]
    tasks = [asyncio.ensure_future(one_socket(url, port, KINDS[i % len(KINDS)], tally, stop, ready,
                                              closed_once)) for i in range(sockets)]
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.readline)
    await ready.wait()
    print("flooding", flush=True)
    await stdin_closed
    stop.set()
    await asyncio.wait(tasks, timeout=30)
    print(json.dumps(tally.report()), flush=True)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]) if len(sys.argv) > 4 else 30))
