"""The connection health check after a quiet spell (tenants.postgresql_backend).

A persistent connection is sent `SELECT 1` before a request only when it
has not been used for DB_HEALTH_CHECK_AFTER_IDLE seconds. The request cycle
is driven here the way Django's handler drives it (the request_started and
request_finished signals call close_if_unusable_or_obsolete), and the
connection is killed for real from another session.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.db import OperationalError, connection


@pytest.fixture
def outside_transactions(django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        connection.close()
        try:
            yield
        finally:
            connection.close()


def _kill_backend() -> None:
    """Terminate the server process behind Django's connection, from another session."""
    pid = connection.connection.info.backend_pid  # type: ignore[union-attr]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    params.pop("server_side_binding", None)
    with psycopg.connect(**params, autocommit=True) as other:
        # Wait until the backend is gone (PostgreSQL 14+ waits when given a
        # timeout), instead of sleeping 0.1 s and hoping the signal was acted on.
        terminated = other.execute("SELECT pg_terminate_backend(%s, 30000)", [pid]).fetchone()
        assert terminated == (True,), "the backend did not exit within 30 s"


def _request() -> int:
    """One request's worth of database work, framed as Django frames a request."""
    connection.close_if_unusable_or_obsolete()  # request_started
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return int(cursor.fetchone()[0])
    finally:
        connection.close_if_unusable_or_obsolete()  # request_finished


def test_an_idle_connection_is_checked_and_replaced(outside_transactions: None, settings: Any) -> None:
    settings.DB_HEALTH_CHECK_AFTER_IDLE = 0.2
    assert _request() == 1
    time.sleep(0.3)
    _kill_backend()
    assert _request() == 1  # the check found it dead and reconnected first


def test_a_connection_used_a_moment_ago_is_not_checked(outside_transactions: None, settings: Any) -> None:
    settings.DB_HEALTH_CHECK_AFTER_IDLE = 30
    assert _request() == 1
    _kill_backend()
    # No check: the request finds out itself (what this setting gives up) ...
    with pytest.raises(OperationalError):
        _request()
    # ... and the broken connection is dropped at its end, so the next one works.
    assert _request() == 1


def test_zero_checks_before_every_request(outside_transactions: None, settings: Any) -> None:
    settings.DB_HEALTH_CHECK_AFTER_IDLE = 0
    assert _request() == 1
    _kill_backend()
    assert _request() == 1
