"""Logins: the refusals of password guessing, as the API and the pages answer them.

django-axes counts failed logins per account and per client address, in the
county's own schema (its tables are in TENANT_APPS, so a lock-out in one
county is unknown to every other). Reaching settings.AXES_FAILURE_LIMIT locks
the account or the address for settings.AXES_COOLOFF_TIME; while locked,
axes' backend refuses the attempt before any password is hashed, and
AxesMiddleware answers it with `lockout_response` (AXES_LOCKOUT_CALLABLE):
429 `login_locked` in the documented error format under /api/, a Chinese
page elsewhere.

`login_busy` is the other 429: the server's lane for logins (shuping.http_bridge)
was full; nothing was counted and nothing was hashed.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from common.http_errors import api_error, is_api
from common.refusal import Refusal

# What a login takes at most, on every door (pages, admin sites, /api/token/): a longer
# username is no account's (the column holds 150), and a password of megabytes would be
# hashed all the same. Django's login form sets the username's length on its widget only.
USERNAME_MAX = 150
PASSWORD_MAX = 512

LOCKED_CODE = "login_locked"
BUSY_CODE = "login_busy"


def cooloff_minutes() -> int:
    cooloff = settings.AXES_COOLOFF_TIME
    if isinstance(cooloff, timedelta):
        return max(1, round(cooloff.total_seconds() / 60))
    return max(1, round(float(cooloff) * 60))


def locked() -> Refusal:
    """Too many failed logins for this account or from this address."""
    minutes = cooloff_minutes()
    return Refusal(
        f"登录失败次数过多，账号或地址已被暂时锁定，请 {minutes} 分钟后再试；如需立即解锁，请联系县委组织部管理员",
        f"too many failed logins: this account or address is locked for {minutes} minutes; "
        "a county administrator can unlock it",
        code=LOCKED_CODE,
        http_status=429,
    )


def busy_message() -> tuple[str, str]:
    return ("登录请求过多，服务器正忙，请稍后再试", "too many logins at once: try again in a moment")


def lockout_response(request: HttpRequest, original_response: Any = None, credentials: Any = None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: a locked-out login, answered as 429 (JSON under /api/, a Chinese page elsewhere)."""
    refusal = locked()
    if is_api(request):
        response = api_error(refusal.http_status, refusal.code, refusal.message_zh, refusal.message_en)
    else:
        response = render(
            request, "error.html",
            {"code": refusal.code, "message_zh": refusal.message_zh, "message_en": refusal.message_en},
            status=refusal.http_status,
        )
    response["Retry-After"] = str(cooloff_minutes() * 60)
    return response


class _Bounded:
    """Login forms that refuse an overlong username or password before anything is looked up or hashed.

    Without it a 20,000-character username went to `authenticate`, and django-axes'
    record of the failure (a 255-character column) answered 500.
    """

    fields: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[call-arg]
        for name, most, zh in (("username", USERNAME_MAX, "用户名"), ("password", PASSWORD_MAX, "密码")):
            self.fields[name].validators.append(MaxLengthValidator(
                most, message=f"{zh}最多 {most} 个字符 / the {name} takes at most {most} characters",
            ))


class LoginForm(_Bounded, AuthenticationForm):
    """The county's and the region's login pages."""


class AdminLoginForm(_Bounded, AdminAuthenticationForm):
    """The admin sites' login."""
