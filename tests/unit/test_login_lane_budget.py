"""The login lane's two bounds on hashing, on the lane alone (shuping.http_bridge.LoginLane)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from shuping.http_bridge import LoginLane


def _lane(**kwargs: Any) -> LoginLane:
    return LoginLane(paths=["/api/token/"], **{"threads": 1, "wait_seconds": 10, "queue": 16, **kwargs})


def _work(seconds: float) -> Any:
    def respond(environ: dict[str, Any]) -> Any:
        started = time.monotonic()
        time.sleep(seconds)  # a password hash, as far as the lane can tell
        return (200, [], b"", started)

    return respond


def _starts(lane: LoginLane, runs: int, seconds: float) -> list[float]:
    async def all_of_them() -> list[Any]:
        return await asyncio.gather(*(lane.run(_work(seconds), {}) for _ in range(runs)))

    return sorted(answer[3] for answer in asyncio.run(all_of_them()))


def test_a_few_logins_at_once_are_served_at_once_from_the_burst() -> None:
    starts = _starts(_lane(busy_share=0.25, burst_seconds=5), 3, 0.2)
    assert starts[-1] - starts[0] < 0.4 + 0.15, starts  # one after the other, no pause


def test_a_flood_of_logins_keeps_the_lane_busy_at_most_its_share() -> None:
    # 8 x 0.2 s of work, 0.4 s of it from the burst, the rest earned at 0.5 s per second:
    # the last starts no sooner than (8 x 0.2 - 0.4) / 0.5 - 0.2 = 2.2 s after the first.
    starts = _starts(_lane(busy_share=0.5, burst_seconds=0.4), 8, 0.2)
    assert starts[-1] - starts[0] >= 2.2 - 0.05, starts


def test_a_full_lane_turns_logins_away_unrun() -> None:
    lane = _lane(queue=1, wait_seconds=0.5)
    ran: list[int] = []

    def respond(environ: dict[str, Any]) -> Any:
        ran.append(1)
        time.sleep(0.8)
        return (200, [], b"", None)

    async def three() -> list[Any]:
        return await asyncio.gather(*(lane.run(respond, {}) for _ in range(3)))

    answers = asyncio.run(three())
    # One ran; one waited 0.5 s for the slot and gave up; one found the queue full.
    assert [a is None for a in answers] == [False, True, True]
    assert ran == [1]


def test_the_lane_takes_only_posts_to_its_paths() -> None:
    lane = _lane()
    assert lane.takes({"method": "POST", "path": "/api/token/"})
    assert not lane.takes({"method": "GET", "path": "/api/token/"})
    assert not lane.takes({"method": "POST", "path": "/api/v/m1/ballot/"})
