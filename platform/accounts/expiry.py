"""Logins that have ended leave no rows behind: expired sessions and API tokens are deleted.

Django keeps a session's row after its end until someone runs
`clearsessions`, and an expired API token's row stays until its account logs
in again (accounts.api_tokens deletes the account's expired tokens then).
Nothing honours either once it has ended, but a county that logs in every
day for a year would keep every one: the table grows, and a backup carries
rows that serve nobody. The job queue runs `clear_expired` in the public
schema and in every county's once a day (followup.jobs, `clear_expired_logins`).

A session's end is its row's `expire_date` (Django's: the last save plus
SESSION_COOKIE_AGE); the middleware of accounts.sessions logs a session out
earlier (idle, or past its absolute limit), and its row goes at the latest at
that end. A token ends API_TOKEN_LIFETIME_SECONDS after it was issued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.sessions.models import Session

from accounts.api_tokens import token_lifetime
from accounts.models import ApiToken


@dataclass(frozen=True)
class Cleared:
    """How many rows one schema's clearing deleted."""

    sessions: int
    api_tokens: int


def clear_expired(now: datetime) -> Cleared:
    """Delete the current schema's sessions and API tokens that ended at or before `now`."""
    sessions, _ = Session.objects.filter(expire_date__lte=now).delete()
    api_tokens, _ = ApiToken.objects.filter(created__lte=now - token_lifetime()).delete()
    return Cleared(sessions=sessions, api_tokens=api_tokens)
