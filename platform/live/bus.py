"""Publishing committed changes to websocket groups: after commit, never before.

Two kinds of notice reach a meeting's group:

- ``meeting.changed`` after an append to the meeting's stream commits (the
  store's after-commit hook calls `on_committed`). It carries the stream
  version: consumers fetch a fresh snapshot (coalesced per screen).
- ``meeting.turnout`` after a phone ballot is sealed (ballots are not appended
  one by one, see meetings.ballot_box). It carries the number of sealed
  ballots and the stream version the ballot was cast at, nothing about the
  ballot itself: a per-ballot tally would let anyone who watched the screen
  read ballots by differencing.
  Through a layer shared by processes (Redis) the counts travel instead in
  one batch per window for all meetings (``meeting.turnouts``, see
  live.turnouts), to a group that every process's relay joins.

Group names carry the county schema (meeting ids repeat across counties).

Where the publish runs: HTTP requests run in worker threads (see
shuping.http_bridge), while the channel layer belongs to the server's event
loop (the in-memory layer's queues are bound to it, and channels_redis keeps
its connection pools per loop). The ASGI entry point binds that loop here once
(shuping.asgi); a publish from any other thread is handed to it without
waiting. With no bound loop (management commands, workers, tests without a
server) sends go to a loop of this module's own, started once on a daemon
thread: they reach Redis but no in-process consumer, as they should. (Running
each send on a fresh loop with async_to_sync cost a thread start per send: 1.3
ms of a 4.3 ms append in bench/event_store.py.) What is still queued there
when the process exits is sent first, for at most FLUSH_SECONDS.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connection, transaction

from events.records import Committed
from live import eager, layer_pool, relay, turnouts
from live.relay import HEAD_START, WINDOW

log = logging.getLogger(__name__)

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def meeting_group(county: str, meeting_id: str) -> str:
    """The group of one meeting of one county (names are ASCII: schemas and ids are identifiers)."""
    return f"m.{county}.{meeting_id}"


def county_group(county: str) -> str:
    return f"c.{county}"


def bind_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Deliver publishes on `loop` (the ASGI server's loop; tests bind theirs)."""
    global _loop
    with _loop_lock:
        _loop = loop
        # Counts waiting for another loop's timers would wait for ever.
        _waiting.clear()
        _scheduled.clear()
        _batch.clear()
        _batch_due[0] = False


def unbind_loop() -> None:
    global _loop
    with _loop_lock:
        _loop = None


def send(group: str, message: dict[str, Any]) -> None:
    """Send to a group without blocking the caller; failures are logged, never raised.

    A lost notice costs a screen one update, never a wrong count: every
    message carries the version and screens resync on any gap.
    """
    layer = get_channel_layer()
    if layer is None or _on_loop(_spawn, layer, group, message):
        return
    future = asyncio.run_coroutine_threadsafe(_safe_send(layer, group, message), _own_loop())
    with _own_lock:
        _own_pending.add(future)
    future.add_done_callback(_own_pending.discard)


def _on_loop(callback: Callable[..., None], *args: Any) -> bool:
    """Run `callback(loop, *args)` on the bound server loop: now if called on it, else soon; False if none."""
    loop = _loop
    if loop is None or loop.is_closed():
        return False
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        callback(loop, *args)
        return True
    # A request thread (every sealed ballot's count comes this way): one
    # callback on the loop, no future for a result nobody awaits.
    try:
        loop.call_soon_threadsafe(callback, loop, *args)
    except RuntimeError:  # the loop closed meanwhile (the server is stopping)
        log.warning("publish dropped: the server's loop is closed")
    return True


FLUSH_SECONDS = 5.0
_own: asyncio.AbstractEventLoop | None = None
_own_lock = threading.Lock()
_own_pending: set[concurrent.futures.Future[None]] = set()


def _own_loop() -> asyncio.AbstractEventLoop:
    """The publisher loop of a process that serves no ASGI loop (started on first use)."""
    global _own
    with _own_lock:
        if _own is None or _own.is_closed():
            _own = asyncio.new_event_loop()
            threading.Thread(target=_own.run_forever, name="live-bus-publisher", daemon=True).start()
        return _own


@atexit.register
def _flush_own_loop() -> None:
    with _own_lock:
        pending = list(_own_pending)
    if pending:
        concurrent.futures.wait(pending, timeout=FLUSH_SECONDS)


_tasks: set[asyncio.Future[None]] = set()


