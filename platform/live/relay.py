"""Fan-out inside one server process: one channel-layer subscription per group, shared frames.

Why: a hall has hundreds of screens and phones on one meeting. When every
socket had its own channel in the group, each update became one channel-layer
message per socket (a deep copy, a queue, a dispatch, a database-connection
check in a thread, a JSON encoding), and the in-memory layer scanned every
channel on each receive: at a ballot burst the server's CPU went to that.

Now each process holds a `Room` per group (``m.<county>.<meeting>``, or
``c.<county>`` for dashboards) with ONE channel in the group. It brings
every socket up to date with one frame encoded once and shared by all
sockets of the same page kind. With several processes behind Redis, each
process's room relays to its own sockets: the channel layer carries one
message per process per update, not one per screen.

What a room reads: one snapshot per page kind when a notice names a newer
stream version (or, for dashboards, when the county changed), at most once
per `WINDOW`. Ballot counts need no read: they come with their notices
(read right after each ballot's commit), through the group from every
process alike, this one's included, coalesced by their sender (live.bus:
the one throttle between a commit and a screen); the room keeps the largest
and passes it on at once.

What a socket is sent (docs/live.md has the whole rule): the newer snapshot
of its page kind (by the stream's version), else while voting a higher
``turnout``; snapshots at most once per `WINDOW` per socket, except one that
shows a new phase (ballot closed, results announced: read and sent at once,
since people in the hall wait for exactly those). A socket that cannot keep
up is not queued for (it gets the latest state when it can take it, in a
task of its own, never holding up the room); counts never go back.

Nothing here expires silently: the room reads its channel all the time (so
no message waits in the layer until its expiry), renews its group membership
about every `REFRESH_SECONDS` (spread: rooms opened together do not all
renew and rebuild in the same second; channel layers forget members after
``group_expiry``; the in-memory layer also drops a channel from its groups
when a message on it expires), and then rebuilds its snapshots and pushes
whatever a lost notice kept from the sockets. On Redis, a watch per process
(live.layer_watch) notices a Redis that came back or forgot its groups and
has every room rejoin and rebuild at once (`Relay.rejoin`), not at its next
renewal.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import InMemoryChannelLayer

from live import eager, layer_pool, layer_watch, turnouts
from live.frames import Frame, Subscriber, cast_of, close_with, encode, keep, now_iso, with_cast
from projections.phases import PHASE_OF_EVENT

log = logging.getLogger(__name__)

WINDOW = 0.05  # seconds: at most one message per socket per window
REFRESH_SECONDS = 60.0  # renew group membership, then re-check the state
# A renewal waits REFRESH_SECONDS times a random factor: rooms opened together (250 at a peak) do not
# all renew and rebuild in one second (live.layer_pool; casts and screens waited behind those rebuilds).
REFRESH_SPREAD = (0.8, 1.2)
HEAD_START = 0.003  # seconds: the least a round waits after news, so that the HTTP answer goes first

Build = Callable[[str, str, str], Awaitable[dict[str, Any]]]  # (county, meeting_id, kind) -> snapshot


class Room:
    """One group in this process: one channel in the layer, the latest frames, the sockets."""

    def __init__(self, relay: Relay, group: str, county: str, meeting_id: str, *, versioned: bool) -> None:
        self.relay = relay
        self.group = group
        self.county = county
        self.meeting_id = meeting_id
        self.versioned = versioned
        self.subs: dict[Subscriber, None] = {}  # insertion-ordered set
        self.kinds: dict[str, int] = {}  # page kind -> sockets of that kind
        self.frames: dict[str, Frame] = {}
        self.wanted = -1  # the newest stream version a notice named
        self.cast = 0  # the newest count (while voting)
        self.phase = ""  # of the newest snapshot the room has
        self.phase_version = -1
        self.stale = False  # rebuild every kind (a county change; a refresh)
        self.urgent = False  # a notice named an event that moves the phase: read and send at once
        self.last_flush = -math.inf  # when the last round started reading
        self.read_time = 0.0  # how long its reads took
        self.last_delivery = -math.inf  # when it started sending
        self.flushing = False
        self.timer: asyncio.TimerHandle | None = None
        self.channel: str | None = None
        self.started: asyncio.Future[None] | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.closed = False
        self._turnouts: dict[tuple[int, int, int, int], dict[str, Any]] = {}

    # -- lifecycle ----------------------------------------------------------------------------------

    async def _start(self) -> None:
        layer = self.relay.layer
        self.channel = await layer.new_channel()
        try:
            async with layer_pool.slot():
                await layer.group_add(self.group, self.channel)
        except Exception:
            watch = self.relay.watch
            if watch is None:
                raise
            # Redis is away: open the room all the same (its sockets get the database's state,
            # re-read while the layer fails); the watch adds it to its group when Redis answers.
            watch.suspect()
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._read()), loop.create_task(self._refresh())]

    async def close(self) -> None:
        self.closed = True
        if self.timer is not None:
            self.timer.cancel()
        for task in self.tasks:
            task.cancel()
        if self.channel is not None:
            try:
                async with layer_pool.slot():
                    await self.relay.layer.group_discard(self.group, self.channel)
            except Exception:  # pragma: no cover - the membership expires on its own
                log.warning("leaving %s failed", self.group, exc_info=True)

    async def _read(self) -> None:
        layer = self.relay.layer
        while True:
            try:
                message = await layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A layer outage: notices may be lost meanwhile. Without a watch, rebuild from the database
                # at each retry (once a second); with one, the watch has the rooms re-read while the layer
                # is away, and rejoin and rebuild once it answers again.
                watch = self.relay.watch
                if watch is None:
                    log.warning("reading %s failed; retrying", self.group, exc_info=True)
                    await asyncio.sleep(layer_watch.RETRY_SECONDS)
                    self.stale = True
                else:  # the watch logs the outage once for all rooms, and has them re-read meanwhile
                    watch.suspect()
                    await watch.wait_back()
                    continue
                self._schedule()
                continue
            try:
                self.notice(message)
            except Exception:  # pragma: no cover - a bad message must not stop the room
                log.exception("bad notice on %s: %r", self.group, message)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.relay.refresh * random.uniform(*REFRESH_SPREAD))
            try:
                async with layer_pool.slot():
                    await self.relay.layer.group_add(self.group, self.channel)
            except Exception:
                log.warning("renewing %s failed", self.group, exc_info=True)
                if self.relay.watch is not None:
                    self.relay.watch.suspect()
            # Whatever a lost notice kept from the sockets, a rebuild finds (and pushes only changes).
            self.stale = True
            self._schedule()

    # -- notices from the channel layer -------------------------------------------------------------

    def notice(self, message: dict[str, Any]) -> None:
        """A message from the channel layer."""
        kind = message.get("type")
        if kind == "meeting.changed":
            self.wanted = max(self.wanted, int(message.get("version", 0)))
            if self.versioned and any(name in PHASE_OF_EVENT for name in message.get("types") or ()):
                self.urgent = True
        elif kind == "meeting.turnout":
            self.turnout(int(message.get("cast", 0)), int(message.get("version", 0)))
            return
        elif kind == "county.changed":
            self.stale = True
        elif kind == "meeting.screens_revoked":
            self.revoke_screens(int(message.get("from", 0)))
            return
        self._schedule()

    def revoke_screens(self, generation: int) -> None:
        """Close the screens whose link is older than `generation` (the host revoked the links)."""
        refused = encode({"type": "error", "code": "token_revoked", "message": "此大屏链接已被主持人作废",
                          "message_en": "this hall-screen link was revoked by the host"})
        for sub in [s for s in self.subs if s.kind == "screen" and s.generation < generation]:
            self.relay.leave(self, sub)
            keep(asyncio.ensure_future(close_with(sub, refused, 4403)))

    def turnout(self, cast: int, version: int) -> None:
        """`cast` ballots were sealed (read after their commit), at stream `version`: pass it on now.

        The sender coalesced the counts already (live.bus: at most one notice
        per meeting per window from each process): that is the one throttle
        on a count's way, so the room adds no wait of its own. A higher count
        goes to every socket at once, in one frame per (version, count)
        shared by the sockets that show it.
        """
        if version > self.wanted:
            self.wanted = version
            self._schedule()  # the room's snapshots are older: read them
        if cast <= self.cast:
            return
        self.cast = cast
        self._turnouts.clear()
        at = asyncio.get_running_loop().time()
        for sub in list(self.subs):
            self._pass_count(sub, at)

    def _pass_count(self, sub: Subscriber, at: float) -> None:
        if not sub.ready or sub.gone or sub.inflight is not None or self.closed:
            return  # a socket busy with a send gets the latest count when it is done
        if not (self.versioned and sub.phase == "ballot_open" and self.cast > sub.cast):
            return
        frame = self.frames.get(sub.kind)
        if frame is not None and frame.message is not None and frame.version > sub.version:
            self.catch_up(sub, at)  # a newer snapshot is due: it goes within the socket's window, with the count
            return
        message = self._next_message(sub)
        if message is not None:
            sub.last_sent = at
            self._send(sub, message)

    def add(self, sub: Subscriber) -> None:
        if sub not in self.subs:
            self.subs[sub] = None
            self.kinds[sub.kind] = self.kinds.get(sub.kind, 0) + 1

    def remove(self, sub: Subscriber) -> None:
        if self.subs.pop(sub, 0) is None:
            left = self.kinds[sub.kind] - 1
            if left:
                self.kinds[sub.kind] = left
            else:
                del self.kinds[sub.kind]

    def _needs_flush(self) -> bool:
        if self.stale:
            return True
        return any(self.wanted > self.frames.setdefault(kind, Frame()).asked for kind in self.kinds)

    def _schedule(self) -> None:
        if self.closed or self.flushing or not self._needs_flush():
            return
        loop = asyncio.get_running_loop()
        if self.urgent:
            # A new phase: read now (HEAD_START: the command's HTTP answer goes first), not when the window opens.
            if self.timer is not None:
                if self.timer.when() <= loop.time() + HEAD_START:
                    return
                self.timer.cancel()
            self.timer = loop.call_later(HEAD_START, self._start_flush)
            return
        if self.timer is not None:
            return
        # Reads at most once per window; and start them as late as lets the round go out when its
        # window opens, so that they include as many commits as possible (the time they took last
        # round is the guess). Even after a quiet spell, wait a moment (HEAD_START): the request whose
        # commit brought the news then answers first, instead of waiting while the loop writes to
        # hundreds of sockets.
        window = self.relay.window
        ready = max(self.last_flush + window, self.last_delivery + window - self.read_time)
        self.timer = loop.call_later(max(ready - loop.time(), HEAD_START), self._start_flush)

    def _start_flush(self) -> None:
        self.timer = None
        if self.closed or self.flushing:
            return
        self.flushing = True
        keep(asyncio.get_running_loop().create_task(self._flush()))

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self.last_flush = loop.time()
            stale, self.stale = self.stale, False
            urgent, self.urgent = self.urgent, False
            wanted = self.wanted
            for kind in sorted(self.kinds):
                frame = self.frames.setdefault(kind, Frame())
                if stale or wanted > frame.asked:
                    body = await self.relay.build(self.county, self.meeting_id, kind)
                    frame.asked = max(frame.asked, wanted)
                    self.adopt(kind, body)
            self.read_time = min(loop.time() - self.last_flush, self.relay.window)
            gate = self.last_delivery + self.relay.window - loop.time()
            if gate > 0 and not urgent:  # rounds go out one window apart; a new phase goes at once
                await asyncio.sleep(gate)
            self.last_delivery = loop.time()
            self._turnouts.clear()
            for sub in list(self.subs):
                self.catch_up(sub, self.last_delivery)
        except Exception:
            log.exception("live update of %s failed; the next notice retries", self.group)
        finally:
            self.flushing = False
            if not self.closed:
                self._schedule()

    def adopt(self, kind: str, body: dict[str, Any]) -> bool:
        """Take `body` as the kind's latest snapshot if it is newer; True if it was."""
        frame = self.frames.setdefault(kind, Frame())
        version = int(body.get("version", 0))
        if self.versioned:
            if version >= self.phase_version:
                self.phase_version = version
                self.phase = str(body.get("phase", ""))
            if body.get("phase") == "ballot_open":
                self.cast = max(self.cast, cast_of(body))
                body = with_cast(body, self.cast)
            elif version >= frame.version:
                self.cast = cast_of(body)  # voting closed: the count is the log's
            if version <= frame.version:
                return False
        elif frame.body is not None and dict(frame.body, server_now=None) == dict(body, server_now=None):
            return False  # rebuilt, nothing changed
        frame.body = dict(body, server_now=now_iso())
        frame.message = encode(frame.body)
        frame.version = version
        frame.seq += 1
        frame.asked = max(frame.asked, version)
        return True

    # -- sending ------------------------------------------------------------------------------------

    def catch_up(self, sub: Subscriber, at: float | None = None) -> None:
        """Send `sub` the one message that brings it up to date, if any, within its window.

        `at`: the time of the room's round this send belongs to. A round's
        sends count as sent when the round began (they are one decision;
        writing 200 frames takes the loop a few milliseconds, more when the
        CPU is busy), so a socket late in one round is not held back in the
        next: rounds are one window apart.
        """
        if not sub.ready or sub.gone or sub.inflight is not None or self.closed:
            return
        if not self._behind(sub):
            return
        loop = asyncio.get_running_loop()
        if at is None:
            at = loop.time()
        wait = sub.last_sent + self.relay.window - at
        if wait > 0 and not self._new_phase(sub):
            if sub.timer is None:
                sub.timer = loop.call_later(wait, self._timer_fired, sub)
            return
        message = self._next_message(sub)
        if message is not None:
            sub.last_sent = at
            self._send(sub, message)

    def _timer_fired(self, sub: Subscriber) -> None:
        sub.timer = None
        self.catch_up(sub)

    def _new_phase(self, sub: Subscriber) -> bool:
        """Whether the room's snapshot for `sub` shows another phase than the socket does (it goes at once)."""
        frame = self.frames.get(sub.kind)
        return (self.versioned and frame is not None and frame.body is not None and frame.version > sub.version
                and frame.body.get("phase") != sub.phase)

    def _behind(self, sub: Subscriber) -> bool:
        frame = self.frames.get(sub.kind)
        if frame is not None and frame.message is not None:
            if (frame.version > sub.version) if self.versioned else (frame.seq > sub.seq):
                return True
        return self.versioned and sub.phase == "ballot_open" and self.cast > sub.cast

    def _next_message(self, sub: Subscriber) -> dict[str, Any] | None:
        frame = self.frames.get(sub.kind)
        if frame is not None and frame.body is not None and frame.message is not None:
            if (frame.version > sub.version) if self.versioned else (frame.seq > sub.seq):
                message = frame.message
                body = frame.body
                if self.versioned and body.get("phase") == "ballot_open" and cast_of(body) < sub.cast:
                    body = with_cast(body, sub.cast)  # never back below what this socket shows
                    message = encode(body)
                sub.shown(body, frame.seq)
                return message
        if self.versioned and sub.phase == "ballot_open" and self.cast > sub.cast:
            sub.cast = self.cast
            key = (sub.version, self.cast, sub.eligible, sub.paper)
            turnout = self._turnouts.get(key)
            if turnout is None:
                turnout = encode({"type": "turnout", "version": sub.version, "cast": self.cast,
                                  "eligible": sub.eligible, "paper": sub.paper})
                if len(self._turnouts) > 16:
                    self._turnouts.clear()
                self._turnouts[key] = turnout
            return turnout
        return None

    def _send(self, sub: Subscriber, message: dict[str, Any]) -> None:
        """Send without waiting for a slow socket.

        The send starts here, not in a task (live.eager: a task per socket
        per update cost 40% on fan-out p99): ASGI servers write to the socket
        at once unless its buffer is full, so nearly every send ends within
        this first step. One that has to wait is finished by a task of its own.
        """
        loop = asyncio.get_running_loop()
        coro = sub.send(message)
        if not asyncio.iscoroutine(coro):  # some other awaitable: let a task see it through
            sub.inflight = loop.create_task(self._finish(sub, coro))
            return
        try:
            rest = eager.start_now(coro)
        except Exception:
            self._gone(sub)
            return
        if rest is not None:
            sub.inflight = loop.create_task(self._finish(sub, rest))

    async def _finish(self, sub: Subscriber, rest: Any) -> None:
        try:
            await rest
        except Exception:
            self._gone(sub)
            return
        finally:
            sub.inflight = None
        self.catch_up(sub)  # the latest state, not every state it missed

    def _gone(self, sub: Subscriber) -> None:
        # The socket is closed; its consumer's disconnect removes it for good. Leaving through the relay
        # also closes the room if it is now empty.
        self.relay.leave(self, sub)

    async def send_fresh(self, sub: Subscriber) -> None:
        """Read a snapshot now, for this socket only: on connect and when the client asks (resync)."""
        sub.ready = False
        try:
            frame = self.frames.setdefault(sub.kind, Frame())
            seq = frame.seq
            body = await self.relay.build(self.county, self.meeting_id, sub.kind)
            if sub.inflight is not None:  # an older frame still on its way: let it go first
                await asyncio.shield(sub.inflight)
            mine = dict(body, server_now=now_iso())
            if self.versioned and body.get("phase") == "ballot_open":
                # Counts move forward only: a snapshot read just before a ballot
                # committed must not take the screen back below what it showed.
                mine = with_cast(mine, max(cast_of(body), sub.cast, self.cast))
            sub.shown(mine, seq)
            sub.last_sent = asyncio.get_running_loop().time()
            await sub.send(encode(mine))
            # A newer state than the room had helps the room's other sockets of this kind.
            known = self.cast
            if self.adopt(sub.kind, body):
                sub.seq = self.frames[sub.kind].seq
                for other in list(self.subs):
                    if other is not sub and other.kind == sub.kind:
                        self.catch_up(other)
            if self.cast > known:
                # The read saw ballots whose notice has not come yet: the room
                # now knows their count, so that notice will bring nothing new.
                # Pass the count on here, or the sockets already in the room
                # miss it until the next ballot or the refresh (found by
                # tests/live/test_floods.py: phones connect all through a vote).
                at = asyncio.get_running_loop().time()
                for other in list(self.subs):
                    if other is not sub:
                        self.catch_up(other, at)
        finally:
            sub.ready = True
        self.catch_up(sub)


