"""Fixtures for live tests: a real server process and counties with `.localhost` hosts."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from infra.topology import RedisServer
from tests.live.server import LiveServer, make_live_county


@pytest.fixture(scope="module")
def hall_server() -> Iterator[LiveServer]:
    server = LiveServer()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def live_county(make_county: Any, django_db_blocker: Any) -> Any:
    with django_db_blocker.unblock():
        return make_live_county(make_county)


@pytest.fixture(scope="module")
def other_live_county(make_county: Any, django_db_blocker: Any) -> Any:
    with django_db_blocker.unblock():
        return make_live_county(make_county)


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    """A redis-server of the module's own (a skip is a failure under CI=true: .ci/run installs it)."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (Debian package redis-server; .ci/run installs it)")
    server = RedisServer()
    try:
        yield server
    finally:
        server.stop()
