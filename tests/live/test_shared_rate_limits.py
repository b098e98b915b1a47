"""Two ASGI worker processes on one Redis: a limit holds for the tries of both together, not per worker.

Tries alternate between worker A and worker B, from one client address (the
workers see the TCP peer 127.0.0.1): a receipt scanner's lookups and a
password guesser's logins are refused once their sum reaches the limit, as
on one worker, and the refusal is Chinese first with its stable code.
Per-process counting would answer every try below twice the limit.
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from infra.topology import RedisServer
from tests.live.server import LiveServer, county_host, user_with_role

LOOKUPS = 4  # per address and hour in this module's workers (hours: no window ends during the test)
GUESSES = 3  # failed logins before a lock-out


@pytest.fixture(scope="module")
def workers(redis: RedisServer) -> Iterator[tuple[LiveServer, LiveServer]]:
    env = {"SHUPING_RECEIPT_LOOKUP_RATE": f"{LOOKUPS}/h", "SHUPING_LOGIN_FAILURE_LIMIT": str(GUESSES)}
    a = LiveServer(redis_url=redis.url, env_extra=env)
    b = LiveServer(redis_url=redis.url, env_extra=env)
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


def _page_client(server: LiveServer, county: Any) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{server.port}",
                        headers={"Host": f"{county_host(county)}:{server.port}"}, timeout=30)


def _lookup(client: httpx.Client) -> httpx.Response:
    """A lookup as the form sends it: the page's CSRF token, then the receipt by POST."""
    form = client.get("/yanzheng/")
    assert form.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    assert token is not None
    return client.post("/yanzheng/", data={"csrfmiddlewaretoken": token.group(1), "receipt": "cd" * 32})


def test_receipt_lookups_spread_over_two_workers_are_limited_in_sum_and_across_counties(
    workers, live_county, other_live_county
) -> None:
    a, b = workers
    assert a.proc.pid != b.proc.pid
    clients = [_page_client(a, live_county), _page_client(b, live_county)]
    answers = [_lookup(clients[n % 2]) for n in range(LOOKUPS + 2)]
    assert [r.status_code for r in answers] == [200] * LOOKUPS + [429, 429], [r.status_code for r in answers]
    refused = answers[-1].text
    assert 'data-code="throttled"' in refused and "查询过于频繁" in refused
    assert refused.index("查询过于频繁") < refused.index("too many lookups")  # Chinese first
    # The same address on another county's host, through either worker: the limit is the address's.
    other = _page_client(b, other_live_county)
    assert _lookup(other).status_code == 429


def test_login_guesses_alternating_between_two_workers_lock_at_the_limit_in_sum(
    workers, live_county, django_db_blocker
) -> None:
    a, b = workers
    with django_db_blocker.unblock():
        name, password, _token = user_with_role(live_county, "host", password=f"right-{uuid.uuid4().hex}")
    apis = [httpx.Client(base_url=f"http://127.0.0.1:{s.port}/api/", timeout=30,
                         headers={"Host": f"{county_host(live_county)}:{s.port}"}) for s in (a, b)]
    guesses = [apis[n % 2].post("token/", json={"username": name, "password": f"guess-{n}"}).status_code
               for n in range(GUESSES)]
    assert guesses == [400] * (GUESSES - 1) + [429]  # the guess that reaches the limit is answered locked
    for api in apis:  # locked on both workers, even for the right password
        answer = api.post("token/", json={"username": name, "password": password})
        assert answer.status_code == 429, answer.text
        error = answer.json()["error"]
        assert error["code"] == "login_locked" and error["message"].startswith("登录失败次数过多")


def test_a_store_that_does_not_answer_refuses_with_a_chinese_503_not_an_uncounted_lookup(live_county) -> None:
    """Redis gone (nothing listens on its port): the lookup is refused, never let through uncounted."""
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    server = LiveServer(redis_url=f"redis://127.0.0.1:{dead}/0")
    try:
        answer = _lookup(_page_client(server, live_county))
        assert answer.status_code == 503, answer.status_code
        assert 'data-code="rate_limit_unavailable"' in answer.text and "暂时无法受理" in answer.text
    finally:
        server.stop()
