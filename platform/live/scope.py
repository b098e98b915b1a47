"""County scope for websockets: django-tenants' middleware does not run for them.

`CountyScope` resolves the county from the Host header (the same Domain rows
the HTTP middleware uses), checks that a browser's Origin is the page's own
host, and puts the county's schema into the scope. Consumers then run every
database call inside `in_county(schema, ...)`: a thread from
`database_sync_to_async` otherwise keeps whatever search_path its connection
had last (architecture.md, "django-tenants does not cover Channels").

These reads run in a pool of `READ_THREADS` threads of their own.
channels' `database_sync_to_async` is thread-sensitive by default: every
read of every room of a process went through one thread, and when 250 halls
opened their ballots within seconds (bench/peak.py) their snapshots queued
behind each other in it, so hall screens showed the open ballot (and the
count) up to 5 s late while the CPUs still had room.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from django_tenants.utils import schema_context

T = TypeVar("T")

READ_THREADS = 4  # per server process; each holds its own database connection
_readers = ThreadPoolExecutor(max_workers=READ_THREADS, thread_name_prefix="live-read")


def _in_thread(fn: Callable[..., T]) -> Callable[..., Any]:
    """`fn` as a coroutine function running in the pool (Django's connection checks around each call)."""
    return database_sync_to_async(fn, thread_sensitive=False, executor=_readers)

def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _host_name(host: str) -> str:
    return host.rsplit(":", 1)[0].lower() if not host.endswith("]") else host.lower()


def _county_of_host(hostname: str) -> str | None:
    # The HTTP middleware's lookup and cache (tenants.hosts): one place that
    # knows which host serves which county, and forgets it when that changes.
    from tenants.hosts import county_for_host

    county = county_for_host(hostname)
    if county is None or county.schema_name == "public":
        return None
    return str(county.schema_name)


async def county_of_host(hostname: str) -> str | None:
    return await _in_thread(_county_of_host)(hostname)  # type: ignore[no-any-return]


def origin_allowed(scope: dict[str, Any]) -> bool:
    """A browser's Origin must be the host it connects to (no cross-site subscriptions).

    Programs that send no Origin (the benchmark, tests, a kiosk client) are
    allowed: a subscription needs a signed token, not a cookie, so no other
    site can ride on a visitor's session.
    """
    origin = _header(scope, b"origin")
    if not origin:
        return True
    parts = urlsplit(origin)
    return bool(parts.netloc) and parts.netloc.lower() == _header(scope, b"host").lower()


class CountyScope:
    """ASGI middleware for websockets: adds ``scope["county"]`` (a schema name, or None)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        host = _host_name(_header(scope, b"host"))
        county = await county_of_host(host) if host else None
        scope = dict(scope, county=county, origin_ok=origin_allowed(scope))
        return await self.app(scope, receive, send)


def in_county_sync(schema: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    with schema_context(schema):
        return fn(*args, **kwargs)


async def in_county(schema: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run `fn` in a database thread with the county's search_path set for the call."""
    result: T = await _in_thread(in_county_sync)(schema, fn, *args, **kwargs)
    return result
