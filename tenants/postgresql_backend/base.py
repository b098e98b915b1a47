"""django-tenants' PostgreSQL backend: a health check only after a quiet spell, a cheap table list, recycled connections.

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

Connections are recycled after serving many counties: PostgreSQL keeps
catalog cache entries for every relation a backend has touched (about 70 KB
per county schema), so a persistent connection that serves every county of
2,800 grows by about 200 MB, and a worker keeps one per thread. Once a
connection has served settings.SHUPING_CONN_MAX_SCHEMAS distinct schemas
(100 by default), switching it to yet another one closes it first (outside a
transaction only); the next query opens a fresh backend. A thread that keeps
serving the same few counties is never recycled.

The table list of introspection (migrations ask for it in every schema they
touch) comes from tenants.postgresql_backend.introspection.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django_tenants.postgresql_backend import base as tenants_base

from tenants.postgresql_backend.introspection import CountyIntrospection

DEFAULT_AFTER_IDLE = 1.0
DEFAULT_MAX_SCHEMAS = 100


def max_schemas() -> int:
    """How many distinct schemas a connection serves before it is recycled (SHUPING_CONN_MAX_SCHEMAS)."""
    return int(getattr(settings, "SHUPING_CONN_MAX_SCHEMAS", DEFAULT_MAX_SCHEMAS))


class DatabaseWrapper(tenants_base.DatabaseWrapper):
    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        self._schemas_served: set[str] = set()
        super().__init__(*args, **kwargs)
        self._last_used = 0.0
        self.introspection = CountyIntrospection(self)

    def connect(self) -> None:
        super().connect()
        self._schemas_served = {self.schema_name} if self.schema_name else set()

    def set_tenant(self, tenant: Any, include_public: bool = True) -> None:
        """Switch to the tenant's schema; first recycle the connection if it has served too many others."""
        schema = tenant.schema_name
        served = getattr(self, "_schemas_served", None)
        if served is not None and self.connection is not None and schema not in served:
            if len(served) >= max_schemas() and not self.in_atomic_block:
                # Closing drops the backend and its catalog cache; the next
                # cursor connects again (and sets the search_path).
                self.close()
                served = self._schemas_served = set()
            served.add(schema)
        super().set_tenant(tenant, include_public)

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
