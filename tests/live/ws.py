"""A small websocket client for tests: connects to the server with a county's Host header.

Verdicts wait for an event (a message, a close) under a generous ceiling
(CEILING) that only a hung test reaches; nothing here decides by a quiet
spell ("no message for 0.5 s"), which on a busy machine is a race. To show
that something did NOT reach a screen, make a later change that must reach
it and check what came before it (an ordering fence).
"""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.live.server import LiveServer

CEILING = 30.0  # seconds: only a hung test waits this long for a message


class Screen:
    """One subscription: collects every message, and the close code if the server closes."""

    def __init__(self, server: LiveServer, host: str, path: str, *, origin: str | None = None) -> None:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=CEILING)
        headers = {"Origin": origin} if origin else None
        self._connect = connect(server.ws_url(host, path), sock=sock, additional_headers=headers,
                                open_timeout=CEILING)
        self.conn: ClientConnection = self._connect.__enter__()
        self.messages: list[dict[str, Any]] = []
        self.raw: list[str] = []  # the frames as sent, in the same order
        self.close_code: int | None = None

    def next(self, timeout: float = CEILING) -> dict[str, Any] | None:
        try:
            raw = self.conn.recv(timeout=timeout)
        except TimeoutError:
            return None
        except ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd else None
            return None
        message = json.loads(raw)
        self.messages.append(message)
        self.raw.append(raw if isinstance(raw, str) else raw.decode())
        return message

    def until(self, predicate: Any, timeout: float = CEILING) -> dict[str, Any]:
        """The first message (from now) for which `predicate(message)` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.next(timeout=max(0.05, deadline - time.monotonic()))
            if message is not None and predicate(message):
                return message
            if self.close_code is not None:
                break
        raise AssertionError(f"no such message in {timeout} s; got {[m.get('type') for m in self.messages][-20:]}")

    def send(self, message: dict[str, Any]) -> None:
        self.conn.send(json.dumps(message))

    def close(self) -> None:
        self._connect.__exit__(None, None, None)
