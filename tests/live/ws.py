"""A small websocket client for tests: connects to the server with a county's Host header."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.live.server import LiveServer


class Screen:
    """One subscription: collects every message, and the close code if the server closes."""

    def __init__(self, server: LiveServer, host: str, path: str, *, origin: str | None = None) -> None:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        headers = {"Origin": origin} if origin else None
        self._connect = connect(server.ws_url(host, path), sock=sock, additional_headers=headers, open_timeout=10)
        self.conn: ClientConnection = self._connect.__enter__()
        self.messages: list[dict[str, Any]] = []
        self.close_code: int | None = None

    def next(self, timeout: float = 10) -> dict[str, Any] | None:
        try:
            raw = self.conn.recv(timeout=timeout)
        except TimeoutError:
            return None
        except ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd else None
            return None
        message = json.loads(raw)
        self.messages.append(message)
        return message

    def until(self, predicate: Any, timeout: float = 15) -> dict[str, Any]:
        """The first message (from now) for which `predicate(message)` holds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = self.next(timeout=max(0.05, deadline - time.monotonic()))
            if message is not None and predicate(message):
                return message
            if self.close_code is not None:
                break
        raise AssertionError(f"no such message in {timeout} s; got {[m.get('type') for m in self.messages][-20:]}")

    def drain(self, quiet: float = 0.5) -> list[dict[str, Any]]:
        """Messages until none has come for `quiet` seconds."""
        got = []
        while (message := self.next(timeout=quiet)) is not None:
            got.append(message)
        return got

    def send(self, message: dict[str, Any]) -> None:
        self.conn.send(json.dumps(message))

    def close(self) -> None:
        self._connect.__exit__(None, None, None)
