"""The ASGI entry point hands the server's loop to live.bus once per process, not per request,
and at start-up keeps what is alive out of the collector's later walks."""

from __future__ import annotations

import asyncio
import gc
import weakref
from typing import Any

import pytest
from django.conf import settings
from django.urls import clear_url_caches, get_resolver

from live import bus
from shuping.asgi import Application


class Inner:
    """Stands in for the router: records the scopes it was handed."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.scopes.append(scope["type"])


@pytest.fixture(autouse=True)
def thawed() -> Any:
    """Lifespan start-up freezes the heap: the test process must not stay frozen after a test."""
    yield
    gc.unfreeze()


@pytest.fixture
def binds(monkeypatch: pytest.MonkeyPatch) -> list[asyncio.AbstractEventLoop]:
    calls: list[asyncio.AbstractEventLoop] = []
    monkeypatch.setattr(bus, "bind_loop", calls.append)
    return calls


async def _lifespan(app: Application) -> list[str]:
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[str] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    await app({"type": "lifespan"}, receive, send)
    return sent


async def _requests(app: Application, n: int) -> None:
    for i in range(n):
        await app({"type": "http" if i % 2 else "websocket"}, None, None)


def test_lifespan_startup_binds_the_loop_and_requests_do_not(binds) -> None:
    inner = Inner()
    app = Application(inner)

    async def serve() -> asyncio.AbstractEventLoop:
        assert await _lifespan(app) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
        await _requests(app, 10)
        return asyncio.get_running_loop()

    loop = asyncio.run(serve())
    assert binds == [loop]
    assert len(inner.scopes) == 10 and "lifespan" not in inner.scopes


def test_without_lifespan_the_first_request_binds_the_loop(binds) -> None:
    inner = Inner()
    app = Application(inner)

    async def serve() -> asyncio.AbstractEventLoop:
        await _requests(app, 10)
        return asyncio.get_running_loop()

    loop = asyncio.run(serve())
    assert binds == [loop]
    assert len(inner.scopes) == 10


class _Node:
    def __init__(self) -> None:
        self.other: Any = self


def test_lifespan_startup_collects_then_freezes_what_is_alive(binds) -> None:
    """Garbage left by start-up is collected, not frozen; what lives on is out of later walks.

    The automatic collector is off while the test runs, so only the start-up's
    own collection can free the cycle.
    """
    gc.unfreeze()
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        cycle = _Node()  # garbage once dropped: only the collector can free a cycle
        gone = weakref.ref(cycle)
        del cycle
        kept = _Node()
        assert gone() is not None  # nothing has collected it yet
        assert any(obj is kept for obj in gc.get_objects())
        assert gc.get_freeze_count() == 0
        clear_url_caches()  # as in a new worker: no URL conf loaded yet

        assert asyncio.run(_lifespan(Application(Inner()))) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]

        assert gone() is None
        assert gc.get_freeze_count() > 0
        assert not any(obj is kept for obj in gc.get_objects())  # frozen: in no generation the collector walks
        # Both URL confs were loaded before the freeze, not by a first request after it.
        resolvers = [get_resolver(urlconf) for urlconf in (settings.ROOT_URLCONF, settings.PUBLIC_SCHEMA_URLCONF)]
        assert all(resolver._populated for resolver in resolvers)  # noqa: SLF001
        assert not any(obj is resolver for obj in gc.get_objects() for resolver in resolvers)
        after = _Node()
        assert any(obj is after for obj in gc.get_objects())
    finally:
        if was_enabled:
            gc.enable()
