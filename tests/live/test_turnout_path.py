"""The turnout path: one route (the channel layer, from every process alike) and one throttle (the room).

A burst cast through two worker processes behind one Redis ends with every
screen, on either worker, at the final count; counts never go back on a
screen; and what travels through the layer is a count and a version,
nothing about a ballot.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from channels_redis.core import RedisChannelLayer

from live import bus, tokens
from tests.live.server import (
    HttpApi,
    LiveServer,
    RedisServer,
    county_host,
    demo_meeting,
    marks_for,
    to_ballot_open,
)
from tests.live.ws import Screen

BALLOTS_PER_CATEGORY = 40  # 80 ballots, cast by 16 clients at once through both workers


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def workers(redis: RedisServer) -> Iterator[tuple[LiveServer, LiveServer]]:
    a = LiveServer(redis_url=redis.url, threads=8)
    b = LiveServer(redis_url=redis.url, threads=8)
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def _shown(message: dict[str, Any]) -> int | None:
    if message["type"] == "turnout":
        return int(message["cast"])
    if message["type"] == "snapshot":
        return int(message.get("turnout", {}).get("cast", 0))
    return None


def test_a_burst_across_two_workers_ends_with_every_screen_at_the_final_count(
    workers, redis, live_county, django_db_blocker
) -> None:
    a, b = workers
    n = BALLOTS_PER_CATEGORY
    with django_db_blocker.unblock():
        admin, host = HttpApi(a, live_county, "county_admin"), HttpApi(a, live_county, "host")
        voters = [HttpApi(a, live_county, None), HttpApi(b, live_county, None)]
    meeting = demo_meeting(admin, host, party_members=n, representatives=n)
    mid = meeting["meeting_id"]
    codes = to_ballot_open(host, meeting, codes_per_category=n)
    ballots = codes["party_member"] + codes["representative"]

    def screen_on(server: LiveServer) -> Screen:
        token = tokens.issue(county=live_county.schema_name, meeting_id=mid, kind="screen")
        return Screen(server, county_host(live_county), f"/ws/m/{mid}/screen/?t={token}")

    screens = [screen_on(server) for server in (a, a, a, b, b, b)]
    for screen in screens:
        screen.until(lambda m: m["type"] == "snapshot" and m["phase"] == "ballot_open")

    def cast(i: int) -> None:
        voters[i % 2].post(f"v/{mid}/ballot/", {"code": ballots[i], "marks": marks_for()}, expect=201)

    async def burst_watched_on_the_layer() -> list[dict[str, Any]]:
        """Cast the burst while a member of the meeting's group records what the workers publish."""
        layer = RedisChannelLayer(hosts=[redis.url])
        channel = f"listener{uuid.uuid4().hex}"
        group = bus.meeting_group(live_county.schema_name, mid)
        await layer.group_add(group, channel)
        with ThreadPoolExecutor(max_workers=16) as pool:
            await asyncio.get_running_loop().run_in_executor(None, lambda: list(pool.map(cast, range(len(ballots)))))
        heard = []
        while True:
            try:
                heard.append(await asyncio.wait_for(layer.receive(channel), 2.0))
            except TimeoutError:
                break
        await layer.group_discard(group, channel)
        await layer.close_pools()
        return heard

    heard = asyncio.run(burst_watched_on_the_layer())
    try:
        for screen in screens:
            screen.until(lambda m: _shown(m) == len(ballots))
            seen = [c for c in map(_shown, screen.messages) if c is not None]
            assert seen == sorted(seen), "counts never go back on a screen"
            assert len(seen) <= len(ballots), "the room folds a burst into fewer messages than ballots"
    finally:
        for screen in screens:
            screen.close()
    turnouts = [m for m in heard if m.get("type") == "meeting.turnout"]
    assert turnouts and max(m["cast"] for m in turnouts) == len(ballots)
    # Only a count and the version it was cast at; nothing names or orders a ballot.
    assert all(set(m) == {"type", "cast", "version"} for m in turnouts), turnouts[:3]
    # One route: each sealed ballot's count goes to the group, whichever worker sealed it.
    assert len(turnouts) == len(ballots)
