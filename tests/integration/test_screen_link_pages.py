"""Who mints hall-screen links, and how long one lives: until the end of the meeting's day (county time)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.test import Client

from common import tokens
from common.china_time import CHINA_TIME
from live.screen_links import end_of_day
from tests.conftest import host_of
from tests.integration.meetings.api_client import Api

pytestmark = pytest.mark.django_db


def logged_in(county, role: str) -> Client:  # type: ignore[no-untyped-def]
    api = Api(county, role)
    client = Client()
    assert client.post("/login/", {"username": api.username, "password": "pw-" + api.username},
                       HTTP_HOST=host_of(county)).status_code == 302
    return client


def announced(county, starts_at: datetime) -> str:  # type: ignore[no-untyped-def]
    admin, host = Api(county, "county_admin"), Api(county, "host")
    round_id = admin.post("rounds/", {"name": "大屏链接", "year": 2026, "variant": "zhi_ping_cun_guan"}, expect=201)["round_id"]
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": "大屏链接", "township": "柳林乡", "village": "河湾村",
        "starts_at": starts_at.isoformat(), "place": "村部", "subjects": [{"subject_id": "s", "name": "书记", "level": "village"}],
        "roster": [{"member_id": "p1", "name": "代表", "category": "representative"}],
    }, expect=201)["meeting_id"]
    host.post(f"meetings/{mid}/announce/", {"starts_at": starts_at.isoformat(), "place": "村部", "agenda": ["测评"],
                                            "channels": ["广播"]}, expect=200)
    return mid


def test_only_hosts_and_county_admins_mint_a_screen_link(county_a) -> None:
    mid = announced(county_a, datetime.now(UTC) + timedelta(days=4))
    for role in ("observer", "teller", "auditor"):
        refused = logged_in(county_a, role).get(f"/hall/{mid}/screen/open/", HTTP_HOST=host_of(county_a))
        assert refused.status_code == 403, role
    for role in ("host", "county_admin"):
        link = logged_in(county_a, role).get(f"/hall/{mid}/screen/open/", HTTP_HOST=host_of(county_a))
        assert link.status_code == 302 and f"/hall/{mid}/screen/?t=" in link["Location"]


def test_a_screen_link_works_until_the_end_of_the_meetings_day_then_is_refused(county_a) -> None:
    starts = datetime(2030, 5, 20, 9, 0, tzinfo=CHINA_TIME)
    mid = announced(county_a, starts)
    host = logged_in(county_a, "host")
    link = host.get(f"/hall/{mid}/screen/open/", HTTP_HOST=host_of(county_a))["Location"]
    token = parse_qs(urlsplit(link).query)["t"][0]
    claims = signing.loads(token, salt=tokens.SALT)
    assert claims["x"] == int(datetime(2030, 5, 21, 0, 0, tzinfo=CHINA_TIME).timestamp())
    page = f"/hall/{mid}/screen/?t={token}"
    with mock.patch("time.time", return_value=claims["x"] - 60):  # 23:59 on the meeting's day
        assert Client().get(page, HTTP_HOST=host_of(county_a)).status_code == 200
    with mock.patch("time.time", return_value=claims["x"] + 1):  # the next day
        late = Client().get(page, HTTP_HOST=host_of(county_a))
    assert late.status_code == 403 and "token_expired" in late.content.decode()


def test_a_revoked_link_is_refused_by_the_page_and_a_new_one_works(county_a) -> None:
    mid = announced(county_a, datetime.now(UTC) + timedelta(days=4))
    host_page = logged_in(county_a, "host")
    old = host_page.get(f"/hall/{mid}/screen/open/", HTTP_HOST=host_of(county_a))["Location"]
    assert Client().get(old, HTTP_HOST=host_of(county_a)).status_code == 200
    Api(county_a, "observer").post(f"meetings/{mid}/screen-links/revoke/", expect=403)
    Api(county_a, "host").post(f"meetings/{mid}/screen-links/revoke/", {}, key=str(uuid.uuid4()), expect=200)
    refused = Client().get(old, HTTP_HOST=host_of(county_a))
    assert refused.status_code == 403 and "token_revoked" in refused.content.decode()
    new = host_page.get(f"/hall/{mid}/screen/open/", HTTP_HOST=host_of(county_a))["Location"]
    assert new != old and Client().get(new, HTTP_HOST=host_of(county_a)).status_code == 200


def test_end_of_day_is_county_midnight_after_the_meeting_or_today() -> None:
    now = datetime(2030, 5, 1, 12, tzinfo=UTC)
    late_evening = datetime(2030, 5, 20, 23, 30, tzinfo=CHINA_TIME)
    assert end_of_day(late_evening, now=now) == datetime(2030, 5, 21, tzinfo=CHINA_TIME)
    past_utc_midnight = datetime(2030, 5, 20, 16, 30, tzinfo=UTC)  # 00:30 on the 21st in the county
    assert end_of_day(past_utc_midnight, now=now) == datetime(2030, 5, 22, tzinfo=CHINA_TIME)
    assert end_of_day(datetime(2030, 4, 1, 9, tzinfo=CHINA_TIME), now=now) == datetime(2030, 5, 2, tzinfo=CHINA_TIME)
