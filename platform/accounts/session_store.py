"""Sessions in the database under a digest of their key (settings.SESSION_ENGINE).

Django's database sessions keep the cookie's value, a bearer credential, as
the row's primary key: whoever reads the table or a backup could present it
and be the official. Here the row's key is the first 40 hex characters (160
bits) of the SHA-256 of the cookie's value, which fits Django's own
`session_key` column, so the table, its migrations and `clearsessions` stay
Django's. Plain SHA-256 for the reason API tokens use it
(accounts.api_tokens): a session key is 32 random characters of 36 (165
bits), nothing to guess from its digest.

Only the translation of keys is ours: Django's store does the rest (create,
save, cycle on login, expiry). Sessions stored before this store held the
raw key and are simply not found: their users log in again.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.contrib.sessions.backends import db
from django.core.exceptions import SuspiciousOperation
from django.utils import timezone

STORED_LENGTH = 40  # django_session.session_key is varchar(40)


def stored_key(session_key: str) -> str:
    """The row's key for a cookie's session key."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:STORED_LENGTH]


class SessionStore(db.SessionStore):
    def _refused(self, error: Exception) -> None:
        if isinstance(error, SuspiciousOperation):
            logging.getLogger(f"django.security.{type(error).__name__}").warning(str(error))
        self._session_key = None

    def _get_session_from_db(self) -> Any:
        if self.session_key is None:
            return None
        try:
            return self.model.objects.get(session_key=stored_key(self.session_key), expire_date__gt=timezone.now())
        except (self.model.DoesNotExist, SuspiciousOperation) as error:
            self._refused(error)
            return None

    async def _aget_session_from_db(self) -> Any:
        if self.session_key is None:
            return None
        try:
            return await self.model.objects.aget(
                session_key=stored_key(self.session_key), expire_date__gt=timezone.now()
            )
        except (self.model.DoesNotExist, SuspiciousOperation) as error:
            self._refused(error)
            return None

    def exists(self, session_key: str) -> bool:
        return bool(super().exists(stored_key(session_key)))

    async def aexists(self, session_key: str) -> bool:
        return bool(await super().aexists(stored_key(session_key)))

    def create_model_instance(self, data: dict[str, Any]) -> Any:
        row = super().create_model_instance(data)
        row.session_key = stored_key(row.session_key)
        return row

    async def acreate_model_instance(self, data: dict[str, Any]) -> Any:
        row = await super().acreate_model_instance(data)
        row.session_key = stored_key(row.session_key)
        return row

    def delete(self, session_key: str | None = None) -> None:
        key = session_key if session_key is not None else self.session_key
        if key is not None:
            super().delete(stored_key(key))

    async def adelete(self, session_key: str | None = None) -> None:
        key = session_key if session_key is not None else self.session_key
        if key is not None:
            await super().adelete(stored_key(key))
