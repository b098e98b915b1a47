"""Signed, scoped, expiring tokens for websocket subscriptions.

A hall screen has no login: its link carries a token that names the county,
the meeting and the kind of page, signed with the server's key. The token is
read-only by construction: websockets here only ever push (commands go
through the API, which checks a login or a ballot code). Pages that need a
login (console, teller, dashboard) embed a short-lived token issued when the
page is rendered for a user with the right role; the phone page gets one
when its code is accepted.

The token is checked on every connection: signature, age, kind, county (the
host's schema) and meeting. A token of county A is refused on county B's
host even for a meeting with the same id.

A hall-screen token also carries its own end (`expires_at`: the end of the
meeting's day, county time) and the meeting's screen-link generation when it
was minted; the live layer (live.screen_links) compares that with the
meeting's current generation, so a host can revoke every link of a meeting.
"""

from __future__ import annotations

import time
from typing import Any

from django.core import signing

from common.refusal import Refusal

SALT = "shuping.live.v1"

# How long a token opens a subscription after it was issued.
TTL_SECONDS = {
    "screen": 3 * 24 * 3600,  # a token without its own end; the platform mints screen links with one
    "console": 12 * 3600,
    "teller": 12 * 3600,
    "phone": 6 * 3600,
    "dashboard": 12 * 3600,
}
KINDS = tuple(TTL_SECONDS)
COUNTY_WIDE = "*"


class TokenRefused(Refusal):
    http_status = 403

    def __init__(self, code: str, message_zh: str, message_en: str) -> None:
        super().__init__(message_zh, message_en, code=code)


def issue(
    *, county: str, meeting_id: str, kind: str, expires_at: int | None = None, generation: int | None = None
) -> str:
    """A token for one page kind of one meeting (`COUNTY_WIDE` for the dashboard).

    `expires_at` (Unix seconds) ends it before its kind's TTL; `generation` is
    carried for the caller to compare (check returns the claims).
    """
    if kind not in TTL_SECONDS:
        raise ValueError(f"unknown page kind {kind!r}")
    claims: dict[str, object] = {"c": county, "m": meeting_id, "k": kind}
    if expires_at is not None:
        claims["x"] = int(expires_at)
    if generation is not None:
        claims["g"] = int(generation)
    return signing.dumps(claims, salt=SALT, compress=False)


def check(token: str | None, *, county: str, meeting_id: str, kind: str) -> dict[str, Any]:
    """Raise TokenRefused unless `token` opens `kind` of `meeting_id` in `county` now; its claims."""
    if not token:
        raise TokenRefused("token_missing", "缺少访问令牌，请从主持人处获取大屏链接", "missing token")
    if len(token) > 1000:
        raise TokenRefused("token_invalid", "访问令牌无效", "invalid token")
    try:
        try:
            claims = signing.loads(token, salt=SALT, max_age=TTL_SECONDS.get(kind, 0))
        except signing.SignatureExpired:
            # Older than its kind's TTL: only a token that carries its own end lives on (checked below).
            claims = signing.loads(token, salt=SALT)
            if not isinstance(claims, dict) or "x" not in claims:
                raise
    except signing.SignatureExpired:
        raise TokenRefused("token_expired", "访问令牌已过期，请重新打开链接", "the token has expired") from None
    except signing.BadSignature:
        raise TokenRefused("token_invalid", "访问令牌无效", "invalid token") from None
    if not isinstance(claims, dict) or claims.get("k") != kind:
        raise TokenRefused("token_wrong_kind", "访问令牌不适用于此页面", "the token is for another kind of page")
    if claims.get("c") != county:
        raise TokenRefused("token_wrong_county", "访问令牌不属于本县区", "the token belongs to another county")
    if claims.get("m") != meeting_id:
        raise TokenRefused("token_wrong_meeting", "访问令牌不属于此会议", "the token belongs to another meeting")
    expires_at = claims.get("x")
    if expires_at is not None and (not isinstance(expires_at, int) or time.time() >= expires_at):
        raise TokenRefused("token_expired", "访问令牌已过期，请重新打开链接", "the token has expired")
    return claims
