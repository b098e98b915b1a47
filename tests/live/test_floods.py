"""The live layer under a flood: bad sockets are closed, honest screens miss no count.

A flood of 30 sockets runs in its own process (tests/live/flood_client.py)
against the same meeting's screen path, with a valid token, sending garbage,
oversized and binary frames and valid pings as fast as it can, reconnecting
whenever it is closed. Meanwhile ballots are cast over HTTP and several
honest hall screens follow the count. The same is done on a quiet meeting
first, so the figures printed (and recorded in docs/live.md) compare the two.
"""

from __future__ import annotations

import json
import select
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.live.server import (
    REPO,
    HttpApi,
    LiveServer,
    county_host,
    demo_meeting,
    marks_for,
    to_ballot_open,
)
from tests.live.test_websockets import cast_shown, open_screen, screen_path
from tests.live.ws import CEILING, Screen

SCREENS = 5
BALLOTS_PER_CATEGORY = 25  # 50 ballots per meeting
CASTERS = 4  # concurrent HTTP clients casting
SETTLE_BOUND = 5.0  # seconds: the last count must be on every honest screen within this of its answer


class Follower:
    """An honest hall screen read on its own thread: (arrival time, count shown) of every message."""

    def __init__(self, screen: Screen, until_cast: int) -> None:
        self.screen = screen
        self.counts: list[tuple[float, int]] = []
        self.until_cast = until_cast
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 4 * CEILING
        while time.monotonic() < deadline:
            message = self.screen.next(timeout=CEILING)
            if message is None:
                return  # closed (close_code says by whom) or silent for CEILING
            shown = cast_shown(message)
            if shown is not None:
                self.counts.append((time.monotonic(), shown))
                if shown >= self.until_cast:
                    return

    def first_at_least(self, count: int) -> float | None:
        return next((at for at, shown in self.counts if shown >= count), None)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.3f} s"


def cast_all(voter: HttpApi, meeting_id: str, codes: list[str]) -> list[float]:
    """Cast one ballot per code with CASTERS concurrent clients; the arrival times of the 201 answers."""

    def cast(code: str) -> float:
        voter.post(f"v/{meeting_id}/ballot/", {"code": code, "marks": marks_for()}, expect=201)
        return time.monotonic()

    with ThreadPoolExecutor(CASTERS) as pool:
        return sorted(pool.map(cast, codes))


def run_hall(server: LiveServer, county: Any, admin: HttpApi, host: HttpApi, voter: HttpApi,
             flood_with: Any = None) -> dict[str, Any]:
    """One meeting to an open ballot, SCREENS honest screens, all its ballots cast; the figures."""
    meeting = demo_meeting(admin, host, party_members=BALLOTS_PER_CATEGORY, representatives=30)
    mid = meeting["meeting_id"]
    codes = to_ballot_open(host, meeting, codes_per_category=BALLOTS_PER_CATEGORY)
    every = codes["party_member"] + codes["representative"]
    screens = [open_screen(server, county, mid) for _ in range(SCREENS)]
    for screen in screens:
        screen.until(lambda m: m["type"] == "snapshot" and m["phase"] == "ballot_open")
    flood = flood_with(mid) if flood_with else None
    try:
        followers = [Follower(screen, len(every)) for screen in screens]
        answers = cast_all(voter, mid, every)
        for follower in followers:
            follower.thread.join(4 * CEILING)
    finally:
        report = flood.stop() if flood else None
    # Ballots are interchangeable on a screen: the k-th answer proves k
    # ballots committed, and a screen is up to date with it once it shows >= k.
    lags, missing = [], 0
    for follower in followers:
        shown = [count for _, count in follower.counts]
        assert shown == sorted(shown), f"a count went back: {shown}"
        for rank, answered in enumerate(answers, start=1):
            at = follower.first_at_least(rank)
            if at is None:
                missing += 1
            else:
                lags.append(at - answered)
    for screen in screens:
        screen.close()
    last = [f.first_at_least(len(every)) for f in followers]
    return {
        "ballots": len(every), "missing": missing, "flood": report,
        "last_count_s": max((at - answers[-1]) for at in last if at is not None) if all(last) else None,
        "lag_p50_ms": 1000 * statistics.median(lags) if lags else float("nan"),
        "lag_max_ms": 1000 * max(lags) if lags else float("nan"),
        "final": [f.counts[-1][1] if f.counts else None for f in followers],
        "closed": [f.screen.close_code for f in followers],
    }


class Flood:
    """flood_client.py in its own process, against one meeting's screen path."""

    def __init__(self, server: LiveServer, county: Any, meeting_id: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("flood_client.py")), str(server.port), county_host(county),
             screen_path(county, meeting_id)],
            cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert self.proc.stdout is not None
        # "flooding": the server closed each of the 30 sockets once. A server
        # that never closes them (no frame budget) must fail the test, not hang it.
        ready, _, _ = select.select([self.proc.stdout], [], [], 2 * CEILING)
        if not ready:
            self.proc.kill()
            report = self.proc.communicate()[0]
            raise AssertionError(f"the server did not close every flooding socket in {2 * CEILING} s: {report}")
        line = self.proc.stdout.readline()
        assert line.strip() == "flooding", (line, self.proc.stderr.read() if self.proc.poll() is not None else "")

    def stop(self) -> dict[str, Any]:
        out, err = self.proc.communicate("stop\n", timeout=60)
        assert self.proc.returncode == 0, err[-3000:]
        report: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return report


