"""Logins: API tokens that expire and are revoked, guessing locked out per account and address, per county.

Real PostgreSQL, each county its own schema; requests through Django's test
client with the county's host name (REMOTE_ADDR set per test, so the
lock-outs by address of one test never reach another).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context

from accounts.api_tokens import token_digest
from accounts.models import ApiToken, User
from tests.conftest import host_of

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "Lanterns-over-the-river-7"


def _address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"


def _user(county: Any, *, username: str | None = None, role: str = "host") -> User:
    with schema_context(county.schema_name):
        return User.objects.create_user(
            username=username or f"u_{uuid.uuid4().hex[:8]}", password=PASSWORD, role=role
        )


def _login(county: Any, username: str, password: str, *, address: str) -> Any:
    return Client().post(
        "/api/token/", {"username": username, "password": password}, content_type="application/json",
        HTTP_HOST=host_of(county), REMOTE_ADDR=address,
    )


def _token(county: Any, user: User) -> str:
    response = _login(county, user.username, PASSWORD, address=_address())
    assert response.status_code == 200, response.content
    return str(response.json()["token"])


def _meetings(county: Any, token: str) -> int:
    response = Client().get("/api/meetings/", HTTP_HOST=host_of(county), HTTP_AUTHORIZATION=f"Token {token}")
    return int(response.status_code)


def _error(response: Any) -> dict[str, str]:
    return dict(response.json()["error"])


# -- tokens ------------------------------------------------------------------------------------


def test_a_token_works_until_logout_and_not_after(county_a: Any) -> None:
    user = _user(county_a)
    token = _token(county_a, user)
    assert _meetings(county_a, token) == 200
    response = Client().post("/api/logout/", HTTP_HOST=host_of(county_a), HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200 and response.json() == {"revoked": 1}
    assert _meetings(county_a, token) == 401
    fresh = _token(county_a, user)
    assert fresh != token and _meetings(county_a, fresh) == 200


def test_a_password_change_revokes_the_token(county_a: Any) -> None:
    user = _user(county_a)
    token = _token(county_a, user)
    with schema_context(county_a.schema_name):
        user.set_password("Another-long-passphrase-9")
        user.save()
    assert _meetings(county_a, token) == 401
    assert _login(county_a, user.username, PASSWORD, address=_address()).status_code == 400
    response = _login(county_a, user.username, "Another-long-passphrase-9", address=_address())
    assert response.status_code == 200 and _meetings(county_a, response.json()["token"]) == 200


def test_deactivating_an_account_revokes_its_token(county_a: Any) -> None:
    user = _user(county_a)
    token = _token(county_a, user)
    with schema_context(county_a.schema_name):
        user.is_active = False
        user.save()
        assert not ApiToken.objects.filter(user=user).exists()
    assert _meetings(county_a, token) == 401


def test_saving_an_account_otherwise_keeps_its_token(county_a: Any) -> None:
    user = _user(county_a)
    token = _token(county_a, user)
    with schema_context(county_a.schema_name):
        user.display_name = "王主持"
        user.save()
    assert _meetings(county_a, token) == 200


def test_an_operators_password_changes_on_the_platform_site() -> None:
    """Operators live in the public schema, where there are no API tokens to revoke."""
    with schema_context("public"):
        operator = User.objects.create_user(username=f"op_{uuid.uuid4().hex[:6]}", password=PASSWORD, role="operator")
        operator.set_password("Another-long-passphrase-9")
        operator.save()
        operator.refresh_from_db()
        assert operator.check_password("Another-long-passphrase-9")


def test_a_token_expires_and_a_new_login_issues_a_fresh_one(county_a: Any) -> None:
    user = _user(county_a)
    token = _token(county_a, user)
    lifetime = timedelta(seconds=settings.API_TOKEN_LIFETIME_SECONDS)
    with schema_context(county_a.schema_name):
        ApiToken.objects.filter(digest=token_digest(token)).update(created=timezone.now() - lifetime + timedelta(minutes=1))
    assert _meetings(county_a, token) == 200  # a minute left
    with schema_context(county_a.schema_name):
        ApiToken.objects.filter(digest=token_digest(token)).update(created=timezone.now() - lifetime - timedelta(seconds=1))
    response = Client().get("/api/meetings/", HTTP_HOST=host_of(county_a), HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 401 and _error(response)["code"] == "authentication_failed"
    login = _login(county_a, user.username, PASSWORD, address=_address())
    fresh = login.json()["token"]
    assert fresh != token and _meetings(county_a, fresh) == 200
    assert login.json()["expires_at"]


def test_a_wrong_password_is_refused_in_the_error_format(county_a: Any) -> None:
    user = _user(county_a)
    response = _login(county_a, user.username, "not-the-password", address=_address())
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "login_failed" and error["message"] == "用户名或密码不正确"
    assert "token" not in response.json()


# -- guessing ----------------------------------------------------------------------------------


def test_guessing_one_account_locks_it_with_a_chinese_429(county_a: Any) -> None:
    user = _user(county_a)
    limit = settings.AXES_FAILURE_LIMIT
    answers = [_login(county_a, user.username, f"guess-{n}", address=_address()).status_code for n in range(limit)]
    assert answers == [400] * (limit - 1) + [429]
    # Locked: the right password from yet another address is refused too, and says why in Chinese.
    response = _login(county_a, user.username, PASSWORD, address=_address())
    assert response.status_code == 429
    error = _error(response)
    assert error["code"] == "login_locked"
    assert "登录失败次数过多" in error["message"] and "locked" in error["message_en"]
    assert int(response["Retry-After"]) > 0


def test_guessing_from_one_address_locks_that_address(county_a: Any) -> None:
    address = _address()
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(county_a, f"nobody_{n}_{uuid.uuid4().hex[:4]}", "guess", address=address)
    honest = _user(county_a)
    assert _login(county_a, honest.username, PASSWORD, address=address).status_code == 429
    assert _login(county_a, honest.username, PASSWORD, address=_address()).status_code == 200


def test_a_lock_out_in_one_county_leaves_another_alone(county_a: Any, county_b: Any) -> None:
    name = f"same_{uuid.uuid4().hex[:6]}"
    _user(county_a, username=name)
    _user(county_b, username=name)
    address = _address()
    for n in range(settings.AXES_FAILURE_LIMIT):
        _login(county_a, name, f"guess-{n}", address=address)
    assert _login(county_a, name, PASSWORD, address=address).status_code == 429
    # The same account name, from the same address, on another county's host.
    assert _login(county_b, name, PASSWORD, address=address).status_code == 200


def test_the_hall_login_page_says_locked_in_chinese(county_a: Any) -> None:
    user = _user(county_a)
    address = _address()
    client = Client()
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        page = client.post("/login/", {"username": user.username, "password": f"guess-{n}"},
                           HTTP_HOST=host_of(county_a), REMOTE_ADDR=address)
        assert page.status_code == 200 and "用户名或密码不正确" in page.content.decode()
    page = client.post("/login/", {"username": user.username, "password": PASSWORD},
                       HTTP_HOST=host_of(county_a), REMOTE_ADDR=_address())
    assert page.status_code == 302  # below the limit the right password still works (and clears the count)
    for n in range(settings.AXES_FAILURE_LIMIT):
        page = Client().post("/login/", {"username": user.username, "password": f"again-{n}"},
                             HTTP_HOST=host_of(county_a), REMOTE_ADDR=address)
    assert page.status_code == 429
    text = page.content.decode()
    assert "登录失败次数过多" in text and "login_locked" in text
