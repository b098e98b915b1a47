"""Two ASGI worker processes behind one Redis: what one worker commits, the other's screens show."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
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
    a = LiveServer(redis_url=redis.url)
    b = LiveServer(redis_url=redis.url)
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def screen_on(server: LiveServer, county: Any, meeting_id: str) -> Screen:
    token = tokens.issue(county=county.schema_name, meeting_id=meeting_id, kind="screen")
    return Screen(server, county_host(county), f"/ws/m/{meeting_id}/screen/?t={token}")


def test_a_ballot_cast_through_worker_a_appears_on_a_screen_of_worker_b(workers, live_county, django_db_blocker) -> None:
    a, b = workers
    assert a.proc.pid != b.proc.pid
    with django_db_blocker.unblock():
        admin, host, voter = HttpApi(a, live_county, "county_admin"), HttpApi(a, live_county, "host"), HttpApi(a, live_county, None)
    meeting = demo_meeting(admin, host)
    mid = meeting["meeting_id"]
    screen = screen_on(b, live_county, mid)
    assert screen.until(lambda m: m["type"] == "snapshot")["phase"] == "announced"
    codes = to_ballot_open(host, meeting)
    screen.until(lambda m: m["type"] == "snapshot" and m["phase"] == "ballot_open")
    voter.post(f"v/{mid}/ballot/", {"code": codes["representative"][0], "marks": marks_for()}, expect=201)
    shown = screen.until(lambda m: (m.get("cast") if m["type"] == "turnout" else m.get("turnout", {}).get("cast")) == 1)
    assert shown["version"] == screen.messages[-1]["version"]
    # And the other way round: a command through B moves a screen on A.
    screen_a = screen_on(a, live_county, mid)
    screen_a.until(lambda m: m["type"] == "snapshot")
    HttpApi(b, live_county, None).post(f"v/{mid}/ballot/", {"code": codes["representative"][1], "marks": marks_for()},
                                       expect=201)
    screen_a.until(lambda m: (m.get("cast") if m["type"] == "turnout" else m.get("turnout", {}).get("cast")) == 2)
    screen.close()
    screen_a.close()


def test_a_burst_of_notices_reaches_a_screen_as_a_few_messages_with_the_final_count(
    workers, redis, live_county, django_db_blocker
) -> None:
    """Coalescing: 200 turnout notices in a burst must not become 200 messages to every screen."""
    a, _b = workers
    with django_db_blocker.unblock():
        admin, host = HttpApi(a, live_county, "county_admin"), HttpApi(a, live_county, "host")
    meeting = demo_meeting(admin, host)
    mid = meeting["meeting_id"]
    to_ballot_open(host, meeting)
    screen = screen_on(a, live_county, mid)
    version = screen.until(lambda m: m["type"] == "snapshot" and m["phase"] == "ballot_open")["version"]
    layer = RedisChannelLayer(hosts=[redis.url])
    group = bus.meeting_group(live_county.schema_name, mid)

    async def burst() -> None:
        for cast in range(1, 201):
            await layer.group_send(group, {"type": "meeting.turnout", "cast": cast, "version": version})

    async_to_sync(burst)()
    messages = screen.drain(quiet=1.0)
    assert messages, "the burst reached the screen"
    assert messages[-1]["type"] == "turnout" and messages[-1]["cast"] == 200
    assert len(messages) <= 20, f"{len(messages)} messages for 200 notices"
    # Counts only go forward.
    counts = [m["cast"] for m in messages]
    assert counts == sorted(counts)
    screen.close()
