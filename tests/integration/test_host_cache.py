"""Host name -> county is cached per process (tenants.hosts), and changes are seen.

These tests run requests outside any transaction, on committed rows, as a
server does (inside a transaction nothing is cached: see
`test_nothing_read_inside_a_transaction_is_cached`). Each adds its own host
names and removes them at the end.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tenants import hosts
from tenants.models import County, Domain
from tests.conftest import host_of


@pytest.fixture
def committed(django_db_blocker: Any) -> Iterator[list[str]]:
    """Unblocked database access outside any transaction; host names listed here are removed after."""
    made: list[str] = []
    with django_db_blocker.unblock():
        hosts.forget()
        try:
            yield made
        finally:
            connection.set_schema_to_public()  # type: ignore[attr-defined]
            Domain.objects.filter(domain__in=made).delete()
            hosts.forget()


def _new_host() -> str:
    return f"hc-{uuid.uuid4().hex[:8]}.testserver"


def _add_host_without_signals(host: str, county: Any) -> None:
    """A host name added in SQL (another process, a script): no signal reaches this process."""
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO tenants_domain (domain, tenant_id, is_primary) VALUES (%s, %s, false)", [host, county.pk]
        )


def _schema_of(host: str) -> str | None:
    """The schema the health probe runs in on `host`, or None when the host is unknown (404)."""
    response = Client().get("/healthz", HTTP_HOST=host)
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.content[:500]
    return str(response.json()["schema"])


def test_a_known_host_is_looked_up_once(committed: list[str], county_a: Any) -> None:
    assert _schema_of(host_of(county_a)) == county_a.schema_name
    with CaptureQueriesContext(connection) as queries:
        assert _schema_of(host_of(county_a)) == county_a.schema_name
    statements = [q["sql"] for q in queries.captured_queries]
    assert not any("tenants_domain" in sql for sql in statements), statements
    assert not any(sql.startswith("SET search_path") for sql in statements), statements


def test_requests_of_two_counties_in_turn_each_get_their_own_schema(
    committed: list[str], county_a: Any, county_b: Any
) -> None:
    for _ in range(3):
        assert _schema_of(host_of(county_a)) == county_a.schema_name
        assert _schema_of(host_of(county_b)) == county_b.schema_name


def test_a_new_host_resolves_at_once_even_without_a_signal(committed: list[str], county_a: Any) -> None:
    host = _new_host()
    committed.append(host)
    assert _schema_of(host) is None  # unknown hosts are not cached ...
    _add_host_without_signals(host, county_a)
    assert _schema_of(host) == county_a.schema_name  # ... so a new one works at once


def test_a_removed_host_stops_resolving_at_once_in_this_process(committed: list[str], county_a: Any) -> None:
    host = _new_host()
    committed.append(host)
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    Domain.objects.create(domain=host, tenant=County.objects.get(pk=county_a.pk), is_primary=False)
    assert _schema_of(host) == county_a.schema_name
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    Domain.objects.filter(domain=host).delete()
    assert _schema_of(host) is None


def test_a_moved_host_follows_at_once_in_this_process(committed: list[str], county_a: Any, county_b: Any) -> None:
    host = _new_host()
    committed.append(host)
    _add_host_without_signals(host, county_a)
    assert _schema_of(host) == county_a.schema_name
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    domain = Domain.objects.get(domain=host)
    domain.tenant = County.objects.get(pk=county_b.pk)
    domain.save()
    assert _schema_of(host) == county_b.schema_name


def test_a_change_this_process_is_not_told_of_is_seen_after_the_expiry(
    committed: list[str], county_a: Any, county_b: Any, settings: Any
) -> None:
    """Another worker's change (here: an UPDATE, which sends no signal) waits for the expiry."""
    settings.TENANT_HOST_CACHE_SECONDS = 0.5
    host = _new_host()
    committed.append(host)
    _add_host_without_signals(host, county_a)
    assert _schema_of(host) == county_a.schema_name
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    Domain.objects.filter(domain=host).update(tenant_id=county_b.pk)
    assert _schema_of(host) == county_a.schema_name  # still the cached answer
    time.sleep(0.6)
    assert _schema_of(host) == county_b.schema_name
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    Domain.objects.filter(domain=host).update(domain=host + ".gone")
    committed.append(host + ".gone")
    time.sleep(0.6)
    assert _schema_of(host) is None  # removed: after the expiry it no longer resolves


def test_no_cache_when_the_expiry_is_zero(committed: list[str], county_a: Any, settings: Any) -> None:
    settings.TENANT_HOST_CACHE_SECONDS = 0
    host = _new_host()
    committed.append(host)
    _add_host_without_signals(host, county_a)
    assert _schema_of(host) == county_a.schema_name
    connection.set_schema_to_public()  # type: ignore[attr-defined]
    Domain.objects.filter(domain=host).update(domain=host + ".gone")
    committed.append(host + ".gone")
    assert _schema_of(host) is None


def test_nothing_read_inside_a_transaction_is_cached(committed: list[str], county_a: Any) -> None:
    """A transaction may see its own uncommitted rows; a rollback would leave them cached."""
    host = _new_host()
    with transaction.atomic():
        _add_host_without_signals(host, county_a)
        assert _schema_of(host) == county_a.schema_name
        transaction.set_rollback(True)
    assert _schema_of(host) is None


def test_each_request_gets_its_own_county_object(committed: list[str], county_a: Any) -> None:
    first = hosts.county_for_host(host_of(county_a))
    second = hosts.county_for_host(host_of(county_a))
    assert first is not None and second is not None
    assert first is not second and first.pk == second.pk == county_a.pk
    first.name = "changed by one request"
    assert second.name != "changed by one request"
    assert hosts.county_for_host(host_of(county_a)).name != "changed by one request"  # type: ignore[union-attr]
