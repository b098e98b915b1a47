"""Noticing that the channel layer's Redis died, froze or forgot, so that this process's rooms rejoin at once.

Redis keeps group memberships in memory. A Redis that is killed and
started again (or flushed, or failed over to a replica that never had the
keys) answers as if nothing happened, but every group is empty: a notice
sent through it reaches no room of any process until each room renews its
membership (live.relay.REFRESH_SECONDS, a minute). Measured before this
watch: 0 members for at least 25 s after a restart, and screens of the
other worker right only by luck of a rebuild.

So each process that uses Redis keeps one marker key per shard
(``<prefix>:live:alive:<the layer's client prefix>``) and polls it every
`POLL_SECONDS`: set-if-absent, then renew its expiry. The layer forgot if
the marker was gone although this process had set it; the layer was away
if a poll failed or went unanswered for `ANSWER_SECONDS` (a frozen Redis),
or a room's read or join failed meanwhile (`suspect`). While it is away,
the rooms re-read their state from the database once a second (`away`), so
screens follow the ballots of other workers even then, a second late.
Either way, at the first poll that succeeds afterwards, the relay adds
every room to its group again and then re-reads each room's state from the
database (live.relay.Relay.rejoin): a ballot committed before the rejoin
is in that read, one committed after it sends its notice to a group the
room is in again. Readers waiting out the outage resume at the same moment
(`back`) instead of at their next retry.

The in-memory layer of the single-process default loses nothing of the
kind and gets no watch.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

POLL_SECONDS = 0.25  # how soon after Redis returns the rooms rejoin (the bar: screens right within 2 s)
ANSWER_SECONDS = 0.5  # a poll unanswered this long means a frozen Redis (SIGSTOP, a stalled host)
MARKER_TTL = 60  # seconds: a marker outlives any pause of the poll short of a hung process
RETRY_SECONDS = 1.0  # a room's reader waits this long at most before it reads again after a failure


def watchable(layer: Any) -> bool:
    """True for the Redis channel layer (channels_redis), whose groups a restart forgets."""
    try:
        from channels_redis.core import RedisChannelLayer
    except ImportError:  # pragma: no cover - installed with the project
        return False
    return isinstance(layer, RedisChannelLayer)


class LayerWatch:
    """One per relay (process and loop): polls the layer, calls `rejoin` when it came back or forgot."""

    def __init__(
        self, layer: Any, rejoin: Callable[[], Awaitable[None]], away: Callable[[], None], *, poll: float = POLL_SECONDS
    ) -> None:
        self.layer = layer
        self.rejoin = rejoin
        self.away = away  # while the layer is away: rooms re-read the database (called once a second at most)
        self.last_away = -math.inf
        self.poll = poll
        self.key = f"{layer.prefix}:live:alive:{layer.client_prefix}"
        self.marked: set[int] = set()  # shards this process has set its marker on
        self.healthy = True
        self.back = asyncio.Event()  # set while the layer answers
        self.back.set()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())

    def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def suspect(self) -> None:
        """A read, join or renewal failed: treat the layer as away until a poll succeeds."""
        if self.healthy:
            log.warning("the channel layer failed; rooms rejoin their groups when it answers again")
        self.healthy = False
        self.back.clear()

    def _away(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self.last_away >= RETRY_SECONDS:
            self.last_away = now
            self.away()

    async def wait_back(self, timeout: float = RETRY_SECONDS) -> None:
        """Wait until the layer answers again, or `timeout` seconds at most."""
        try:
            await asyncio.wait_for(self.back.wait(), timeout)
        except TimeoutError:
            pass

    async def check(self) -> bool:
        """Poll every shard once; True if one of them forgot this process's marker."""
        forgot = False
        for index in range(self.layer.ring_size):
            pipe = self.layer.connection(index).pipeline(transaction=False)
            pipe.set(self.key, b"1", nx=True, ex=MARKER_TTL)
            pipe.expire(self.key, MARKER_TTL)
            created, _ = await pipe.execute()
            if created and index in self.marked:
                forgot = True
            self.marked.add(index)
        return forgot

    async def _run(self) -> None:
        while True:
            try:
                forgot = await asyncio.wait_for(self.check(), ANSWER_SECONDS)
            except asyncio.CancelledError:
                raise
            except Exception:  # dead, frozen or refusing
                self.suspect()
                self._away()
                await asyncio.sleep(self.poll)
                continue
            if forgot or not self.healthy:
                if forgot:
                    log.warning("the channel layer forgot this process's groups (a restart?); rejoining")
                try:
                    await self.rejoin()
                except Exception:
                    self.suspect()  # the layer failed again mid-way: the next good poll rejoins anew
                    await asyncio.sleep(self.poll)
                    continue
                if not self.healthy:
                    log.warning("the channel layer answers again; rooms rejoined their groups")
                self.healthy = True
                self.back.set()
            await asyncio.sleep(self.poll)
