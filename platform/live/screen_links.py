"""Hall-screen links: minted by hosts, valid until the end of the meeting's day, revocable per meeting.

A link's token (common.tokens, kind "screen") carries its end and the
meeting's screen-link generation when it was minted: the stream version of
the meeting's last ScreenLinksRevoked (0 if none). The page and the
websocket refuse a token of an older generation (token_revoked); screens
already connected with one are closed when the revocation commits
(live.bus sends `meeting.screens_revoked`, live.relay closes them).
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from common import tokens
from common.china_time import CHINA_TIME
from common.county import current_schema
from meetings.streams import meeting


def end_of_day(starts_at: datetime | None, *, now: datetime) -> datetime:
    """The end of the meeting's day in county time (of today, if that day has passed or is unknown)."""
    today = now.astimezone(CHINA_TIME).date()
    day = starts_at.astimezone(CHINA_TIME).date() if starts_at is not None else today
    return datetime.combine(max(day, today) + timedelta(days=1), time(0), tzinfo=CHINA_TIME)


def mint(meeting_id: str, *, now: datetime) -> str:
    """A screen token for the meeting as it is now (UnknownMeeting if there is none)."""
    state = meeting(meeting_id)
    ends = end_of_day(state.announced_starts_at, now=now)
    return tokens.issue(
        county=current_schema(), meeting_id=meeting_id, kind="screen",
        expires_at=int(ends.timestamp()), generation=state.screen_links_from,
    )


def check(token: str | None, *, county: str, meeting_id: str) -> int:
    """Raise TokenRefused unless `token` opens the meeting's hall screen now; the token's generation.

    Call in the county's schema (it reads the meeting's current generation).
    """
    claims: dict[str, Any] = tokens.check(token, county=county, meeting_id=meeting_id, kind="screen")
    generation = claims.get("g", 0)  # tokens the platform mints carry it; a bare one counts as minted first
    if not isinstance(generation, int) or generation < meeting(meeting_id).screen_links_from:
        raise tokens.TokenRefused(
            "token_revoked", "此大屏链接已被主持人作废，请向主持人索取新链接", "this hall-screen link was revoked by the host"
        )
    return generation