class Relay:
    """The rooms of this process, on one channel layer."""

    def __init__(self, layer: Any, build: Build, *, window: float = WINDOW, refresh: float = REFRESH_SECONDS) -> None:
        self.layer = layer
        self.build = build
        self.window = window
        self.refresh = refresh
        self.rooms: dict[str, Room] = {}
        # Redis forgets groups when it restarts: a watch rejoins them (live.layer_watch).
        self.watch = layer_watch.LayerWatch(layer, self.rejoin, self.reread) if layer_watch.watchable(layer) else None
        # Counts from other processes come in batches (live.turnouts); one process alone hears its own directly.
        self.hub = None if isinstance(layer, InMemoryChannelLayer) else turnouts.TurnoutHub(
            layer, self._turnout, watch=self.watch, refresh=refresh)

    def _turnout(self, group: str, cast: int, version: int) -> None:
        room = self.rooms.get(group)
        if room is not None and not room.closed:
            room.turnout(cast, version)

    async def _open(self, room: Room) -> None:
        if self.hub is not None:
            # Before the room reads its first state: a count sent after that read reaches it.
            await asyncio.shield(self.hub.start())
        await room._start()

    def reread(self) -> None:
        """Have every room rebuild its state from the database (notices cannot come: the layer is away)."""
        for room in list(self.rooms.values()):
            room.stale = True
            room._schedule()

    async def rejoin(self) -> None:
        """Add every open room to its group again, then re-read its state (the layer was away or forgot)."""
        if self.hub is not None:
            await self.hub.rejoin()
        for room in list(self.rooms.values()):
            if room.closed or room.channel is None:
                continue
            async with layer_pool.slot():
                await self.layer.group_add(room.group, room.channel)
            if room.closed:  # its last socket left meanwhile: leave again, or the group keeps a dead channel
                async with layer_pool.slot():
                    await self.layer.group_discard(room.group, room.channel)
                continue
            # Read after joining: what committed before is in the read, what commits after reaches the room.
            room.stale = True
            room._schedule()

    async def join(self, sub: Subscriber, *, group: str, county: str, meeting_id: str, versioned: bool = True) -> Room:
        """Add a socket to its group's room (subscribing the process once per group)."""
        room = self.rooms.get(group)
        if room is None or room.closed:
            room = Room(self, group, county, meeting_id, versioned=versioned)
            self.rooms[group] = room
            room.started = asyncio.ensure_future(self._open(room))
            if self.watch is not None:
                self.watch.start()
        room.add(sub)
        try:
            await asyncio.shield(room.started)  # type: ignore[arg-type]
        except Exception:
            if self.rooms.get(group) is room:
                del self.rooms[group]
            room.closed = True
            self.leave(room, sub)
            raise
        return room

    def leave(self, room: Room, sub: Subscriber) -> None:
        sub.gone = True
        if sub.timer is not None:
            sub.timer.cancel()
            sub.timer = None
        room.remove(sub)
        if not room.subs and not room.closed:
            if self.rooms.get(room.group) is room:
                del self.rooms[room.group]
            room.closed = True

            async def close() -> None:
                if room.started is not None:
                    try:
                        await room.started
                    except Exception:
                        return
                await room.close()

            keep(asyncio.ensure_future(close()))


_relay: Relay | None = None
_relay_loop: asyncio.AbstractEventLoop | None = None


async def _build(county: str, meeting_id: str, kind: str) -> dict[str, Any]:
    from common import tokens
    from live import snapshots
    from live.scope import in_county

    if meeting_id == tokens.COUNTY_WIDE:
        return await in_county(county, snapshots.dashboard)
    return await in_county(county, snapshots.BUILDERS[kind], meeting_id)


def local_room(group: str) -> Room | None:
    """This process's open room of `group`, if a socket of this process watches it (call on the loop)."""
    room = _relay.rooms.get(group) if _relay is not None else None
    return None if room is None or room.closed else room


def relay() -> Relay:
    """This process's relay, on the default channel layer and the running loop."""
    global _relay, _relay_loop
    loop = asyncio.get_running_loop()
    if _relay is None or _relay_loop is not loop:
        from channels.layers import get_channel_layer

        _relay = Relay(get_channel_layer(), _build)
        _relay_loop = loop
    return _relay