@pytest.fixture(scope="module")
def apis(hall_server: LiveServer, live_county: Any, django_db_blocker: Any) -> tuple[HttpApi, HttpApi, HttpApi]:
    with django_db_blocker.unblock():
        return (HttpApi(hall_server, live_county, "county_admin"), HttpApi(hall_server, live_county, "host"),
                HttpApi(hall_server, live_county, None))


# Which close code each kind of bad traffic must get (docs/live.md, "Floods").
EXPECTED_CLOSE = {"garbage": "4400", "oversized": "1009", "binary": "1003", "pings": "4429"}


def test_a_flood_of_30_sockets_is_closed_and_honest_screens_miss_no_count(hall_server, live_county, apis) -> None:
    admin, host, voter = apis
    quiet = run_hall(hall_server, live_county, admin, host, voter)
    flooded = run_hall(hall_server, live_county, admin, host, voter,
                       flood_with=lambda mid: Flood(hall_server, live_county, mid))
    print(f"\nlive floods: {SCREENS} honest screens, {quiet['ballots']} ballots by {CASTERS} clients")
    for name, figures in (("quiet", quiet), ("flooded", flooded)):
        print(f"  {name}: last count on every screen {_seconds(figures['last_count_s'])} after the last answer; "
              f"count lag p50 {figures['lag_p50_ms']:.0f} ms, max {figures['lag_max_ms']:.0f} ms; "
              f"missed {figures['missing']}; final counts {figures['final']}, closes {figures['closed']}")
    print(f"  flood: {json.dumps(flooded['flood'])}")
    for figures in (quiet, flooded):
        assert figures["closed"] == [None] * SCREENS  # no honest screen was closed
        assert figures["missing"] == 0
        assert figures["final"] == [figures["ballots"]] * SCREENS
        assert figures["last_count_s"] < SETTLE_BOUND, figures
    # Every flooding socket the server closed was closed for its own kind of
    # traffic, with its code; each kind was closed many times over (it reconnects).
    for kind, expected in EXPECTED_CLOSE.items():
        closes = dict(flooded["flood"][kind]["closes"])
        closes.pop("closed_by_client", None)  # still open when the flood stopped
        assert set(closes) == {expected}, (kind, closes)
        assert closes[expected] >= 7, (kind, closes)  # each of its 7 or 8 sockets, once before the ballots


def test_an_honest_console_pace_is_never_closed(hall_server, live_county, apis) -> None:
    # A page that fell behind resyncs on every turnout until its snapshot comes
    # (up to 20 a second), on top of its pings: a burst of 25 at once, then a
    # ping every 0.25 s, stays open; 60 frames sent at once do not.
    admin, host, _ = apis
    mid = demo_meeting(admin, host)["meeting_id"]
    honest = open_screen(hall_server, live_county, mid, kind="console")
    honest.until(lambda m: m["type"] == "snapshot")
    for _ in range(25):
        honest.send({"type": "resync"})
    for _ in range(20):
        time.sleep(0.25)
        honest.send({"type": "ping"})
        honest.until(lambda m: m["type"] == "pong")
    assert honest.close_code is None
    honest.close()

    flooding = open_screen(hall_server, live_county, mid, kind="console")
    flooding.until(lambda m: m["type"] == "snapshot")
    try:
        for _ in range(60):  # sent in a few ms: the bucket refills 5 a second
            flooding.send({"type": "ping"})
    except ConnectionClosed:
        pass  # the server closed it before the last ones were sent
    error = flooding.until(lambda m: m["type"] == "error")
    assert error["code"] == "too_many_messages" and error["message"] == "消息过于频繁，连接已关闭"
    assert 30 <= sum(1 for m in flooding.messages if m["type"] == "pong") < 60
    flooding.next()
    assert flooding.close_code == 4429


@pytest.mark.parametrize(("frame", "code", "close_code"), [
    ("not json", "bad_message", 4400),
    ('{"type": "subscribe"}', "bad_message", 4400),
    ("[" * 4000, "bad_message", 4400),
    (b"\x00\x01", "bad_message", 1003),
    ('{"type": "ping", "pad": "' + "x" * 5000 + '"}', "message_too_big", 1009),
], ids=["not-json", "unknown-type", "deep", "binary", "oversized"])
def test_a_bad_frame_closes_the_socket_with_its_code(hall_server, live_county, apis, frame, code, close_code) -> None:
    admin, host, _ = apis
    mid = demo_meeting(admin, host)["meeting_id"]
    screen = open_screen(hall_server, live_county, mid)
    screen.until(lambda m: m["type"] == "snapshot")
    screen.conn.send(frame)
    error = screen.until(lambda m: m["type"] == "error")
    assert error["code"] == code and error["message"] and error["message_en"]
    screen.next()
    assert screen.close_code == close_code
