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

Coalescing: a burst of notices (300 ballots in a minute, 20 check-ins in a
second) must not become a flood of messages and database reads per screen.
The first notice after a quiet spell is sent at once; later ones are folded
into one message per `COALESCE_SECONDS` per screen. Turnout notices carry
their count, so forwarding them costs no database read; state changes cost
one (cached) read per screen per window.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer

from live import bus, snapshots, tokens
from live.scope import in_county
from meetings.domain.aggregate import DomainError

log = logging.getLogger(__name__)

COALESCE_SECONDS = 0.05
MAX_CLIENT_MESSAGE = 4096  # bytes: clients only ever say ping or resync
SNAPSHOT_REUSE_SECONDS = 0.25

# One change reaches every screen of a meeting at once; 200 screens reading
# the same snapshot 200 times would queue on the database thread. Consumers
# of one process share a snapshot per (county, page kind, meeting): one
# builds it, the others await the same future; a snapshot is reused while it
# is recent and at least as new as the change that asked for it.
_built: dict[tuple[str, str, str], tuple[float, dict[str, Any]]] = {}
_building: dict[tuple[str, str, str], asyncio.Future[dict[str, Any]]] = {}


async def shared_snapshot(key: tuple[str, str, str], min_version: int, build: Any) -> dict[str, Any]:
    hit = _built.get(key)
    if hit is not None and time.monotonic() - hit[0] < SNAPSHOT_REUSE_SECONDS and hit[1].get("version", 0) >= min_version:
        return hit[1]
    pending = _building.get(key)
    if pending is None or pending.done():
        pending = asyncio.ensure_future(build())
        _building[key] = pending
        try:
            body: dict[str, Any] = await asyncio.shield(pending)
        finally:
            if _building.get(key) is pending:
                del _building[key]
        _built[key] = (time.monotonic(), body)
        if len(_built) > 5000:
            _built.clear()
        return body
    return await asyncio.shield(pending)


class ClosedWith(Exception):
    def __init__(self, code: str, message_zh: str, message_en: str, close_code: int) -> None:
        super().__init__(code)
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.close_code = close_code


