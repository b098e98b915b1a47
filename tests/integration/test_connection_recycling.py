"""A connection that has served SHUPING_CONN_MAX_SCHEMAS counties is replaced before it serves another.

PostgreSQL keeps catalog cache entries for every county schema a backend has
touched (about 70 KB each), so a worker thread's persistent connection is
closed once it has served that many distinct schemas and the next query opens
a new backend (tenants.postgresql_backend.base). Requests go through Django's
whole stack here (host -> county middleware -> view), outside any test
transaction, as a worker serves them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from tests.conftest import host_of


@pytest.fixture
def outside_transactions(django_db_blocker: Any) -> Iterator[None]:
    with django_db_blocker.unblock():
        connection.close()
        try:
            yield
        finally:
            connection.close()


@pytest.fixture(scope="module")
def five_counties(make_county: Callable[..., Any]) -> list[Any]:
    return [make_county("rc") for _ in range(5)]


def _backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def _serve(client: Client, county: Any) -> int:
    """One page of the county, as a visitor gets it; the backend that served it."""
    page = client.get("/zhenggai/", HTTP_HOST=host_of(county))
    assert page.status_code == 200
    assert county.name in page.content.decode()
    return _backend_pid()


def test_a_connection_is_replaced_after_serving_the_limit_of_counties(
    outside_transactions: None, settings: Any, five_counties: list[Any]
) -> None:
    settings.SHUPING_CONN_MAX_SCHEMAS = 3
    client = Client()
    pids = [_serve(client, county) for county in five_counties]
    # Public (the host lookup) and counties count alike: after at most three
    # distinct schemas the backend changes, and every page was still served.
    assert len(set(pids)) >= 2, pids
    assert pids[0] == pids[1], pids  # two counties (and public) are within the limit
    # The same few counties again and again: no reason to recycle.
    steady = [_serve(client, five_counties[4]) for _ in range(5)]
    assert len(set(steady)) == 1, steady


def test_under_the_limit_the_connection_is_kept(outside_transactions: None, settings: Any, five_counties: list[Any]) -> None:
    settings.SHUPING_CONN_MAX_SCHEMAS = 100
    client = Client()
    pids = [_serve(client, county) for county in five_counties * 2]
    assert len(set(pids)) == 1, pids


def test_no_recycling_inside_a_transaction(outside_transactions: None, settings: Any, five_counties: list[Any]) -> None:
    from django.db import transaction
    from django_tenants.utils import schema_context

    from tenants.provisioning import template_schema

    settings.SHUPING_CONN_MAX_SCHEMAS = 1
    with transaction.atomic():
        pid = _backend_pid()
        for county in five_counties:
            with schema_context(county.schema_name):
                assert _backend_pid() == pid
    # Outside the transaction the next switch to a schema not yet served recycles it.
    with schema_context(template_schema()):
        assert _backend_pid() != pid
