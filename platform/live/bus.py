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
shuping.asgi), while the channel layer belongs to the server's event loop
(the in-memory layer's queues are bound to it, and channels_redis keeps its
connection pools per loop). The ASGI entry point binds that loop here; a
publish from any other thread is handed to it without waiting. With no bound
loop (management commands, tests without a server) the send runs on a loop
of its own, which reaches Redis but no in-process consumer, as it should.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

from asgiref.sync import async_to_sync
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


def bind_loop_once(loop: asyncio.AbstractEventLoop) -> None:
    """Bind `loop` unless one is bound already (called on every ASGI request: cheap)."""
    if _loop is None or _loop.is_closed():
        bind_loop(loop)


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
            loop.create_task(_safe_send(layer, group, message))
        else:
            asyncio.run_coroutine_threadsafe(_safe_send(layer, group, message), loop)
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:  # pragma: no cover - a layer outage must not fail a committed command
        log.exception("publish to %s failed", group)


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


# -- turnout: coalesced per meeting in each process ------------------------------------------
#
# A ballot burst is hundreds of commits a minute in one meeting. Sending one
# group message per ballot made every screen's consumer handle every ballot
# (300 ballots x 200 screens = 60,000 deliveries) and, worse, overflowed the
# channels' queues, which drop what does not fit: screens stopped a few
# ballots short of the final count. So each process keeps the latest count per
# meeting and sends at most one notice per TURNOUT_WINDOW; the last count of a
# burst always goes out (trailing edge), because a flush is pending whenever a
# count is waiting.

TURNOUT_WINDOW = 0.05
_pending: dict[tuple[str, str], tuple[int, int]] = {}  # (county, meeting) -> (cast, version)
_scheduled: set[tuple[str, str]] = set()
_last_sent: dict[tuple[str, str], float] = {}
_pending_lock = threading.Lock()


def _turnout_message(cast: int, version: int) -> dict[str, Any]:
    return {"type": "meeting.turnout", "cast": cast, "version": version}


def queue_turnout(*, county: str, meeting_id: str, cast: int, version: int) -> None:
    """Publish a meeting's turnout, folded with others of the same meeting into one notice per window."""
    key = (county, meeting_id)
    loop = _loop
    if loop is None or loop.is_closed():
        send(meeting_group(county, meeting_id), _turnout_message(cast, version))
        return
    with _pending_lock:
        before = _pending.get(key, (0, 0))
        _pending[key] = (max(before[0], cast), max(before[1], version))
        if key in _scheduled:
            return
        _scheduled.add(key)
    loop.call_soon_threadsafe(_schedule_flush, loop, key)


def _schedule_flush(loop: asyncio.AbstractEventLoop, key: tuple[str, str]) -> None:
    delay = max(0.0, _last_sent.get(key, 0.0) + TURNOUT_WINDOW - loop.time())
    loop.call_later(delay, _flush_turnout, loop, key)


def _flush_turnout(loop: asyncio.AbstractEventLoop, key: tuple[str, str]) -> None:
    with _pending_lock:
        cast, version = _pending.pop(key, (0, 0))
        _scheduled.discard(key)
    now = loop.time()
    _last_sent[key] = now
    if len(_last_sent) > 10_000:  # forget meetings quiet for a minute
        for old in [k for k, t in _last_sent.items() if now - t > 60]:
            del _last_sent[old]
    layer = get_channel_layer()
    if layer is not None:
        loop.create_task(_safe_send(layer, meeting_group(*key), _turnout_message(cast, version)))


def turnout_on_commit(*, meeting_id: str, version: int) -> None:
    """After the current transaction commits, publish the meeting's turnout (a count only)."""
    county = str(getattr(connection, "schema_name", "public"))

    def publish() -> None:
        from django_tenants.utils import schema_context

        from meetings import ballot_box

        # The count is read after commit, so it includes this ballot and
        # every ballot committed before; the largest count seen wins.
        with schema_context(county):
            cast = ballot_box.count(meeting_id)
        queue_turnout(county=county, meeting_id=meeting_id, cast=cast, version=version)

    transaction.on_commit(publish)
