"""What a room (live.relay) keeps per socket and per page kind, and the frames it sends them.

A `Subscriber` is one socket as its room sees it: how to send to it and what
it was sent last. A `Frame` is the room's latest snapshot of one page kind,
encoded once and handed to every socket of that kind.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

Send = Callable[[dict[str, Any]], Awaitable[None]]

_background: set[asyncio.Future[Any]] = set()


def keep(task: asyncio.Future[Any]) -> asyncio.Future[Any]:
    """Hold a reference to a fire-and-forget task until it is done (the loop keeps only weak ones)."""
    _background.add(task)
    task.add_done_callback(_background.discard)
    return task


def encode(body: dict[str, Any]) -> dict[str, Any]:
    """One ASGI send message for a body; the same dict is handed to every socket that gets it."""
    return {"type": "websocket.send", "text": json.dumps(body, ensure_ascii=False, default=str)}


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def cast_of(body: dict[str, Any]) -> int:
    return int((body.get("turnout") or {}).get("cast", 0))


def with_cast(body: dict[str, Any], cast: int) -> dict[str, Any]:
    return dict(body, turnout=dict(body.get("turnout") or {}, cast=cast))


class Subscriber:
    """One socket as its room sees it: how to send to it and what it was sent last."""

    __slots__ = ("kind", "send", "version", "seq", "cast", "phase", "eligible", "paper", "last_sent",
                 "ready", "inflight", "timer", "gone", "generation")

    def __init__(self, kind: str, send: Send) -> None:
        self.kind = kind
        self.send = send  # the ASGI send of the socket
        self.version = -1  # stream version of the last snapshot sent
        self.seq = 0  # the room's sequence of that snapshot (for rooms without versions)
        self.cast = 0  # the count the socket shows
        self.phase = ""
        self.eligible = 0
        self.paper = 0
        self.last_sent = -math.inf
        self.ready = False  # False until its first snapshot went out, and while a resync is read
        self.inflight: asyncio.Task[None] | None = None  # a send waiting for the socket's buffer
        self.timer: asyncio.TimerHandle | None = None
        self.gone = False
        self.generation = 0  # a screen's link generation (live.screen_links)

    def shown(self, body: dict[str, Any], seq: int) -> None:
        self.version = int(body.get("version", 0))
        self.seq = seq
        self.phase = str(body.get("phase", ""))
        turnout = body.get("turnout") or {}
        self.cast = int(turnout.get("cast", 0))
        self.eligible = int(turnout.get("eligible", 0))
        self.paper = int(turnout.get("paper", 0))


async def close_with(sub: Subscriber, message: dict[str, Any], code: int) -> None:
    """Send `message`, then close the socket with `code` (nothing happens if it is gone already)."""
    try:
        await sub.send(message)
        await sub.send({"type": "websocket.close", "code": code})
    except Exception:  # already gone
        pass


class Frame:
    """The room's latest snapshot of one page kind."""

    __slots__ = ("body", "message", "version", "seq", "asked")

    def __init__(self) -> None:
        self.body: dict[str, Any] | None = None
        self.message: dict[str, Any] | None = None
        self.version = -1
        self.seq = 0
        self.asked = -1  # the newest version a build of this kind was asked for
