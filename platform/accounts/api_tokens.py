"""API tokens that expire and can be revoked.

A token is DRF's `authtoken` row (one per account, in the account's county
schema). It is honoured for settings.API_TOKEN_LIFETIME_SECONDS after it was
issued, and revoked (deleted) on logout (`POST /api/logout/`), when the
account's password changes and when the account is deactivated
(`revoke_on_account_change`, a pre_save signal wired in accounts.apps).
Sessions need no such help: Django ends them on a password change (the
session carries a hash of the password) and refuses inactive accounts.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from common.county import current_schema


def token_lifetime() -> timedelta:
    return timedelta(seconds=int(settings.API_TOKEN_LIFETIME_SECONDS))


def is_expired(token: Token) -> bool:
    return token.created + token_lifetime() <= timezone.now()


def token_for(user: Any) -> Token:
    """The account's token, issued anew when it has none or its token has expired."""
    token, created = Token.objects.get_or_create(user=user)
    if not created and is_expired(token):
        token.delete()
        token = Token.objects.create(user=user)
    return token


def revoke_tokens(user: Any) -> int:
    """Delete the account's API token; the number deleted (0 or 1)."""
    deleted, _ = Token.objects.filter(user_id=user.pk).delete()
    return deleted


class ExpiringTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, refusing tokens older than API_TOKEN_LIFETIME_SECONDS."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        user, token = super().authenticate_credentials(key)
        if is_expired(token):
            raise exceptions.AuthenticationFailed("token expired")
        return user, token


def revoke_on_account_change(sender: Any, instance: Any, update_fields: Any = None, **kwargs: Any) -> None:
    """pre_save of User: a new password or a deactivation revokes the account's API token."""
    if instance.pk is None or current_schema() == "public":
        return  # operators (public schema) have no API tokens: the API is a county's
    if update_fields is not None and not {"password", "is_active"} & set(update_fields):
        return  # e.g. last_login, saved at every login
    before = type(instance).objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return
    if before["password"] != instance.password or (before["is_active"] and not instance.is_active):
        revoke_tokens(instance)
