"""Sessions end at an absolute limit from the login and after an idle spell (accounts.sessions).

A person logs in on the hall's login page, then opens the county dashboard;
the test moves the session's clock back, as time passing would, and checks
what the person would see: the dashboard, or the login page again.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.session_store import SessionStore, stored_key
from accounts.sessions import LOGIN_AT, SEEN_AT
from tests.conftest import host_of

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Lanterns-over-the-river-7"


def _logged_in(county: Any) -> Client:
    name = f"s_{uuid.uuid4().hex[:8]}"
    with schema_context(county.schema_name):
        User.objects.create_user(username=name, password=PASSWORD, role="observer")
    client = Client()
    response = client.post("/login/", {"username": name, "password": PASSWORD}, HTTP_HOST=host_of(county))
    assert response.status_code == 302, response.content[:500]
    return client


def _age(client: Client, county: Any, *, since_login: float, since_seen: float) -> None:
    """Move the session's clock back as if so many seconds had passed."""
    with schema_context(county.schema_name):
        session = client.session
        now = time.time()
        session[LOGIN_AT] = now - since_login
        session[SEEN_AT] = now - since_seen
        session.save()


def _dashboard(client: Client, county: Any) -> Any:
    return client.get("/dashboard/", HTTP_HOST=host_of(county))


def _sees_dashboard(client: Client, county: Any) -> bool:
    response = _dashboard(client, county)
    if response.status_code == 302:
        assert response["Location"].startswith("/login/")
        return False
    assert response.status_code == 200
    return True


def test_a_fresh_session_opens_the_dashboard(county_a: Any) -> None:
    client = _logged_in(county_a)
    assert _sees_dashboard(client, county_a)


def test_a_session_idle_past_the_limit_is_logged_out(county_a: Any) -> None:
    client = _logged_in(county_a)
    _age(client, county_a, since_login=600, since_seen=settings.SESSION_IDLE_SECONDS + 1)
    assert not _sees_dashboard(client, county_a)
    # and stays logged out (the session was flushed, not just refused once)
    assert not _sees_dashboard(client, county_a)


def test_a_session_in_use_lasts_and_its_idle_clock_restarts(county_a: Any) -> None:
    client = _logged_in(county_a)
    _age(client, county_a, since_login=3600, since_seen=settings.SESSION_IDLE_SECONDS - 120)
    assert _sees_dashboard(client, county_a)
    with schema_context(county_a.schema_name):
        seen = client.session[SEEN_AT]
    assert time.time() - seen < 60  # the request counted as activity


def test_a_session_in_constant_use_still_ends_at_the_absolute_limit(county_a: Any) -> None:
    client = _logged_in(county_a)
    _age(client, county_a, since_login=settings.SESSION_COOKIE_AGE + 1, since_seen=5)
    assert not _sees_dashboard(client, county_a)


def test_the_api_refuses_a_session_past_its_limit(county_a: Any) -> None:
    client = _logged_in(county_a)
    assert client.get("/api/meetings/", HTTP_HOST=host_of(county_a)).status_code == 200
    _age(client, county_a, since_login=60, since_seen=settings.SESSION_IDLE_SECONDS + 1)
    response = client.get("/api/meetings/", HTTP_HOST=host_of(county_a))
    assert response.status_code in (401, 403)
    assert response.json()["error"]["code"] == "not_authenticated"


def test_the_session_table_keeps_a_digest_of_the_cookie_not_the_cookie(county_a: Any) -> None:
    client = _logged_in(county_a)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert len(cookie) >= 32 and _sees_dashboard(client, county_a)
    with connection.cursor() as cursor:
        cursor.execute(
            f'SELECT count(*) FILTER (WHERE strpos(session_key || session_data, %s) > 0),'
            f' count(*) FILTER (WHERE session_key = %s) FROM "{county_a.schema_name}".django_session',
            [cookie, stored_key(cookie)],
        )
        assert cursor.fetchone() == (0, 1)
    # A cookie made of the stored key opens nothing.
    thief = Client()
    thief.cookies[settings.SESSION_COOKIE_NAME] = stored_key(cookie)
    assert not _sees_dashboard(thief, county_a)
    # Logging out removes the row.
    client.post("/logout/", HTTP_HOST=host_of(county_a))
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT count(*) FROM "{county_a.schema_name}".django_session WHERE session_key = %s',
                       [stored_key(cookie)])
        assert cursor.fetchone() == (0,)
    assert not _sees_dashboard(client, county_a)


def test_the_async_session_methods_store_the_digest_too(county_a: Any) -> None:
    async def round_trip() -> str:
        store = SessionStore()
        store["seen"] = 1
        await store.acreate()
        key = str(store.session_key)
        assert await store.aexists(key) and not await store.aexists(stored_key(key))
        assert await SessionStore(key).aload() == {"seen": 1}
        await SessionStore(key).adelete()
        return key

    with schema_context(county_a.schema_name), connection.cursor() as cursor:
        key = async_to_sync(round_trip)()
        cursor.execute("SELECT count(*) FROM django_session WHERE session_key IN (%s, %s)", [key, stored_key(key)])
        assert cursor.fetchone() == (0,)
        store = SessionStore()
        store.create()
        key = str(store.session_key)
        cursor.execute("SELECT session_key FROM django_session WHERE session_key IN (%s, %s)", [key, stored_key(key)])
        assert cursor.fetchall() == [(stored_key(key),)]
