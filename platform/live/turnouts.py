"""Turnout counts between server processes: one batch per window for every meeting, not one notice per meeting.

Why: at the year-end peak each meeting gets a ballot about every second or
two, so the per-meeting window of live.bus coalesces almost nothing, and every
sealed ballot cost one `group_send` through the Redis layer (four round trips
in channels_redis: expire the group, read its members, expire each member's
queue, run the send script) plus one blocking pop of each room that heard it.
py-spy (`bench/peak.py --profile-gil`, bench/spy_split.py) put that publish
path at 27% of the workers' CPU, more than the whole cast. So each process
folds the counts it read, for all meetings, into one message per window
(`bus.publish_turnout` -> `bus._flush_batch`), sent to one group of which
every process's relay is a member (`TURNOUTS_GROUP`), and the relay hands
each count to its room of that meeting if it has one.

The group carries no county: it is not a websocket group, only the relays of
the server processes join it, and each entry names its meeting's group, which
carries the county (live.bus.meeting_group). What travels is the same as in a
per-meeting notice: a count and a stream version per meeting, nothing about a
ballot. With the in-memory layer (one process) nothing goes this way: the
process's room hears its counts directly (live.bus).

Like a room, the hub renews its membership every REFRESH_SECONDS and joins
again when the layer watch finds Redis back or forgetful (Relay.rejoin).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any

from live import layer_pool, layer_watch

log = logging.getLogger(__name__)

TURNOUTS_GROUP = "live.turnouts"
TURNOUTS_TYPE = "meeting.turnouts"


def batch_message(counts: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """One process's counts of a window: [meeting group, count of sealed ballots, stream version] each."""
    return {"type": TURNOUTS_TYPE, "counts": [[group, cast, version] for group, (cast, version) in counts.items()]}


class TurnoutHub:
    """One per relay on a layer shared by processes: reads the batches and gives each count to its room."""

    def __init__(self, layer: Any, deliver: Callable[[str, int, int], None], *, watch: Any, refresh: float) -> None:
        self.layer = layer
        self.deliver = deliver  # (meeting group, cast, version): the relay's room of that group, if any
        self.watch = watch
        self.refresh = refresh
        self.channel: str | None = None
        self.started: asyncio.Future[None] | None = None
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> asyncio.Future[None]:
        """Join the group and start reading (once; later calls return the same start)."""
        failed = self.started is not None and self.started.done() and (
            self.started.cancelled() or self.started.exception() is not None)
        if self.started is None or failed:
            self.started = asyncio.ensure_future(self._start())
        return self.started

    async def _start(self) -> None:
        self.channel = await self.layer.new_channel()
        try:
            async with layer_pool.slot():
                await self.layer.group_add(TURNOUTS_GROUP, self.channel)
        except Exception:
            if self.watch is None:
                raise
            self.watch.suspect()  # the watch's rejoin adds the hub when Redis answers
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._read()), loop.create_task(self._refresh())]

    async def rejoin(self) -> None:
        if self.channel is not None:
            async with layer_pool.slot():
                await self.layer.group_add(TURNOUTS_GROUP, self.channel)

    def stop(self) -> None:
        for task in self.tasks:
            task.cancel()

    async def _read(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                if self.watch is None:
                    log.warning("reading the turnout batches failed; retrying", exc_info=True)
                    await asyncio.sleep(layer_watch.RETRY_SECONDS)
                else:  # the watch has the rooms re-read from the database meanwhile
                    self.watch.suspect()
                    await self.watch.wait_back()
                continue
            try:
                self.notice(message)
            except Exception:  # pragma: no cover - a bad message must not stop the hub
                log.exception("bad turnout batch: %r", message)

    def notice(self, message: dict[str, Any]) -> None:
        if message.get("type") != TURNOUTS_TYPE:
            return
        for group, cast, version in message.get("counts", []):
            self.deliver(str(group), int(cast), int(version))

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self.refresh * random.uniform(0.8, 1.2))
            try:
                async with layer_pool.slot():
                    await self.layer.group_add(TURNOUTS_GROUP, self.channel)
            except Exception:
                log.warning("renewing the turnout batches' group failed", exc_info=True)
                if self.watch is not None:
                    self.watch.suspect()
