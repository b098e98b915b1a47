"""User accounts and their roles.

The same table exists in the public schema (platform operators) and in every
county schema (that county's staff), so a county account is unknown on every
other county's host and on the operator's site: isolation by construction.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from accounts.roles import Role
from common.county import current_schema


class User(AbstractUser):
    # The effective role; blank until one is granted. In a county it is written by the staff
    # projection (staff.projection) from the county-staff stream, never by a form.
    role = models.CharField("角色 / role", max_length=20, choices=Role.choices, blank=True)
    display_name = models.CharField("姓名 / name", max_length=50, blank=True)

    class Meta:
        verbose_name = "账号 / account"
        verbose_name_plural = "账号 / accounts"

    def __str__(self) -> str:
        return self.display_name or self.username

    def clean(self) -> None:
        super().clean()
        in_public = current_schema() == "public"
        if in_public and self.role not in (Role.OPERATOR, Role.REGION_VIEWER):
            raise ValidationError({"role": "平台站点只有运营与地市/省账号 / only operator and region accounts on the platform site"})
        if not in_public and self.role in (Role.OPERATOR, Role.REGION_VIEWER):
            raise ValidationError({"role": "县区站点不能有运营或地市/省账号 / no operator or region accounts in a county"})


class ApiToken(models.Model):
    """One API token of a county account: only the SHA-256 of its key is kept (accounts.api_tokens).

    Revoking a token deletes its row; its key is nowhere to be found again.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens", verbose_name="账号 / account")
    # Lowercase hex SHA-256 of the whole key: what a request's key is looked up by.
    digest = models.CharField("摘要 / digest", max_length=64, unique=True)
    # The key's first characters, shown so a person can tell their tokens apart; not enough to use one.
    prefix = models.CharField("前缀 / prefix", max_length=16)
    created = models.DateTimeField("签发时间 / issued", default=timezone.now)

    class Meta:
        verbose_name = "接口令牌 / API token"
        verbose_name_plural = "接口令牌 / API tokens"

    def __str__(self) -> str:
        return f"{self.prefix}…"
