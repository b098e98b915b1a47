"""The login lane's two bounds on hashing, on the lane alone (shuping.http_bridge.LoginLane)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from shuping.http_bridge import LoginLane


def _lane(**kwargs: Any) -> LoginLane:
    return LoginLane(paths=["/api/token/"], **{"threads": 1, "wait_seconds": 10, "queue": 8, **kwargs})


def _work(seconds: float) -> Any:
    def respond(environ: dict[str, Any]) -> Any:
        started = time.monotonic()
        time.sleep(seconds)  # a password hash, as far as the lane can tell
        return (200, [], b"", started)

    return respond


def test_a_lane_busy_half_the_time_pauses_as_long_as_it_worked() -> None:
    lane = _lane(busy_share=0.5)

    async def two() -> list[Any]:
        return await asyncio.gather(lane.run(_work(0.3), {}), lane.run(_work(0.3), {}))

    first, second = asyncio.run(two())
    gap = second[3] - first[3]
    assert gap >= 0.3 + 0.3 - 0.02, gap  # 0.3 s of work, then 0.3 s of rest before the next


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
