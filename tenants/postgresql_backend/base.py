"""django-tenants' PostgreSQL backend, with the connection health check only after a quiet spell.

Django's CONN_HEALTH_CHECKS sends `SELECT 1` before the first query of every
request that reuses a persistent connection: at a ballot burst that doubled
the round trips of a cast (one for the check, one for the ballot), and each
round trip is also a wait to get the GIL back in a busy worker. A connection
that answered a query moments ago is as good as a check: here the check is
skipped when the connection was last used less than
settings.DB_HEALTH_CHECK_AFTER_IDLE seconds ago (1 s by default), and made
as before otherwise.

What that gives up: if the server restarts or the network drops within that
second, the next request on each such connection fails (a 500) instead of
reconnecting first; Django then closes the broken connection at the end of
that request and the next one reconnects. Phones resend a ballot that got no
answer (the same ballot again is idempotent), and a PostgreSQL restart
refuses requests for longer than that anyway.
"""

from __future__ import annotations

import time

from django.conf import settings
from django_tenants.postgresql_backend import base as tenants_base

DEFAULT_AFTER_IDLE = 1.0


class DatabaseWrapper(tenants_base.DatabaseWrapper):
    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._last_used = 0.0

    def close_if_health_check_failed(self) -> None:
        after_idle = float(getattr(settings, "DB_HEALTH_CHECK_AFTER_IDLE", DEFAULT_AFTER_IDLE))
        if (
            self.connection is not None
            and not self.health_check_done  # type: ignore[has-type]
            and time.monotonic() - self._last_used < after_idle
        ):
            self.health_check_done = True  # used a moment ago: it is alive
            return
        super().close_if_health_check_failed()

    def close_if_unusable_or_obsolete(self) -> None:
        # Called when a request starts and when it ends: the end of a request
        # that reached the database is when the connection was last known good.
        if self.connection is not None and self.health_check_done and not self.errors_occurred:
            self._last_used = time.monotonic()
        super().close_if_unusable_or_obsolete()
