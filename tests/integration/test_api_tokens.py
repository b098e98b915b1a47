"""API tokens are stored as digests: the key is shown once and is found nowhere in the database.

Real PostgreSQL, each county its own schema; requests through Django's test
client with the county's host name. Expiry, password change and
deactivation are in test_logins.py; here what storing digests changed: no
key at rest, several tokens per account, logout of one token, and one
answer for every key that does not open the API.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.api_tokens import issue_token, token_digest
from accounts.models import ApiToken, User
from tests.conftest import host_of

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Lanterns-over-the-river-7"
# What the API answered before tokens were digests, for a key it does not know (common.api).
REFUSED = {"error": {"code": "authentication_failed", "message": "登录信息无效", "message_en": "invalid credentials"}}


def _address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


def _user(county: Any) -> User:
    with schema_context(county.schema_name):
        return User.objects.create_user(username=f"t_{uuid.uuid4().hex[:8]}", password=PASSWORD, role="host")


def _login(county: Any, user: User) -> str:
    response = Client().post(
        "/api/token/", {"username": user.username, "password": PASSWORD}, content_type="application/json",
        HTTP_HOST=host_of(county), REMOTE_ADDR=_address(),
    )
    assert response.status_code == 200, response.content
    return str(response.json()["token"])


def _get(county: Any, key: str) -> Any:
    return Client().get("/api/meetings/", HTTP_HOST=host_of(county), HTTP_AUTHORIZATION=f"Token {key}")


def _logout(county: Any, key: str) -> Any:
    return Client().post("/api/logout/", HTTP_HOST=host_of(county), HTTP_AUTHORIZATION=f"Token {key}")


def _assert_refused(response: Any) -> None:
    assert response.status_code == 401 and response.json() == REFUSED
    assert response["WWW-Authenticate"].startswith("Token")


def _cells_holding(schema: str, needle: str) -> list[str]:
    """`table.column` of every cell of `schema` whose text (or bytes) contains `needle`."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c"
            " JOIN information_schema.tables t USING (table_schema, table_name)"
            " WHERE c.table_schema = %s AND t.table_type = 'BASE TABLE'",
            [schema],
        )
        columns = cursor.fetchall()
        assert len(columns) > 50, columns  # the whole county schema, not an empty search
        found = []
        for table, column, data_type in columns:
            where = "position(%s::bytea in {c}) > 0" if data_type == "bytea" else "strpos({c}::text, %s) > 0"
            query = f'SELECT 1 FROM "{schema}"."{table}" WHERE ' + where.format(c=f'"{column}"') + " LIMIT 1"
            cursor.execute(query, [needle.encode() if data_type == "bytea" else needle])
            if cursor.fetchone():
                found.append(f"{table}.{column}")
    return found


def test_the_database_holds_no_cell_with_the_key(county_a: Any) -> None:
    user = _user(county_a)
    key = _login(county_a, user)
    assert _get(county_a, key).status_code == 200
    for schema in (county_a.schema_name, "public"):
        assert _cells_holding(schema, key) == [], schema
    # The search does find what is stored: the key's digest, in the token table.
    assert _cells_holding(county_a.schema_name, token_digest(key)) == ["accounts_apitoken.digest"]
    with schema_context(county_a.schema_name):
        row = ApiToken.objects.get(user=user)
    assert key.startswith(row.prefix) and len(row.prefix) <= 10 < len(key)


def test_a_second_login_issues_another_token_and_the_first_keeps_working(county_a: Any) -> None:
    user = _user(county_a)
    first, second = _login(county_a, user), _login(county_a, user)
    assert first != second
    assert _get(county_a, first).status_code == 200 and _get(county_a, second).status_code == 200


def test_logout_revokes_the_token_it_carries_and_no_other(county_a: Any) -> None:
    user = _user(county_a)
    first, second = _login(county_a, user), _login(county_a, user)
    response = _logout(county_a, first)
    assert response.status_code == 200 and response.json() == {"revoked": 1}
    _assert_refused(_get(county_a, first))
    assert _get(county_a, second).status_code == 200


def test_logout_with_a_session_revokes_every_token_of_the_account(county_a: Any) -> None:
    user = _user(county_a)
    keys = [_login(county_a, user), _login(county_a, user)]
    browser = Client()
    with schema_context(county_a.schema_name):
        browser.force_login(user)
    response = browser.post("/api/logout/", HTTP_HOST=host_of(county_a))
    assert response.status_code == 200 and response.json() == {"revoked": 2}
    for key in keys:
        _assert_refused(_get(county_a, key))


def test_a_password_change_revokes_every_token_of_the_account(county_a: Any) -> None:
    user = _user(county_a)
    keys = [_login(county_a, user), _login(county_a, user)]
    with schema_context(county_a.schema_name):
        user.set_password("Another-long-passphrase-9")
        user.save()
    for key in keys:
        _assert_refused(_get(county_a, key))


def test_an_account_holds_at_most_the_cap_and_the_oldest_goes_first(county_a: Any) -> None:
    user = _user(county_a)
    cap = settings.API_TOKENS_PER_ACCOUNT
    with schema_context(county_a.schema_name):
        keys = [issue_token(user).key for _ in range(cap + 1)]
        assert ApiToken.objects.filter(user=user).count() == cap
    _assert_refused(_get(county_a, keys[0]))
    assert [_get(county_a, key).status_code for key in keys[1:]] == [200] * cap


def test_expired_tokens_are_removed_when_the_account_logs_in_again(county_a: Any) -> None:
    user = _user(county_a)
    old = _login(county_a, user)
    lifetime = timedelta(seconds=settings.API_TOKEN_LIFETIME_SECONDS)
    with schema_context(county_a.schema_name):
        ApiToken.objects.filter(user=user).update(created=timezone.now() - lifetime - timedelta(seconds=1))
    _assert_refused(_get(county_a, old))
    fresh = _login(county_a, user)
    with schema_context(county_a.schema_name):
        assert list(ApiToken.objects.filter(user=user).values_list("digest", flat=True)) == [token_digest(fresh)]


def test_every_key_that_does_not_open_the_api_gets_the_same_answer(county_a: Any, county_b: Any) -> None:
    user = _user(county_a)
    expired, revoked, live = _login(county_a, user), _login(county_a, user), _login(county_a, user)
    with schema_context(county_a.schema_name):
        ApiToken.objects.filter(digest=token_digest(expired)).update(created=timezone.now() - timedelta(days=30))
    assert _logout(county_a, revoked).status_code == 200
    assert _get(county_a, live).status_code == 200
    wrong = live[:-1] + ("A" if live[-1] != "A" else "B")
    for key in (expired, revoked, wrong, "0" * 40, "shp_", "x" * 5000):
        _assert_refused(_get(county_a, key))
    # A live token of county A, on county B's host.
    _assert_refused(_get(county_b, live))
    assert _get(county_a, live).status_code == 200
