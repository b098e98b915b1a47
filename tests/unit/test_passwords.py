"""Django's full set of password validators, and the demo's accounts within them (no database)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from accounts.models import User
from shuping.demo import DEMO_ACCOUNTS, DEMO_PASSWORD, OPERATOR_USERNAME


def test_all_four_of_djangos_validators_are_on() -> None:
    names = {v["NAME"].rsplit(".", 1)[1] for v in settings.AUTH_PASSWORD_VALIDATORS}
    assert names == {
        "UserAttributeSimilarityValidator", "MinimumLengthValidator",
        "CommonPasswordValidator", "NumericPasswordValidator",
    }


@pytest.mark.parametrize(("username", "display_name"), [(OPERATOR_USERNAME, "平台运营")] + [(a[0], a[1]) for a in DEMO_ACCOUNTS])
def test_the_demo_password_passes_for_every_demo_account(username: str, display_name: str) -> None:
    validate_password(DEMO_PASSWORD, User(username=username, display_name=display_name))


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short-1", "too short"),
        ("481516234200", "numeric only"),
        ("password1234", "a common password"),
        ("wangxiaodong-host", "too like the account's name"),
    ],
)
def test_weak_passwords_are_refused(password: str, why: str) -> None:
    user = User(username="wangxiaodong-host", first_name="Xiaodong", display_name="王晓东")
    with pytest.raises(ValidationError):
        validate_password(password, user)
