"""Hall-screen links are revocable per meeting: old links are refused and open screens are closed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from django_tenants.utils import schema_context

from live import screen_links
from tests.live.server import HttpApi, county_host, demo_meeting
from tests.live.ws import Screen


def minted(county: Any, meeting_id: str, blocker: Any) -> str:
    """A link's token as the console and /screen/open/ mint it."""
    with blocker.unblock(), schema_context(county.schema_name):
        return screen_links.mint(meeting_id, now=datetime.now(UTC))


def screen(server: Any, county: Any, meeting_id: str, token: str) -> Screen:
    return Screen(server, county_host(county), f"/ws/m/{meeting_id}/screen/?t={token}")


def page_status(server: Any, county: Any, meeting_id: str, token: str) -> tuple[int, str]:
    response = httpx.get(f"http://127.0.0.1:{server.port}/hall/{meeting_id}/screen/?t={token}", timeout=30,
                         headers={"Host": f"{county_host(county)}:{server.port}"})
    return response.status_code, response.text


def test_revoking_closes_open_screens_and_refuses_old_links_while_a_new_link_works(
    hall_server, live_county, django_db_blocker
) -> None:
    with django_db_blocker.unblock():
        admin, host = HttpApi(hall_server, live_county, "county_admin"), HttpApi(hall_server, live_county, "host")
        observer = HttpApi(hall_server, live_county, "observer")
    mid = demo_meeting(admin, host)["meeting_id"]
    old = minted(live_county, mid, django_db_blocker)
    hall = screen(hall_server, live_county, mid, old)
    assert hall.until(lambda m: True)["type"] == "snapshot"
    assert page_status(hall_server, live_county, mid, old)[0] == 200

    refused = observer.client.post(f"meetings/{mid}/screen-links/revoke/", json={})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"

    host.post(f"meetings/{mid}/screen-links/revoke/", expect=200)
    closing = hall.until(lambda m: m["type"] == "error")
    assert closing["code"] == "token_revoked" and "作废" in closing["message"]
    hall.next()
    assert hall.close_code == 4403

    again = screen(hall_server, live_county, mid, old)
    assert again.until(lambda m: True)["code"] == "token_revoked"
    again.next()
    assert again.close_code == 4403
    status, body = page_status(hall_server, live_county, mid, old)
    assert status == 403 and "token_revoked" in body and "作废" in body

    fresh = minted(live_county, mid, django_db_blocker)
    new_hall = screen(hall_server, live_county, mid, fresh)
    assert new_hall.until(lambda m: True)["type"] == "snapshot"
    assert page_status(hall_server, live_county, mid, fresh)[0] == 200
    # The new screen keeps following the meeting after the revocation.
    host.post(f"meetings/{mid}/check-in/", {"member_id": "pm0"}, expect=200)
    after = new_hall.until(lambda m: m["type"] == "snapshot" and any(q["present"] for q in m["quorum"]))
    assert after["phase"] == "announced"
    new_hall.close()