def _spawn(loop: asyncio.AbstractEventLoop, layer: Any, group: str, message: dict[str, Any]) -> None:
    """Start sending `message` to `group` (call on the loop)."""
    sending = _safe_send(layer, group, message)
    rest: Awaitable[None] | None = sending
    if isinstance(layer, InMemoryChannelLayer):
        # Its group_send needs no task of its own to start (it hands the
        # message to this process's queues): start it now (live.eager), not
        # a turn of the loop later, which in a burst is milliseconds before
        # the rooms hear of a count. Not for other layers: their sends need
        # a task from their first step on (redis-py's timeouts).
        rest = eager.start_now(sending)
    if rest is None:
        return
    # The loop holds tasks only weakly: keep each send alive until it is done.
    task = asyncio.ensure_future(rest, loop=loop)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _safe_send(layer: Any, group: str, message: dict[str, Any]) -> None:
    try:
        if isinstance(layer, InMemoryChannelLayer):
            await layer.group_send(group, message)
            return
        async with layer_pool.slot():  # redis-py's pool refuses when full: wait for a slot instead
            await layer.group_send(group, message)
    except Exception:  # pragma: no cover
        log.exception("publish to %s failed", group)


def on_committed(committed: Committed) -> None:
    """The store's after-commit hook: tell the meeting's screens and the county's dashboards."""
    if not committed.stream_id.startswith("meeting-"):
        if committed.stream_id.startswith("round-"):
            send(county_group(committed.county), {"type": "county.changed"})
        return
    meeting_id = committed.stream_id.removeprefix("meeting-")
    send(
        meeting_group(committed.county, meeting_id),
        {"type": "meeting.changed", "version": committed.last_version, "types": committed.types[-20:]},
    )
    if "ScreenLinksRevoked" in committed.types:
        # Screens connected with a link minted before the revocation are closed (live.relay).
        revoked_at = committed.first_version + len(committed.types) - 1 - committed.types[::-1].index("ScreenLinksRevoked")
        send(meeting_group(committed.county, meeting_id), {"type": "meeting.screens_revoked", "from": revoked_at})
    send(county_group(committed.county), {"type": "county.changed"})


# -- turnout: a count, read right after the commit ------------------------------------------
#
# One throttle, two ways out. A sealed ballot is not appended to the log (see
# meetings.ballot_box), so its notice carries the number of sealed ballots,
# read in the request's thread right after its commit (so it includes this
# ballot and every one committed before), and the stream version it was cast
# at: nothing about the ballot. Each process coalesces the counts it reads,
# per meeting: at most one notice per relay.WINDOW, with the largest count
# (the first after a quiet spell HEAD_START later, so that the request that
# brought it answers first; the last of a burst at the window's end). That
# is the one throttle. At the flush, this process's room (live.relay) gets
# the count in the same turn of the loop; with the in-memory layer the notice
# also goes to the meeting's group, and with a layer shared by processes the
# count goes in this process's next batch (below) to the rooms of every other
# process (this one's hears it again: a count it has shown is a no-op).
# Rooms pass a higher count on to their sockets at once. Whichever commit is
# last, its count is read after it and sent within a window: every screen
# ends there.
#
# What the local hand-over is worth: through the layer only, this process's
# counts reached its room a turn of the loop later (the room's reader task),
# and in a burst a turn is milliseconds, tens when the loop waits for the GIL
# behind 16 request threads. Measured in bench/live_fanout.py (burst of 300
# ballots to 200 screens, runs alternated in one session, machine loaded by
# other work), fan-out p99 of 4 runs each: before the one-throttle change
# 50.7-68.8 ms (median 57.5), layer only 52.7-67.7 (59.1; 67-141 in 3
# earlier runs), layer plus local hand-over 50.9-53.7 (52.9). Earlier,
# rejected: one notice per ballot with the room the only throttle (814 vs 74
# ms with --redis: each notice costs each room a blocking pop from Redis);
# waiting for the previous send to finish before the next (128-435 ms); the
# room's per-socket window kept for counts too (95 vs 58 ms: the two
# windows drift apart).
#
# Why the count is read per ballot and not once per window by the room: one
# indexed count(*) costs the request well under a millisecond, while a read
# from the server's loop needs a hop to a database thread and back, which in
# a burst (16 request threads competing for the GIL) put 5-30 ms into every
# round: side by side, fan-out p90 was 15-20 ms worse that way.


def turnout_message(cast: int, version: int) -> dict[str, Any]:
    """The notice of a meeting's count of sealed ballots: the count and the version, nothing else."""
    return {"type": "meeting.turnout", "cast": cast, "version": version}


