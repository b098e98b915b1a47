"""Websocket consumers: one per page kind, each pushing snapshots of one meeting.

A consumer parses, authorizes the subscription (a signed token scoped to the
county, the meeting and the page kind), joins its group and forwards. It
never writes: commands go through the API (the one door).

The protocol (docs/live.md):
- server -> client: ``snapshot`` (the whole state of the page, with the
  meeting's stream ``version``), ``turnout`` (ballots cast, with the version
  it was counted at), ``pong``, ``error`` (then close).
- client -> server: ``resync`` (send me a snapshot now), ``ping``.
A client that reconnects gets a snapshot on connect; a ``turnout`` whose
version is not the client's means it missed a change: it asks to resync.

Fan-out: a socket has no channel of its own in the channel layer. It joins
its group's room in this process (live.relay), which holds one subscription
per group and sends every socket of a page kind the same pre-encoded frame,
at most one message per `relay.WINDOW` per socket (the first after a quiet
spell at once, a burst folded into one). Turnout notices carry their count,
so forwarding them costs no database read; a state change costs one
snapshot read per page kind per room, not one per socket.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.generic.websocket import AsyncWebsocketConsumer

from common import limits, tokens
from common.refusal import Refusal
from live import bus, flood, relay, screen_links
from live.scope import in_county

log = logging.getLogger(__name__)

MAX_CLIENT_MESSAGE = 4096  # bytes: clients only ever say ping or resync
RESYNC_SECONDS = 1.0  # the least time between two snapshot reads a socket asks for


class ClosedWith(Exception):
    def __init__(self, code: str, message_zh: str, message_en: str, close_code: int) -> None:
        super().__init__(code)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.close_code = close_code


class LiveConsumer(AsyncWebsocketConsumer):
    """Base: authorize on connect, send a snapshot, then the room's updates."""

    kind = ""
    versioned = True  # the page's state has the meeting stream's version
    # No channel per socket: the room of the socket's group holds one per process.
    channel_layer_alias = "live.no-channel-per-socket"

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels checks the database connections in a thread before every
        # message; this consumer reads the database only through in_county
        # (database_sync_to_async, which does that check in its own thread).
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.room: relay.Room | None = None
        self.sub = relay.Subscriber(self.kind, self.base_send)
        self.last_resync = float("-inf")
        self.budget = flood.FrameBudget(now=time.monotonic())
        self.closing = False
        await self.accept()
        try:
            self.county = self._county()
            self.meeting_id = self._meeting_id()
            await self.authorize(self._token())
            # Subscribe first, then read: a change committed after the read reaches the room.
            self.room = await relay.relay().join(self.sub, group=self._group(), county=self.county,
                                                 meeting_id=self.meeting_id, versioned=self.versioned)
            await self.joined(self._token())
            await self.room.send_fresh(self.sub)
        except tokens.TokenRefused as refused:
            await self.refuse(refused.code, refused.message_zh, refused.message_en, 4403)
        except ClosedWith as closed:
            await self.refuse(closed.code, closed.message_zh, closed.message_en, closed.close_code)
        except Refusal as error:
            await self.refuse(error.code, error.message_zh, error.message_en, 4404)
        except BaseException:
            # Anything else (a database error while reading the snapshot, a
            # socket that closed meanwhile): Channels will not call disconnect
            # after a failed connect, so leave the room here or it stays open.
            self._leave()
            raise

    async def authorize(self, token: str | None) -> None:
        """Raise TokenRefused unless the token opens this page (screens check more: ScreenConsumer)."""
        tokens.check(token, county=self.county, meeting_id=self.meeting_id, kind=self.kind)

    async def joined(self, token: str | None) -> None:
        """Called once the socket is in its room, before its first snapshot."""

    def _county(self) -> str:
        if not self.scope.get("origin_ok", False):
            raise ClosedWith("origin_refused", "来源不被允许", "origin not allowed", 4403)
        county = self.scope.get("county")
        if not county:
            raise ClosedWith("unknown_host", "未知的县区域名", "unknown county host", 4404)
        return str(county)

    def _meeting_id(self) -> str:
        return str(self.scope["url_route"]["kwargs"]["meeting_id"])

    def _token(self) -> str | None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        values = query.get("t") or []
        return values[-1] if values else None

    def _group(self) -> str:
        return bus.meeting_group(self.county, self.meeting_id)

    def _leave(self) -> None:
        if self.room is not None:
            relay.relay().leave(self.room, self.sub)
            self.room = None

    async def refuse(self, code: str, zh: str, en: str, close_code: int) -> None:
        self._leave()
        await self.send(json.dumps({"type": "error", "code": code, "message": zh, "message_en": en}, ensure_ascii=False))
        await self.close(code=close_code)

    async def disconnect(self, code: int) -> None:
        self._leave()

    # -- client -> server -------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        # Cheapest checks first: a flood is judged before any frame is parsed.
        if self.closing:
            return  # frames already queued behind the one that closed the socket
        if not self.budget.take(time.monotonic()):
            await self.shut("too_many_messages", "消息过于频繁，连接已关闭", "too many messages; connection closed", 4429)
            return
        if bytes_data is not None:
            await self.shut("bad_message", "只接受文本消息", "only text messages are accepted", 1003)
            return
        raw = (text_data or "").encode("utf-8", "replace")
        if len(raw) > MAX_CLIENT_MESSAGE:
            await self.shut("message_too_big", "消息过大", "message too big", 1009)
            return
        kind = _message_type(raw)
        if kind not in ("ping", "resync"):
            # The protocol has two messages; anything else is a broken or hostile client.
            await self.shut("bad_message", "无法识别的消息", "unknown message", 4400)
            return
        if self.room is None:
            return
        if kind == "ping":
            await self.send(json.dumps({"type": "pong", "version": self.sub.version}))
        else:
            # A hall-screen link is shared widely: one socket asking in a loop
            # must not keep the database busy. A read at most every
            # RESYNC_SECONDS; a request sooner is answered when the room next
            # sends (the client resyncs again on any version gap).
            now = time.monotonic()
            if now - self.last_resync >= RESYNC_SECONDS:
                self.last_resync = now
                await self.room.send_fresh(self.sub)

    async def shut(self, code: str, zh: str, en: str, close_code: int) -> None:
        """Close a socket whose client broke the protocol: the error message, then the close code."""
        self.closing = True
        log.info("live socket closed: %s (%s)", code, close_code)
        await self.refuse(code, zh, en, close_code)


