"""Two ASGI worker processes behind one Redis: what one worker commits, the other's screens show."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels_redis.core import RedisChannelLayer

from common import tokens
from infra.topology import RedisServer
from live import bus
from tests.live.server import (
    HttpApi,
    LiveServer,
    county_host,
    demo_meeting,
    marks_for,
    to_ballot_open,
)
from tests.live.ws import Screen


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
    shown = screen.until(lambda m: _shown(m) == 1)
    # What B's screen shows is the meeting as worker A's API reports it: the
    # count, and the stream version the count belongs to (a ballot is sealed
    # in the box, not appended, so casting does not move the version; a
    # screen holding another version would resync instead of counting).
    state = host.get(f"meetings/{mid}/")
    assert state["ballots_cast"] == 1 and state["phase"] == "ballot_open"
    assert shown["version"] == state["version"]
    # And the other way round: a command through B moves a screen on A.
    screen_a = screen_on(a, live_county, mid)
    screen_a.until(lambda m: m["type"] == "snapshot")
    HttpApi(b, live_county, None).post(f"v/{mid}/ballot/", {"code": codes["representative"][1], "marks": marks_for()},
                                       expect=201)
    shown_a = screen_a.until(lambda m: _shown(m) == 2)
    state = host.get(f"meetings/{mid}/")
    assert state["ballots_cast"] == 2 and shown_a["version"] == state["version"]
    screen.close()
    screen_a.close()


def test_a_burst_of_notices_reaches_a_screen_in_order_with_the_final_count(
    workers, redis, live_county, django_db_blocker
) -> None:
    """200 turnout notices straight into the layer, past the senders' coalescing (live.bus): in order, to the last."""
    a, _b = workers
    with django_db_blocker.unblock():
        admin, host = HttpApi(a, live_county, "county_admin"), HttpApi(a, live_county, "host")
    meeting = demo_meeting(admin, host)
    mid = meeting["meeting_id"]
    to_ballot_open(host, meeting)
    screen = screen_on(a, live_county, mid)
    version = screen.until(lambda m: m["type"] == "snapshot" and m["phase"] == "ballot_open")["version"]
    # The servers' layer settings (settings.CHANNEL_LAYERS): a sender drops what
    # does not fit in a channel (capacity), and the default (100) is below a
    # burst sent this fast when the server is slow to read.
    layer = RedisChannelLayer(hosts=[redis.url], capacity=1000, expiry=30)
    group = bus.meeting_group(live_county.schema_name, mid)

    async def burst() -> None:
        for cast in range(1, 201):
            await layer.group_send(group, {"type": "meeting.turnout", "cast": cast, "version": version})

    before = len(screen.messages)
    async_to_sync(burst)()
    # The event is the final count reaching the screen; then look at what it took.
    screen.until(lambda m: m["type"] == "turnout" and m["cast"] == 200)
    messages = [m for m in screen.messages[before:] if m["type"] in ("turnout", "snapshot")]
    assert messages[-1]["type"] == "turnout" and messages[-1]["cast"] == 200
    assert len(messages) <= 200, f"{len(messages)} messages for 200 notices"
    # Counts only go forward.
    counts = [_shown(m) for m in messages]
    assert counts == sorted(counts)
    screen.close()


def _shown(message: dict[str, Any]) -> int | None:
    if message["type"] == "turnout":
        return int(message["cast"])
    if message["type"] == "snapshot":
        return int(message.get("turnout", {}).get("cast", 0))
    return None


def test_screens_on_two_workers_follow_a_burst_through_one_subscription_per_worker(
    workers, redis, live_county, django_db_blocker
) -> None:
    """Two screens on worker A and one on worker B see every ballot, cast through both workers."""
    import redis as redis_client

    a, b = workers
    with django_db_blocker.unblock():
        admin, host = HttpApi(a, live_county, "county_admin"), HttpApi(a, live_county, "host")
        voters = [HttpApi(a, live_county, None), HttpApi(b, live_county, None)]
    meeting = demo_meeting(admin, host, party_members=10, representatives=30)
    mid = meeting["meeting_id"]
    codes = to_ballot_open(host, meeting, codes_per_category=10)
    screens = [screen_on(a, live_county, mid), screen_on(a, live_county, mid), screen_on(b, live_county, mid)]
    versions = [s.until(lambda m: m["type"] == "snapshot" and m["phase"] == "ballot_open")["version"] for s in screens]
    assert len(set(versions)) == 1
    # One member of the meeting's group per worker process, however many screens each holds.
    group = bus.meeting_group(live_county.schema_name, mid)
    members = redis_client.Redis.from_url(redis.url).zcard(f"asgi:group:{group}")
    assert members == 2

    ballots = codes["party_member"] + codes["representative"]

    def cast(n: int) -> None:
        voters[n % 2].post(f"v/{mid}/ballot/", {"code": ballots[n], "marks": marks_for()}, expect=201)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(cast, range(len(ballots))))
    for screen in screens:
        screen.until(lambda m: _shown(m) == len(ballots))
        seen = [c for c in map(_shown, screen.messages) if c is not None]
        assert seen == sorted(seen), "counts never go back"
        # Every turnout speaks of the snapshot the screen has (no resync needed).
        assert all(m["version"] == versions[0] for m in screen.messages if m["type"] == "turnout")
        assert len(screen.messages) <= len(ballots) + 1
    # A change of state reaches all three, with the final count.
    host.post(f"meetings/{mid}/ballot/close/", expect=200)
    for screen in screens:
        closed = screen.until(lambda m: m["type"] == "snapshot" and m["phase"] == "ballot_closed")
        assert closed["turnout"]["cast"] == len(ballots)
        screen.close()


def test_revoking_the_links_through_worker_a_closes_a_screen_on_worker_b(workers, live_county, django_db_blocker) -> None:
    a, b = workers
    with django_db_blocker.unblock():
        admin, host = HttpApi(a, live_county, "county_admin"), HttpApi(a, live_county, "host")
    mid = demo_meeting(admin, host)["meeting_id"]
    screen = screen_on(b, live_county, mid)
    assert screen.until(lambda m: m["type"] == "snapshot")["phase"] == "announced"
    host.post(f"meetings/{mid}/screen-links/revoke/", expect=200)
    assert screen.until(lambda m: m["type"] == "error")["code"] == "token_revoked"
    screen.next()
    assert screen.close_code == 4403
