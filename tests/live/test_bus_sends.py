"""A burst of publishes through the Redis layer waits for connections instead of losing updates.

At the year-end peak (bench/peak.py) a burst of commits started more group
sends at once than redis-py's pool holds, and the pool refused the rest at
once ("Too many connections"): those screens missed their updates. The bus
keeps at most `SENDS_IN_FLIGHT` sends in flight per process; here a pool of
4 connections carries a burst of 60 sends, every one delivered.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from channels_redis.core import RedisChannelLayer

from infra.topology import RedisServer
from live import bus


def burst(redis: RedisServer, sends: int) -> list[int]:
    """Publish `sends` messages to a group at once through a 4-connection pool; the numbers that arrived."""
    layer = RedisChannelLayer(hosts=[{"address": f"unix://{redis.socket}", "max_connections": 4}], capacity=1000)

    async def run() -> list[int]:
        channel = await layer.new_channel()
        await layer.group_add("burst", channel)
        loop = asyncio.get_running_loop()
        for n in range(sends):
            bus._spawn(loop, layer, "burst", {"type": "meeting.changed", "n": n})
        await asyncio.gather(*list(bus._tasks))
        got = []
        while True:
            try:
                message = await asyncio.wait_for(layer.receive(channel), timeout=2)
            except TimeoutError:
                break
            got.append(message["n"])
        await layer.flush()
        return got

    return asyncio.run(run())


def test_a_burst_of_sends_through_a_small_pool_all_arrive(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(bus, "SENDS_IN_FLIGHT", 3)
    with caplog.at_level(logging.ERROR, logger="live.bus"):
        got = burst(redis, 60)
    assert sorted(got) == list(range(60))
    assert not [r for r in caplog.records if "failed" in r.getMessage()]
