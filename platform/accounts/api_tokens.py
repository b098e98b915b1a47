"""API tokens that expire and can be revoked, kept as digests.

A token's key is shown once, in the answer of `/api/token/` that issues it.
The county schema keeps an `ApiToken` row (accounts.models) with the key's
SHA-256, its first characters for display, the account and the time it was
issued; never the key. Whoever reads the database or a backup learns no key
that works.

Why a plain SHA-256 and no HMAC with a server key: a key carries 256 random
bits, so its digest can be neither inverted nor guessed; a server key adds
strength only to secrets that can be guessed (passwords, ballot codes), and
would make rotating SECRET_KEY sign every program out.

A request's key is looked up by its digest (a unique index): the database
compares digests, which a caller cannot steer byte by byte without the key,
and the digest found is compared once more in constant time.

Several tokens per account: each login issues a new one and the account's
other tokens keep working, so a user signed in from two tools does not sign
the other out. At most settings.API_TOKENS_PER_ACCOUNT live at once: a login
beyond that revokes the account's oldest token (and expired ones go first).

A token is honoured for settings.API_TOKEN_LIFETIME_SECONDS after it was
issued, and revoked (its row deleted) on logout (`POST /api/logout/`: the
token the request carried, or every token of the account when the caller
came with a session), when the account's password changes and when the
account is deactivated (both every token of the account:
`revoke_on_account_change`, a pre_save signal wired in accounts.apps).
Sessions need no such help: Django ends them on a password change (the
session carries a hash of the password) and refuses inactive accounts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from accounts.models import ApiToken
from common.county import current_schema

# Keys start with this, so a leaked one is recognisable (secret scanners, logs).
KEY_PREFIX = "shp_"
KEY_BYTES = 32
PREFIX_LENGTH = len(KEY_PREFIX) + 6  # 36 of the key's 256 random bits are shown: 220 stay secret
# Nothing longer is a key of ours: refused before it is hashed.
KEY_MAX_LENGTH = 200


@dataclass(frozen=True)
class IssuedToken:
    """A token just issued: the only moment its key exists outside the caller's hands."""

    key: str
    created: datetime

    @property
    def expires_at(self) -> datetime:
        return self.created + token_lifetime()


def token_lifetime() -> timedelta:
    return timedelta(seconds=int(settings.API_TOKEN_LIFETIME_SECONDS))


def tokens_per_account() -> int:
    return max(1, int(getattr(settings, "API_TOKENS_PER_ACCOUNT", 5)))


def token_digest(key: str) -> str:
    """Lowercase hex SHA-256 of the key: the stored form."""
    return hashlib.sha256(key.encode()).hexdigest()


def is_expired(token: ApiToken) -> bool:
    return token.created + token_lifetime() <= timezone.now()


def issue_token(user: Any) -> IssuedToken:
    """A new token for the account; its other tokens stay, up to tokens_per_account() (oldest go first)."""
    key = KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)
    now = timezone.now()
    with transaction.atomic():
        # Two logins of one account at once: the account's row lock orders them, so the cap holds.
        type(user).objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True).first()
        mine = ApiToken.objects.filter(user_id=user.pk)
        mine.filter(created__lte=now - token_lifetime()).delete()
        keep = tokens_per_account() - 1
        older = list(mine.order_by("-created", "-pk").values_list("pk", flat=True)[keep:])
        if older:
            ApiToken.objects.filter(pk__in=older).delete()
        ApiToken.objects.create(user_id=user.pk, digest=token_digest(key), prefix=key[:PREFIX_LENGTH], created=now)
    return IssuedToken(key=key, created=now)


def revoke_tokens(user: Any) -> int:
    """Delete every API token of the account; the number deleted."""
    deleted, _ = ApiToken.objects.filter(user_id=user.pk).delete()
    return deleted


def revoke_token(token: ApiToken) -> int:
    """Delete one API token; 1, or 0 if it was gone already."""
    deleted, _ = ApiToken.objects.filter(pk=token.pk).delete()
    return deleted


def find_token(key: str) -> ApiToken | None:
    """The live-or-expired token row whose key is `key` (with its account), or None."""
    if not key or len(key) > KEY_MAX_LENGTH:
        return None
    digest = token_digest(key)
    token = ApiToken.objects.select_related("user").filter(digest=digest).first()
    if token is None or not hmac.compare_digest(token.digest, digest):
        return None
    return token


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`: a key found by its digest, refused once API_TOKEN_LIFETIME_SECONDS passed.

    DRF's TokenAuthentication parses the header (and refuses a malformed one);
    only the look-up is ours. Every refusal is AuthenticationFailed, which the
    API answers 401 `authentication_failed` (common.api): an unknown, revoked,
    expired key or one of another county all get the same answer.
    """

    def authenticate_credentials(self, key: str) -> tuple[Any, ApiToken]:
        token = find_token(key)
        if token is None:
            raise exceptions.AuthenticationFailed("invalid token")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("user inactive or deleted")
        if is_expired(token):
            raise exceptions.AuthenticationFailed("token expired")
        return token.user, token


def revoke_on_account_change(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    """pre_save of User: a new password or a deactivation revokes every API token of the account."""
    if instance.pk is None or current_schema() == "public":
        return  # operators (public schema) have no API tokens: the API is a county's
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return  # e.g. last_login, saved at every login
    before = type(instance).objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    if before["password"] != instance.password or (before["is_active"] and not instance.is_active):
        revoke_tokens(instance)