def _count(county: str, meeting_id: str) -> int:
    from django_tenants.utils import schema_context

    from meetings import ballot_box

    if getattr(connection, "schema_name", None) == county:
        return int(ballot_box.count(meeting_id))  # the request's own schema: no SET search_path
    with schema_context(county):
        return int(ballot_box.count(meeting_id))


def turnout_on_commit(*, meeting_id: str, version: int) -> None:
    """After the current transaction commits, publish the meeting's turnout (a count only)."""
    county = str(getattr(connection, "schema_name", "public"))

    def publish() -> None:
        try:
            cast = _count(county, meeting_id)
        except Exception:  # a committed ballot must not fail over its notice; rooms repair within a minute
            log.exception("counting the ballots of %s/%s failed", county, meeting_id)
            return
        publish_turnout(county=county, meeting_id=meeting_id, cast=cast, version=version)

    transaction.on_commit(publish)


# On the server's loop only (no locks): per meeting group, the largest count
# not yet sent, the groups whose send is scheduled, when each last sent.
_waiting: dict[str, tuple[int, int]] = {}
_scheduled: set[str] = set()
_last_sent: dict[str, float] = {}


def publish_turnout(*, county: str, meeting_id: str, cast: int, version: int) -> None:
    """Publish a meeting's count of sealed ballots, coalesced per window (any thread; call after commit)."""
    group = meeting_group(county, meeting_id)
    layer = get_channel_layer()
    if layer is None or _on_loop(_turnout_on_loop, layer, group, cast, version):
        return
    send(group, turnout_message(cast, version))  # no server loop (a command, a worker): nothing to coalesce


def _turnout_on_loop(loop: asyncio.AbstractEventLoop, layer: Any, group: str, cast: int, version: int) -> None:
    if not isinstance(layer, InMemoryChannelLayer):
        _batch_turnout(loop, layer, group, cast, version)
    waiting = _waiting.get(group)
    _waiting[group] = (cast, version) if waiting is None else (max(waiting[0], cast), max(waiting[1], version))
    if group not in _scheduled:
        _scheduled.add(group)
        due = _last_sent.get(group, -WINDOW) + WINDOW - loop.time()
        loop.call_later(max(due, HEAD_START), _flush_turnout, loop, layer, group)


def _flush_turnout(loop: asyncio.AbstractEventLoop, layer: Any, group: str) -> None:
    _scheduled.discard(group)
    waiting = _waiting.pop(group, None)
    if waiting is None:
        return
    now = loop.time()
    _last_sent[group] = now
    if len(_last_sent) > 10_000:  # forget meetings quiet for a minute
        for old in [g for g, t in _last_sent.items() if now - t > 60]:
            del _last_sent[old]
    # This process's room hears the count now, in this turn of the loop; the
    # notice through the layer reaches the other processes' rooms (and this
    # one's again, where a count it has shown already is a no-op).
    room = relay.local_room(group)
    if room is not None:
        room.turnout(*waiting)
    if isinstance(layer, InMemoryChannelLayer):
        _spawn(loop, layer, group, turnout_message(*waiting))
    # Other layers: the other processes hear this count in this process's next batch.


# -- turnout batches (layers shared by processes) ------------------------------------------
#
# Through a layer shared by processes (Redis), the counts go to the other
# processes' rooms in one message per window for all meetings (live.turnouts):
# at the peak a meeting gets a ballot every second or two, so a notice per
# meeting and window was a notice per ballot, and each cost four Redis round
# trips. The batch takes every count as it is read (no wait behind the
# per-meeting window above, which only paces this process's own rooms): the
# first after a quiet spell goes HEAD_START later, the rest at most one
# window after the previous batch, with the largest count of each meeting.
_batch: dict[str, tuple[int, int]] = {}
_batch_due: list[bool] = [False]
_batch_last: list[float] = [-WINDOW]


def _batch_turnout(loop: asyncio.AbstractEventLoop, layer: Any, group: str, cast: int, version: int) -> None:
    waiting = _batch.get(group)
    _batch[group] = (cast, version) if waiting is None else (max(waiting[0], cast), max(waiting[1], version))
    if not _batch_due[0]:
        _batch_due[0] = True
        due = _batch_last[0] + WINDOW - loop.time()
        loop.call_later(max(due, HEAD_START), _flush_batch, loop, layer)


def _flush_batch(loop: asyncio.AbstractEventLoop, layer: Any) -> None:
    _batch_due[0] = False
    if not _batch:
        return
    counts = dict(_batch)
    _batch.clear()
    _batch_last[0] = loop.time()
    _spawn(loop, layer, turnouts.TURNOUTS_GROUP, turnouts.batch_message(counts))
