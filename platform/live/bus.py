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
import uuid
from typing import Any

from channels.layers import get_channel_layer
from django.db import connection, transaction

from events.store import Committed

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
    if layer is None:
        return
    loop = _loop
    if loop is not None and not loop.is_closed():
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            _keep(loop.create_task(_safe_send(layer, group, message)))
        else:
            asyncio.run_coroutine_threadsafe(_safe_send(layer, group, message), loop)
        return
    future = asyncio.run_coroutine_threadsafe(_safe_send(layer, group, message), _own_loop())
    with _own_lock:
        _own_pending.add(future)
    future.add_done_callback(_own_pending.discard)


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


_tasks: set[asyncio.Task[None]] = set()


def _keep(task: asyncio.Task[None]) -> None:
    # The loop holds tasks only weakly: keep each send alive until it is done.
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _safe_send(layer: Any, group: str, message: dict[str, Any]) -> None:
    try:
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
    send(county_group(committed.county), {"type": "county.changed"})


# -- turnout: a count, read right after the commit ------------------------------------------
#
# A ballot burst is hundreds of commits a minute in one meeting. A sealed
# ballot is not appended to the log (see meetings.ballot_box), so its notice
# carries the number of sealed ballots, read in the request's thread right
# after its commit (so it includes this ballot and every one committed
# before), and the stream version it was cast at: nothing about the ballot.
#
# In the process that sealed the ballot, the count goes straight to the room
# of the meeting (live.relay), which folds a burst into one message per
# socket per window. For the other processes (several workers behind Redis),
# each process sends at most one notice per TURNOUT_WINDOW per meeting to the
# group, with the largest count it read: the first after a quiet spell at
# once, then the trailing edge of the burst (a flush is pending whenever a
# count is waiting). A room ignores the notices its own process sent: it was
# told directly.
#
# Why the count is read per ballot and not once per window by the room: one
# indexed count(*) costs the request well under a millisecond, while a read
# from the server's loop needs a hop to a database thread and back, which in
# a burst (16 request threads competing for the GIL) put 5-30 ms into every
# round: side by side, fan-out p90 was 15-20 ms worse that way.

TURNOUT_WINDOW = 0.05
ORIGIN = uuid.uuid4().hex[:12]  # this process, in the notices it sends
_pending: dict[tuple[str, str], tuple[int, int]] = {}  # (county, meeting) -> (cast, version)
_scheduled: set[tuple[str, str]] = set()
_last_sent: dict[tuple[str, str], float] = {}
_pending_lock = threading.Lock()


def turnout_message(cast: int, version: int) -> dict[str, Any]:
    return {"type": "meeting.turnout", "cast": cast, "version": version, "origin": ORIGIN}


def queue_turnout(*, county: str, meeting_id: str, cast: int, version: int) -> None:
    """Publish a meeting's count of sealed ballots (call after commit; any thread)."""
    key = (county, meeting_id)
    loop = _loop
    if loop is None or loop.is_closed():
        send(meeting_group(county, meeting_id), turnout_message(cast, version))
        return
    with _pending_lock:
        before = _pending.get(key, (0, 0))
        _pending[key] = (max(before[0], cast), max(before[1], version))
        start = key not in _scheduled
        _scheduled.add(key)
    loop.call_soon_threadsafe(_on_loop, loop, key, cast, version, start)


def _on_loop(loop: asyncio.AbstractEventLoop, key: tuple[str, str], cast: int, version: int, start: bool) -> None:
    from live import relay

    room = relay.local_room(meeting_group(*key))
    if room is not None:
        room.turnout(cast, version)
    if start:
        _schedule_flush(loop, key)


def _schedule_flush(loop: asyncio.AbstractEventLoop, key: tuple[str, str]) -> None:
    delay = max(0.0, _last_sent.get(key, -TURNOUT_WINDOW) + TURNOUT_WINDOW - loop.time())
    loop.call_later(delay, _flush_turnout, loop, key)


def _flush_turnout(loop: asyncio.AbstractEventLoop, key: tuple[str, str]) -> None:
    with _pending_lock:
        pending = _pending.pop(key, None)
        if pending is None:
            _scheduled.discard(key)
            return
    now = loop.time()
    _last_sent[key] = now
    if len(_last_sent) > 10_000:  # forget meetings quiet for a minute
        for old in [k for k, t in _last_sent.items() if now - t > 60]:
            del _last_sent[old]
    layer = get_channel_layer()
    if layer is not None:
        _keep(loop.create_task(_safe_send(layer, meeting_group(*key), turnout_message(*pending))))
    # Keep the trailing edge: counts read from now on wait for the next window.
    _schedule_flush(loop, key)


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
        queue_turnout(county=county, meeting_id=meeting_id, cast=cast, version=version)

    transaction.on_commit(publish)
