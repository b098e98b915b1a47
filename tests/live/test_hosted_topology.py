"""The hosted topology of infra/ as `infra/up` starts it: nginx, two uvicorn workers, Redis, the test PostgreSQL.

infra.topology.start (the code behind `infra/up`) starts the processes; the
tests speak to nginx only, as phones and hall screens do. nginx routes by
consistent hashing on the host name plus "ws" for websockets
(infra/nginx.conf.template), and names the worker that answered in
X-Shuping-Upstream: each test picks host names of its county whose pages and
websockets land on the workers it needs (registered as the county's domains),
and checks with that header where every request went.

In CI (CI=true) a missing nginx or redis-server fails these tests (tests/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from websockets.protocol import State

from infra.topology import Topology, start
from tests.live.server import (
    HttpApi,
    demo_meeting,
    make_live_county,
    marks_for,
    results_as_shown,
    to_ballot_open,
)
from tests.live.test_websockets import cast_shown, screen_path
from tests.live.ws import CEILING, Screen

UPSTREAM = "X-Shuping-Upstream"


def _needs_tools() -> None:
    for tool, package in (("nginx", "nginx"), ("redis-server", "redis-server")):
        if shutil.which(tool) is None and shutil.which(tool, path="/usr/sbin") is None:
            pytest.skip(f"{tool} is not installed (Debian package {package}; .ci/run installs it)")


def _start() -> Topology:
    _needs_tools()
    return start(env=os.environ, workers=2, job_worker=False)


@pytest.fixture(scope="module")
def topology() -> Iterator[Topology]:
    running = _start()
    try:
        yield running
    finally:
        running.stop()


def routes(topology: Topology, host: str) -> tuple[str, str]:
    """(worker of the host's pages and API, worker of its websockets) as nginx routes them."""
    headers = {"Host": f"{host}:{topology.port}"}
    base = f"http://127.0.0.1:{topology.port}"
    page = httpx.get(f"{base}/healthz", headers=headers, timeout=CEILING)
    socket_path = httpx.get(f"{base}/ws/route-probe/", headers=headers, timeout=CEILING)
    return page.headers[UPSTREAM], socket_path.headers[UPSTREAM]


def routed_host(topology: Topology, county: Any, *, http: str | None = None, ws: str | None = None,
                differ: bool = False) -> tuple[str, str, str]:
    """A new host name of `county` routed as asked (http/ws worker, or to different workers), registered as its domain."""
    from tenants.models import Domain

    base = county.schema_name.replace("_", "-")
    for n in range(256):  # each name is a coin toss between two workers: 256 failures do not happen
        host = f"{base}-r{n}.localhost"
        got_http, got_ws = routes(topology, host)
        if (http in (None, got_http)) and (ws in (None, got_ws)) and (not differ or got_http != got_ws):
            Domain.objects.create(domain=host, tenant=county, is_primary=False)
            return host, got_http, got_ws
    raise AssertionError(f"no host name of {county.schema_name} routed http={http} ws={ws} differ={differ}")


def test_a_meeting_through_the_proxy_with_the_screen_on_one_worker_and_the_phones_on_the_other(
    topology, live_county, django_db_blocker
) -> None:
    with django_db_blocker.unblock():
        host_name, phones_worker, screen_worker = routed_host(topology, live_county, differ=True)
        admin = HttpApi(topology, live_county, "county_admin", host=host_name)  # type: ignore[arg-type]
        host = HttpApi(topology, live_county, "host", host=host_name)  # type: ignore[arg-type]
        voter = HttpApi(topology, live_county, None, host=host_name)  # type: ignore[arg-type]
    assert {phones_worker, screen_worker} == {w.address for w in topology.workers}
    meeting = demo_meeting(admin, host, party_members=10, representatives=30)
    mid = meeting["meeting_id"]
    screen = Screen(topology, host_name, screen_path(live_county, mid))  # type: ignore[arg-type]
    assert screen.conn.response is not None and screen.conn.response.headers[UPSTREAM] == screen_worker
    assert screen.until(lambda m: m["type"] == "snapshot")["phase"] == "announced"
    codes = to_ballot_open(host, meeting, codes_per_category=10)
    screen.until(lambda m: m["type"] == "snapshot" and m["phase"] == "ballot_open")

    ballots = codes["party_member"] + codes["representative"]
    for n, code in enumerate(ballots, start=1):
        answer = voter.client.post(f"v/{mid}/ballot/", json={"code": code, "marks": marks_for()})
        assert answer.status_code == 201, answer.text
        assert answer.headers[UPSTREAM] == phones_worker  # the phones' worker, not the screen's
        if n == 7:  # the screen follows the count while the ballot is open
            screen.until(lambda m: cast_shown(m) == 7)
    state = host.get(f"meetings/{mid}/")
    assert state["ballots_cast"] == len(ballots) == 20
    assert screen.until(lambda m: cast_shown(m) == len(ballots))

    host.post(f"meetings/{mid}/ballot/close/", expect=200)
    closed = screen.until(lambda m: m["type"] == "snapshot" and m["phase"] == "ballot_closed")
    assert closed["turnout"]["cast"] == len(ballots)
    host.post(f"meetings/{mid}/results/announce/", expect=200)
    shown = screen.until(lambda m: m["type"] == "snapshot" and m["phase"] == "results_announced")
    assert shown["results"] == results_as_shown(host.get(f"meetings/{mid}/results/"))
    counts = [c for c in map(cast_shown, screen.messages) if c is not None]
    assert counts == sorted(counts), "counts never go back"
    screen.close()


@pytest.fixture
def own_topology() -> Iterator[Topology]:
    """A topology of its own: the test kills one of its workers."""
    running = _start()
    try:
        yield running
    finally:
        running.stop()


def _closed(screen: Screen) -> bool:
    """Wait (at most CEILING) until the socket is closed; True if it was."""
    deadline = time.monotonic() + CEILING
    while screen.conn.state is not State.CLOSED and time.monotonic() < deadline:
        screen.next(timeout=1)
    return screen.conn.state is State.CLOSED


def test_a_worker_killed_mid_ballot_costs_no_voter_an_error_and_no_ballot_counts_twice(
    own_topology, make_county, django_db_blocker
) -> None:
    """SIGKILL to the phones' worker while its ballots are in flight: nginx resends them to the other worker.

    The worker is frozen (SIGSTOP) while phones keep casting, so that ballots
    are surely in flight on it (sent, not answered), then killed (SIGKILL).
    nginx resends those to the other worker (`non_idempotent` on the ballot
    URL only): a ballot that the dead worker had stored comes back as the same
    ballot again (200, "repeated"), any other is stored there (201). Without
    the resend the voters of the in-flight ballots would get a 502.
    """
    topology = own_topology
    with django_db_blocker.unblock():
        county = make_live_county(make_county)
        phones_host, doomed, survivor = routed_host(topology, county, differ=True)
        doomed_screen_host, _, _ = routed_host(topology, county, ws=doomed)
        admin = HttpApi(topology, county, "county_admin", host=phones_host)  # type: ignore[arg-type]
        host = HttpApi(topology, county, "host", host=phones_host)  # type: ignore[arg-type]
    meeting = demo_meeting(admin, host, party_members=30, representatives=30)
    mid = meeting["meeting_id"]
    codes = to_ballot_open(host, meeting, codes_per_category=30)
    ballots = codes["party_member"] + codes["representative"]

    def open_screen(on_host: str, expect_worker: str) -> Screen:
        screen = Screen(topology, on_host, screen_path(county, mid))  # type: ignore[arg-type]
        assert screen.conn.response is not None and screen.conn.response.headers[UPSTREAM] == expect_worker
        screen.until(lambda m: m["type"] == "snapshot" and m["phase"] == "ballot_open")
        return screen

    surviving_screen = open_screen(phones_host, survivor)
    doomed_screen = open_screen(doomed_screen_host, doomed)

    base = f"http://127.0.0.1:{topology.port}/api/"
    answers: list[tuple[int, dict[str, Any], str]] = []
    lock = threading.Lock()

    def cast(code: str) -> None:
        # One phone, one attempt: any resend is nginx's.
        with httpx.Client(base_url=base, headers={"Host": f"{phones_host}:{topology.port}"}, timeout=120) as phone:
            answer = phone.post(f"v/{mid}/ballot/", json={"code": code, "marks": marks_for()})
        json_body = answer.headers.get("content-type", "").startswith("application/json")
        body = answer.json() if json_body else {"text": answer.text[:300]}
        with lock:
            answers.append((answer.status_code, body, answer.headers.get(UPSTREAM, "")))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(cast, ballots[:10]))  # the burst starts on the phones' worker
        assert {upstream for _, _, upstream in answers} == {doomed}
        worker = topology.worker_at(doomed)
        os.kill(worker.proc.pid, signal.SIGSTOP)
        rest = [pool.submit(cast, code) for code in ballots[10:]]
        time.sleep(1.0)  # phones keep casting: their ballots are sent to the frozen worker and wait
        in_flight = sum(1 for future in rest if not future.done())
        worker.kill()  # kill -9, ballots in flight
        for future in rest:
            future.result(timeout=4 * CEILING)

    statuses = [status for status, _, _ in answers]
    assert all(status in (200, 201) for status in statuses), [a for a in answers if a[0] not in (200, 201)]
    assert all(body["repeated"] for status, body, _ in answers if status == 200)
    resent = [upstream for _, _, upstream in answers if upstream == f"{doomed}, {survivor}"]
    print(f"\nkill -9 mid-ballot: {in_flight} ballots in flight on the killed worker, {len(resent)} answered after "
          f"nginx resent them; statuses {sorted(set(statuses))}")
    assert in_flight and resent, "ballots were in flight on the killed worker and were resent to the other"
    assert all(upstream in (doomed, survivor, f"{doomed}, {survivor}") for _, _, upstream in answers)

    # Every ballot counted once: the meeting's count is the number of codes, each answered once.
    assert len(answers) == len(ballots) == 60
    state = host.get(f"meetings/{mid}/")
    assert state["ballots_cast"] == len(ballots)

    # The screen on the killed worker lost its socket; reconnecting through nginx reaches the other worker.
    assert _closed(doomed_screen)
    reconnected = Screen(topology, doomed_screen_host, screen_path(county, mid))  # type: ignore[arg-type]
    assert reconnected.conn.response is not None
    assert reconnected.conn.response.headers[UPSTREAM].split(", ")[-1] == survivor
    assert cast_shown(reconnected.until(lambda m: m["type"] == "snapshot")) == len(ballots)
    surviving_screen.until(lambda m: cast_shown(m) == len(ballots))

    host.post(f"meetings/{mid}/ballot/close/", expect=200)
    for screen in (surviving_screen, reconnected):
        closed = screen.until(lambda m: m["type"] == "snapshot" and m["phase"] == "ballot_closed")
        assert closed["turnout"]["cast"] == len(ballots)
        screen.close()
