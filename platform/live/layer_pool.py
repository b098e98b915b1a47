"""How many channel-layer commands one process sends at once: fewer than redis-py's pool holds.

channels_redis keeps a redis-py connection pool per event loop and shard,
and a command holds one of its connections for its round trip. When all are
taken, the pool refuses at once ("Too many connections",
`MaxConnectionsError`; 100 connections in redis-py 8) instead of waiting,
and the notice or membership in hand is lost. Every command of this process
other than the reads takes a slot here first, so they wait their turn: the
notices (live.bus), and the memberships of the rooms and of the turnouts
hub (joining, renewing, leaving, rejoining after an outage). The reads keep
the rest of the pool: channels_redis reads all of a process's channels with
one blocking pop, and the layer watch polls with one connection.

Found at the year-end peak (bench/peak.py, 250 meetings): first a burst of
commits started more sends than the pool had (384 refusals in one run, with
a limit on the sends alone 20 remained); those 20 were the rooms' renewals,
due in the same second because the rooms had opened within the same second
(live.relay now spreads them).
"""

from __future__ import annotations

import asyncio

IN_FLIGHT = 48  # of redis-py's 100: the blocking reads, the watch and the rate-limit cache keep the rest

_slots: dict[asyncio.AbstractEventLoop, asyncio.Semaphore] = {}


def slot() -> asyncio.Semaphore:
    """This loop's slots: `async with layer_pool.slot(): await layer.group_add(...)`."""
    loop = asyncio.get_running_loop()
    slots = _slots.get(loop)
    if slots is None:
        for old in [old for old in _slots if old.is_closed()]:
            del _slots[old]
        slots = _slots[loop] = asyncio.Semaphore(IN_FLIGHT)
    return slots