class LiveConsumer(AsyncWebsocketConsumer):
    """Base: authorize on connect, send a snapshot, then coalesced updates."""

    kind = ""

    async def connect(self) -> None:
        self.group: str | None = None
        self.version = -1
        self.cast = 0
        self.eligible = 0
        self.paper = 0
        self.dirty_state = False
        self.dirty_turnout = False
        self.wanted_version = 0
        self.last_flush = 0.0
        self.flush_task: asyncio.Task[None] | None = None
        await self.accept()
        try:
            self.county = self._county()
            self.meeting_id = self._meeting_id()
            tokens.check(self._token(), county=self.county, meeting_id=self.meeting_id, kind=self.kind)
            self.group = self._group()
            await self.channel_layer.group_add(self.group, self.channel_name)
            # A new screen knows nothing yet: never hand it a shared (possibly older) snapshot.
            await self.send_snapshot(fresh=True)
        except tokens.TokenRefused as refused:
            await self.refuse(refused.code, refused.message_zh, refused.message_en, 4403)
        except ClosedWith as closed:
            await self.refuse(closed.code, closed.message_zh, closed.message_en, closed.close_code)
        except DomainError as error:
            await self.refuse(error.code, error.message_zh, error.message_en, 4404)

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

    async def refuse(self, code: str, zh: str, en: str, close_code: int) -> None:
        await self.send(json.dumps({"type": "error", "code": code, "message": zh, "message_en": en}, ensure_ascii=False))
        await self.close(code=close_code)

    async def disconnect(self, code: int) -> None:
        if self.flush_task is not None:
            self.flush_task.cancel()
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    # -- client -> server -------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > MAX_CLIENT_MESSAGE or bytes_data is not None:
            await self.close(code=1009)
            return
        try:
            message = json.loads(text_data or "")
            kind = message.get("type") if isinstance(message, dict) else None
        except ValueError:
            kind = None
        if self.group is None:
            return
        if kind == "ping":
            await self.send(json.dumps({"type": "pong", "version": self.version}))
        elif kind == "resync":
            await self.send_snapshot(fresh=True)
        else:
            await self.send(json.dumps({"type": "error", "code": "unknown_message",
                                        "message": "无法识别的消息", "message_en": "unknown message"}))

    # -- group -> consumer --------------------------------------------------------------

    async def meeting_changed(self, event: dict[str, Any]) -> None:
        version = int(event.get("version", 0))
        if version != self.version:
            self.wanted_version = max(self.wanted_version, version)
            self.dirty_state = True
            self.schedule()

    async def meeting_turnout(self, event: dict[str, Any]) -> None:
        version = int(event.get("version", self.version))
        if version != self.version:
            self.wanted_version = max(self.wanted_version, version)
            self.dirty_state = True  # a change we have not seen yet: a snapshot carries both
        cast = int(event.get("cast", 0))
        if cast > self.cast:
            self.cast = cast
            self.dirty_turnout = True
        if self.dirty_state or self.dirty_turnout:
            self.schedule()

    async def county_changed(self, event: dict[str, Any]) -> None:
        self.dirty_state = True
        self.schedule()

    def schedule(self) -> None:
        if self.flush_task is not None and not self.flush_task.done():
            return
        delay = max(0.0, self.last_flush + COALESCE_SECONDS - time.monotonic())
        self.flush_task = asyncio.ensure_future(self._flush_after(delay))

    async def _flush_after(self, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        self.last_flush = time.monotonic()
        try:
            if self.dirty_state:
                await self.send_snapshot()
            elif self.dirty_turnout:
                self.dirty_turnout = False
                await self.send(json.dumps({
                    "type": "turnout", "version": self.version, "cast": self.cast,
                    "eligible": self.eligible, "paper": self.paper,
                }))
        except Exception:  # a failed read must not kill the screen; the next notice retries
            log.exception("live flush failed for %s", self.group)
            self.dirty_state = True

    # -- snapshots ----------------------------------------------------------------------

    async def build_snapshot(self) -> dict[str, Any]:
        return await in_county(self.county, snapshots.BUILDERS[self.kind], self.meeting_id)

    async def send_snapshot(self, *, fresh: bool = False) -> None:
        self.dirty_state = False
        self.dirty_turnout = False
        if fresh:
            body = await self.build_snapshot()
        else:
            key = (self.county, self.kind, self.meeting_id)
            body = await shared_snapshot(key, self.wanted_version, self.build_snapshot)
        # Shared with other consumers: copy what is changed per screen.
        body = dict(body, turnout=dict(body.get("turnout") or {}), server_now=datetime.now(UTC).isoformat())
        self.version = int(body.get("version", 0))
        turnout = body.get("turnout") or {}
        # Counts move forward only: a snapshot read just before a ballot
        # committed must not take the screen back below a count it showed.
        self.cast = max(int(turnout.get("cast", 0)), self.cast) if body.get("phase") == "ballot_open" else int(turnout.get("cast", 0))
        if turnout:
            turnout["cast"] = self.cast
            self.eligible = int(turnout.get("eligible", 0))
            self.paper = int(turnout.get("paper", 0))
        await self.send(json.dumps(body, ensure_ascii=False, default=str))


class ScreenConsumer(LiveConsumer):
    kind = "screen"


class PhoneConsumer(LiveConsumer):
    kind = "phone"


class ConsoleConsumer(LiveConsumer):
    kind = "console"


class TellerConsumer(LiveConsumer):
    kind = "teller"


class DashboardConsumer(LiveConsumer):
    kind = "dashboard"

    def _meeting_id(self) -> str:
        return tokens.COUNTY_WIDE

    def _group(self) -> str:
        return bus.county_group(self.county)

    async def build_snapshot(self) -> dict[str, Any]:
        return await in_county(self.county, snapshots.dashboard)

    async def send_snapshot(self, *, fresh: bool = False) -> None:
        # County changes carry no version to compare a shared snapshot with.
        await super().send_snapshot(fresh=True)
