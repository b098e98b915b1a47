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
from typing import Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import connection, transaction

from events.store import Committed
from live import eager

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
            _spawn(loop, layer, group, message)
        else:
            # A request thread (every sealed ballot's count comes this way):
            # one callback on the loop, no future for a result nobody awaits.
            try:
                loop.call_soon_threadsafe(_spawn, loop, layer, group, message)
            except RuntimeError:  # the loop closed meanwhile (the server is stopping)
                log.warning("publish to %s dropped: the server's loop is closed", group)
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


def _spawn(loop: asyncio.AbstractEventLoop, layer: Any, group: str, message: dict[str, Any]) -> None:
    """Start a group send on the loop (call on it)."""
    sending: Any = _safe_send(layer, group, message)
    if isinstance(layer, InMemoryChannelLayer):
        # Its group_send only puts the message on this process's queues: run
        # it now (live.eager) instead of a turn of the loop later, which in a
        # burst is milliseconds before the rooms hear of a count. Not for
        # other layers: their sends need a task of their own (redis-py's
        # timeouts).
        sending = eager.start_now(sending)
        if sending is None:
            return
        sending = _finish(sending)
    # The loop holds tasks only weakly: keep each send alive until it is done.
    task = loop.create_task(sending)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _finish(rest: eager.Resume) -> None:
    await rest


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
# One route, one throttle. A sealed ballot is not appended to the log (see
# meetings.ballot_box), so its notice carries the number of sealed ballots,
# read in the request's thread right after its commit (so it includes this
# ballot and every one committed before), and the stream version it was cast
# at: nothing about the ballot. Every count goes to the meeting's group
# through the channel layer, like every other notice, and reaches the rooms of
# every process alike, this one's included (live.relay). The rooms are the
# only throttle: each keeps the largest count and sends it to a socket at
# most once per relay.WINDOW. Whichever commit is last, its count is read
# after it and so is the final one: every screen ends there.
#
# Why no coalescing before the layer, and no shortcut to this process's
# room: a throttle in front of the rooms' (with a route straight to the local
# room, to dodge it) stacked two 50 ms windows on the way to another
# process's screens. The layer carries one small message per ballot per
# process instead (a few hundred a second in a burst). What the one route
# costs is a turn of the loop: the local room hears of a count when its
# reader task next runs, not in the callback that brought it, and in a burst
# a turn is milliseconds (the loop shares the GIL with the request threads).
# So the send runs at once on the in-memory layer (`_spawn`), and a round
# that only passes on a count runs in its timer (live.relay.Room): side by
# side in bench/live_fanout.py, fan-out p99 then matched the old direct
# route (medians of 6 runs each: 58 against 62 ms), where it had been 7-45%
# worse in three sets of runs without them.
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
        send(meeting_group(county, meeting_id), turnout_message(cast, version))

    transaction.on_commit(publish)
