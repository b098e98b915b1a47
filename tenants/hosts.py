"""Host name -> county, cached per process.

django-tenants looks the host up in the public `tenants_domain` table on every
request (and sets the search_path to public for it, then back to the county):
three round trips to PostgreSQL before a view runs. Host names change a few
times a year, so each process keeps what it looked up.

How a change is seen (the invalidation story):

- In the process that makes it: at once. Saving or deleting a Domain or a
  County through the ORM (the operators' admin, `shuping county create`,
  provisioning) empties the cache of that process (signals below).
- In every other process (other uvicorn workers, other machines): within
  `TENANT_HOST_CACHE_SECONDS` (settings; 30 s by default, 0 turns the cache
  off). An entry is trusted for that long after it was read, then read again.
- A host that is not (yet) known is never cached: a new host name works
  everywhere at once; only removing or moving one waits for the expiry.
- Only rows read outside a transaction are cached: inside one, the read may
  see the transaction's own uncommitted rows, which a rollback would take back
  (tests run inside transactions; requests do not).
- Changes made around the ORM's signals (`QuerySet.update()`, raw SQL) are seen
  after the expiry, or at once in the process that calls `forget()`.

The cached County objects are never handed out: each request gets a copy, so
nothing one request sets on its tenant reaches another.
"""

from __future__ import annotations

import copy
import threading
import time
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save

if TYPE_CHECKING:
    from tenants.models import County

DEFAULT_SECONDS = 30.0

_entries: dict[str, tuple[float, County]] = {}  # host -> (read at, monotonic; the county)
_lock = threading.Lock()
_generation = 0  # bumped by forget(): a lookup that raced a change is not stored


def cache_seconds() -> float:
    return float(getattr(settings, "TENANT_HOST_CACHE_SECONDS", DEFAULT_SECONDS))


def forget(*_args: Any, **_kwargs: Any) -> None:
    """Empty this process's cache."""
    global _generation
    with _lock:
        _entries.clear()
        _generation += 1


def _changed(*_args: Any, **_kwargs: Any) -> None:
    """A Domain or County was saved or deleted: forget now, and again when that commits.

    Forgetting only now would let another thread read the old rows (the change
    is not committed yet) and keep them for a whole expiry period.
    """
    forget()
    transaction.on_commit(forget)


def county_for_host(hostname: str) -> County | None:
    """The county serving `hostname` (a copy of it), or None for an unknown host.

    On a miss this queries the public schema and leaves the connection there:
    the caller sets the tenant it gets back (CachedCountyMiddleware does).
    """
    ttl = cache_seconds()
    now = time.monotonic()
    entry = _entries.get(hostname)
    if entry is not None and now - entry[0] < ttl:
        return _copy(entry[1], hostname)
    with _lock:
        generation = _generation
    county = _lookup(hostname)
    if county is None:
        with _lock:
            _entries.pop(hostname, None)
        return None
    if ttl > 0 and not connection.in_atomic_block:
        with _lock:
            if generation == _generation:
                _entries[hostname] = (now, county)
    return _copy(county, hostname)


def _lookup(hostname: str) -> County | None:
    from tenants.models import Domain

    connection.set_schema_to_public()  # type: ignore[attr-defined]
    domain = Domain.objects.select_related("tenant").filter(domain=hostname).first()
    return None if domain is None else domain.tenant


def _copy(county: County, hostname: str) -> County:
    mine = copy.copy(county)
    mine.domain_url = hostname  # type: ignore[attr-defined]  # what django-tenants sets
    return mine


def connect_signals() -> None:
    from tenants.models import County, Domain

    for model in (County, Domain):
        post_save.connect(_changed, sender=model, dispatch_uid=f"tenants.hosts.save.{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"tenants.hosts.delete.{model.__name__}")