def _message_type(raw: bytes) -> str | None:
    """The ``type`` of a client frame, or None for anything that is not a JSON object with one."""
    try:
        message = limits.loads(raw)  # bounded depth: 4 KiB of "[" must not reach a RecursionError
    except Refusal:
        return None
    kind = message.get("type") if isinstance(message, dict) else None
    return kind if isinstance(kind, str) else None


class ScreenConsumer(LiveConsumer):
    kind = "screen"

    async def authorize(self, token: str | None) -> None:
        # Also not revoked (live.screen_links): a database read, in the county's schema.
        tokens.check(token, county=self.county, meeting_id=self.meeting_id, kind=self.kind)
        self.sub.generation = await in_county(
            self.county, screen_links.check, token, county=self.county, meeting_id=self.meeting_id
        )

    async def joined(self, token: str | None) -> None:
        # A revocation that committed between the check above and joining the
        # room sent its notice before this socket could hear it: check again.
        await in_county(self.county, screen_links.check, token, county=self.county, meeting_id=self.meeting_id)


class PhoneConsumer(LiveConsumer):
    kind = "phone"


class ConsoleConsumer(LiveConsumer):
    kind = "console"


class TellerConsumer(LiveConsumer):
    kind = "teller"


class DashboardConsumer(LiveConsumer):
    kind = "dashboard"
    versioned = False  # county-wide: no one stream version to compare

    def _meeting_id(self) -> str:
        return tokens.COUNTY_WIDE

    def _group(self) -> str:
        return bus.county_group(self.county)
