"""SHUPING_HTTPS=1 behind a reverse proxy: a real server process, spoken to as the proxy speaks to it.

The proxy terminates TLS and forwards plain HTTP with `X-Forwarded-Proto: https`;
everything the platform prints must then say https, and its cookies must be
Secure. Without the header (a request that did not come through TLS) every
page is redirected to https, except the proxy's health probe.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from meetings import codes
from tests.live.server import HttpApi, LiveServer, county_host, demo_meeting, user_with_role

PROXIED = {"X-Forwarded-Proto": "https"}


@pytest.fixture(scope="module")
def https_server() -> Iterator[LiveServer]:
    server = LiveServer(env_extra={"SHUPING_HTTPS": "1"})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def proxied(https_server: LiveServer, live_county: Any, django_db_blocker: Any) -> dict[str, Any]:
    """A county_admin's and a host's API through the proxy, and an announced meeting."""
    with django_db_blocker.unblock():
        admin, host = HttpApi(https_server, live_county, "county_admin"), HttpApi(https_server, live_county, "host")
    for api in (admin, host):
        api.client.headers.update(PROXIED)
    meeting = demo_meeting(admin, host, party_members=4, representatives=0)
    return {"host": host, "meeting_id": meeting["meeting_id"]}


def site(server: LiveServer, county: Any) -> tuple[str, str]:
    """(the URL to reach the server at, the host name with port the proxy passes through)."""
    return f"http://127.0.0.1:{server.port}", f"{county_host(county)}:{server.port}"


def test_plain_http_is_redirected_to_https_but_the_health_probe_is_not(https_server: LiveServer, live_county: Any) -> None:
    base, host = site(https_server, live_county)
    page = httpx.get(f"{base}/login/?next=/dashboard/", headers={"Host": host})
    assert page.status_code == 301
    assert page.headers["Location"] == f"https://{host}/login/?next=/dashboard/"
    api = httpx.get(f"{base}/api/meetings/", headers={"Host": host})
    assert api.status_code == 301 and api.headers["Location"].startswith("https://")
    health = httpx.get(f"{base}/healthz", headers={"Host": host})
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_answers_through_the_proxy_carry_hsts(https_server: LiveServer, live_county: Any) -> None:
    base, host = site(https_server, live_county)
    page = httpx.get(f"{base}/login/", headers={"Host": host, **PROXIED})
    assert page.status_code == 200
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_a_qr_slip_behind_the_proxy_carries_an_https_link(
    https_server: LiveServer, live_county: Any, proxied: dict[str, Any],
) -> None:
    mid, host = proxied["meeting_id"], proxied["host"]
    response = host.client.post(f"meetings/{mid}/codes/slips/", json={"category": "party_member", "count": 2},
                                headers={"Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 200, response.text[:500]
    page = response.text
    base = f"https://{county_host(live_county)}:{https_server.port}/v/{mid}"
    assert base in page and "http://" not in page.replace("http://www.w3.org/", "")
    printed = re.findall(r"\b[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}\b", page)
    assert len(set(printed)) == 2
    for code in set(printed):
        # The QR is read by rendering what a phone would decode from it: the https link and nothing else.
        assert codes._qr_svg(codes.ballot_url(base, code)) in page
        assert codes._qr_svg(codes.ballot_url(base.replace("https://", "http://"), code)) not in page
    issued = host.post(f"meetings/{mid}/codes/", {"category": "party_member", "count": 1}, expect=200)
    assert all(url.startswith(base + "#") for url in issued["urls"])


def _cookies(response: httpx.Response) -> dict[str, str]:
    """Set-Cookie lines by cookie name."""
    return {line.split("=", 1)[0]: line for line in response.headers.get_list("set-cookie")}


def test_cookies_are_secure_and_the_screen_link_is_https(
    https_server: LiveServer, live_county: Any, proxied: dict[str, Any], django_db_blocker: Any,
) -> None:
    base, host = site(https_server, live_county)
    with django_db_blocker.unblock():
        username, password, _ = user_with_role(live_county, "host")
    headers = {"Host": host, **PROXIED}
    login_page = httpx.get(f"{base}/login/", headers=headers)
    csrf_line = _cookies(login_page)["shuping_csrf"]
    assert "; Secure" in csrf_line
    csrf = csrf_line.split("=", 1)[1].split(";", 1)[0]
    # Cookies by hand: a client keeps a Secure cookie from a plain-http URL, as it should.
    logged_in = httpx.post(
        f"{base}/login/", headers={**headers, "Cookie": f"shuping_csrf={csrf}", "Origin": f"https://{host}"},
        data={"username": username, "password": password, "csrfmiddlewaretoken": csrf, "next": "/dashboard/"},
    )
    assert logged_in.status_code == 302, logged_in.text[:500]
    session_line = _cookies(logged_in)["shuping_session"]
    assert "; Secure" in session_line and "; HttpOnly" in session_line
    session = session_line.split("=", 1)[1].split(";", 1)[0]
    mid = proxied["meeting_id"]
    console = httpx.get(f"{base}/hall/{mid}/console/", headers={**headers, "Cookie": f"shuping_session={session}"})
    assert console.status_code == 200
    link = re.search(r'id="screen-url" value="([^"]+)"', console.text)
    assert link is not None and link.group(1).startswith(f"https://{host}/hall/{mid}/screen/?t=")
    opened = httpx.get(f"{base}/hall/{mid}/screen/open/", headers={**headers, "Cookie": f"shuping_session={session}"})
    assert opened.status_code == 302 and opened.headers["Location"].startswith(f"https://{host}/hall/{mid}/screen/?t=")
