"""HTTP through the real server: uvicorn -> shuping.http_bridge's thread pool -> Django.

The bridge reads a request's body on the event loop (spooled to a file past
FILE_UPLOAD_MAX_MEMORY_SIZE), runs Django in a pool thread, and sends the
answer whole, or chunk by chunk when Django streams it. Each of those ways is
exercised here against a server process on the test database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import host_of
from tests.live.server import LiveServer

REPO = Path(__file__).resolve().parents[2]
STATIC = REPO / "frontend" / "static" / "js" / "api.js"


@pytest.fixture(scope="module")
def server() -> Iterator[LiveServer]:
    running = LiveServer(threads=4)
    try:
        yield running
    finally:
        running.stop()


def _client(server: LiveServer, county: Any) -> httpx.Client:
    return httpx.Client(base_url=f"http://127.0.0.1:{server.port}", headers={"Host": host_of(county)}, timeout=30)


def test_a_plain_answer(server: LiveServer, county_a: Any) -> None:
    with _client(server, county_a) as client:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "schema": county_a.schema_name}
    assert response.headers["content-length"] == str(len(response.content))


def test_an_answer_that_sets_cookies(server: LiveServer, county_a: Any) -> None:
    """Django writes Set-Cookie with a leading space; the bridge must pass on valid header values."""
    with _client(server, county_a) as client:
        response = client.get("/login/")
    assert response.status_code == 200
    assert "shuping_csrf" in response.cookies


def test_a_streamed_answer_arrives_whole(server: LiveServer, county_a: Any) -> None:
    with _client(server, county_a) as client:
        response = client.get("/static/js/api.js")
        head = client.head("/static/js/api.js")
    assert response.status_code == 200
    assert response.content == STATIC.read_bytes()
    assert head.status_code == 200 and head.content == b""


def test_large_bodies_are_refused_cleanly(server: LiveServer, county_a: Any) -> None:
    def post(size: int) -> httpx.Response:
        body = json.dumps({"code": "K7QM-X2PA-9F3R", "marks": {"a": {"b": "x" * size}}}).encode()
        with _client(server, county_a) as client:
            return client.post("/api/v/nosuchmeeting/ballot/", content=body, headers={"Content-Type": "application/json"})

    # Past the API's JSON limit: the API's own 413.
    response = post(1024 * 1024)
    assert response.status_code == 413, response.text[:500]
    assert response.json()["error"]["code"] == "request_too_large"
    # Past FILE_UPLOAD_MAX_MEMORY_SIZE the bridge spools the body to a file; past
    # DATA_UPLOAD_MAX_MEMORY_SIZE Django itself refuses it, and the answer is
    # still a 413 in the API's error format (not Django's "Bad Request" page).
    response = post(6 * 1024 * 1024)
    assert response.status_code == 413, response.text[:500]
    assert response.json()["error"]["code"] == "request_too_large"


def test_a_chunked_body_without_a_length(server: LiveServer, county_a: Any) -> None:
    body = json.dumps({"code": "K7QM-X2PA-9F3R", "marks": {}}).encode()

    def pieces() -> Iterator[bytes]:
        yield body[:10]
        yield body[10:]

    with _client(server, county_a) as client:
        response = client.post("/api/v/nosuchmeeting/ballot/", content=pieces(),
                               headers={"Content-Type": "application/json"})
    assert response.status_code == 404, response.text[:500]  # the body arrived: the meeting is what is unknown
    assert response.json()["error"]["code"] == "unknown_meeting"


def test_many_requests_at_once_each_get_their_own_answer(server: LiveServer, county_a: Any, county_b: Any) -> None:
    import concurrent.futures

    def probe(county: Any) -> str:
        with _client(server, county) as client:
            return str(client.get("/healthz").json()["schema"])

    counties = [county_a, county_b] * 20
    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        schemas = list(pool.map(probe, counties))
    assert schemas == [c.schema_name for c in counties]


def test_a_body_over_the_limit_is_refused_before_django(county_a: Any) -> None:
    """The bridge reads whole bodies before Django runs, so it enforces the size cap itself."""
    small = LiveServer(threads=2, env_extra={"SHUPING_MAX_REQUEST_BYTES": str(64 * 1024)})
    try:
        with _client(small, county_a) as client:
            declared = client.post("/healthz", content=b"x" * (100 * 1024))

            def chunks() -> Iterator[bytes]:
                for _ in range(10):
                    yield b"y" * (10 * 1024)

            chunked = client.post("/healthz", content=chunks())
            fine = client.get("/healthz")
    finally:
        small.stop()
    for refused in (declared, chunked):
        assert refused.status_code == 413
        error = refused.json()["error"]
        assert error["code"] == "request_too_large" and "请求内容过大" in error["message"]
    assert fine.status_code == 200
