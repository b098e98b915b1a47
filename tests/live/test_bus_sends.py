"""Bursts of channel-layer commands wait for redis-py's connections instead of losing updates.

At the year-end peak (bench/peak.py) a burst of commits started more group
sends at once than redis-py's pool holds, and the pool refused the rest at
once ("Too many connections"): those screens missed their updates. Later the
rooms of 250 meetings, opened within a second, renewed their memberships in
the same second and the pool refused some of those. Every command but the
reads now takes one of `live.layer_pool.IN_FLIGHT` slots per process; here a
pool of 4 connections carries a burst of 60 sends, and 40 rooms opening at
once, every one delivered and joined.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from channels_redis.core import RedisChannelLayer

from infra.topology import RedisServer
from live import bus, layer_pool
from live.relay import Relay, Subscriber


def small_pool(redis: RedisServer) -> RedisChannelLayer:
    return RedisChannelLayer(hosts=[{"address": f"unix://{redis.socket}", "max_connections": 4}], capacity=1000)


def burst(redis: RedisServer, sends: int) -> list[int]:
    """Publish `sends` messages to a group at once through a 4-connection pool; the numbers that arrived."""
    layer = small_pool(redis)

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
    monkeypatch.setattr(layer_pool, "IN_FLIGHT", 3)
    with caplog.at_level(logging.ERROR, logger="live.bus"):
        got = burst(redis, 60)
    assert sorted(got) == list(range(60))
    assert not [r for r in caplog.records if "failed" in r.getMessage()]


async def build(county: str, meeting_id: str, kind: str) -> dict[str, Any]:
    return {"type": "snapshot", "kind": kind, "version": 5, "phase": "ballot_open", "server_now": "",
            "turnout": {"cast": 0, "eligible": 60, "paper": 0}}


async def ignore(message: dict[str, Any]) -> None:
    pass


def test_rooms_opening_together_through_a_small_pool_all_join(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Two slots: the rooms' blocking read and the watch's poll keep the other two connections.
    monkeypatch.setattr(layer_pool, "IN_FLIGHT", 2)
    layer = small_pool(redis)
    groups = [f"m.county_pool.meeting{n}" for n in range(40)]

    async def run() -> tuple[list[int], list[str]]:
        relay = Relay(layer, build, refresh=3600)  # no renewal: the joins alone must hold
        rooms = await asyncio.gather(*(
            relay.join(Subscriber("screen", ignore), group=group, county="county_pool", meeting_id=group[-9:])
            for group in groups))
        # A count sent to each group by another process reaches each room.
        other = small_pool(redis)
        for group in groups:
            await other.group_send(group, {"type": "meeting.turnout", "cast": 7, "version": 5})
        deadline = asyncio.get_running_loop().time() + 10
        while any(room.cast != 7 for room in rooms) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        casts = [room.cast for room in rooms]
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        for room in rooms:
            await room.close()
        for stop in (relay.watch, relay.hub):
            if stop is not None:
                stop.stop()
        await other.flush()
        return casts, warnings

    with caplog.at_level(logging.WARNING, logger="live"):
        casts, warnings = asyncio.run(run())
    assert casts == [7] * len(groups)
    # Joined at the first try: the watch never saw the layer fail (it would have repaired it later).
    assert not warnings
