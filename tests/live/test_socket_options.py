"""What an operator checks of the websocket server's options (shuping.server_options) on a real server.

No permessage-deflate: a client that offers it (browsers always do) gets a
handshake without Sec-WebSocket-Extensions, so the server keeps no zlib state
per socket (docs/benchmarks.md, "Twenty thousand websockets"). And a frame
over 64 KiB is refused by the server itself, before the application reads it:
the close code is 1009 and no error message of the application comes first
(the consumer's own 4 KiB limit answers with one, shown here for contrast).
"""

from __future__ import annotations

from typing import Any

import pytest

from common import tokens
from tests.live.server import HttpApi, LiveServer, county_host, demo_meeting
from tests.live.ws import CEILING, Screen


@pytest.fixture(scope="module")
def screen_path(hall_server: LiveServer, live_county: Any, django_db_blocker: Any) -> str:
    with django_db_blocker.unblock():
        admin = HttpApi(hall_server, live_county, "county_admin")
        host = HttpApi(hall_server, live_county, "host")
        meeting_id = demo_meeting(admin, host, party_members=1, representatives=1)["meeting_id"]
    token = tokens.issue(county=live_county.schema_name, meeting_id=meeting_id, kind="screen")
    return f"/ws/m/{meeting_id}/screen/?t={token}"


def open_screen(server: LiveServer, county: Any, path: str) -> Screen:
    screen = Screen(server, county_host(county), path)
    screen.until(lambda m: m["type"] == "snapshot")
    return screen


def closed_after(screen: Screen, frame: str) -> tuple[int | None, list[dict[str, Any]]]:
    """Send `frame`; the close code the server answers with and the messages that came before it."""
    before = len(screen.messages)
    screen.conn.send(frame)
    while screen.close_code is None:
        if screen.next(timeout=CEILING) is None and screen.close_code is None:
            raise AssertionError("the server neither answered nor closed")
    return screen.close_code, screen.messages[before:]


def test_the_handshake_declines_permessage_deflate(hall_server, live_county, screen_path) -> None:
    screen = open_screen(hall_server, live_county, screen_path)
    try:
        offered = screen.conn.request.headers.get("Sec-WebSocket-Extensions") or ""
        assert "permessage-deflate" in offered  # the client offered it, as browsers do
        assert screen.conn.response.status_code == 101
        assert "Sec-WebSocket-Extensions" not in screen.conn.response.headers
    finally:
        screen.close()


def test_a_frame_over_64_kib_is_refused_by_the_server(hall_server, live_county, screen_path) -> None:
    screen = open_screen(hall_server, live_county, screen_path)
    code, before = closed_after(screen, '{"type": "ping", "pad": "' + "x" * (64 * 1024) + '"}')
    assert code == 1009  # message too big
    assert not [m for m in before if m.get("type") == "error"]  # the server refused it, not the consumer


def test_a_frame_over_4_kib_is_refused_by_the_consumer(hall_server, live_county, screen_path) -> None:
    screen = open_screen(hall_server, live_county, screen_path)
    code, before = closed_after(screen, '{"type": "ping", "pad": "' + "x" * 5000 + '"}')
    assert code == 1009
    assert [m["code"] for m in before if m.get("type") == "error"] == ["message_too_big"]
