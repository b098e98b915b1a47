"""Our table list (tenants.postgresql_backend.introspection) answers what Django's own query answers.

Ours finds relations through pg_depend's index on their namespace instead of
running pg_table_is_visible over all of pg_class; these tests compare both
answers in a county with a view, a sequence and a shadowing temporary table,
in public, and in the template.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.backends.postgresql.introspection import DatabaseIntrospection
from django_tenants.utils import schema_context

from tenants.postgresql_backend.introspection import CountyIntrospection
from tenants.provisioning import template_schema

pytestmark = pytest.mark.django_db


def _djangos(cursor: Any) -> list[Any]:
    """Django's own PostgreSQL query, with the search_path django-tenants sets for introspection."""
    cursor.execute("SHOW search_path")
    (before,) = cursor.fetchone()
    cursor.execute(f'SET search_path = "{connection.schema_name}"')  # type: ignore[attr-defined]
    try:
        return sorted(DatabaseIntrospection(connection).get_table_list(cursor))
    finally:
        cursor.execute(f"SET search_path = {before}")


def test_the_backend_uses_our_table_list() -> None:
    assert isinstance(connection.introspection, CountyIntrospection)


def test_same_tables_as_djangos_query_in_a_county_with_views_and_a_temporary_table(make_county: Any) -> None:
    county = make_county("tl")
    with schema_context(county.schema_name), connection.cursor() as cursor:
        cursor.execute("CREATE VIEW tl_view AS SELECT 1 AS one")
        cursor.execute("CREATE MATERIALIZED VIEW tl_matview AS SELECT 1 AS one")
        cursor.execute("CREATE TABLE tl_parted (k int) PARTITION BY RANGE (k)")
        cursor.execute("CREATE TABLE tl_part PARTITION OF tl_parted FOR VALUES FROM (0) TO (10)")
        cursor.execute("COMMENT ON TABLE tl_part IS '分区 / a partition'")
        cursor.execute("CREATE TEMPORARY TABLE tl_temp (x int)")
        cursor.execute("CREATE TEMPORARY TABLE events (x int)")  # shadows the county's event log
        ours = sorted(connection.introspection.get_table_list(cursor))
        theirs = _djangos(cursor)
    assert ours == theirs
    names = {table.name for table in ours}
    assert {"events", "django_migrations", "tl_view", "tl_matview", "tl_parted", "tl_part", "tl_temp"} <= names
    kinds = {table.name: table.type for table in ours}
    assert (kinds["tl_view"], kinds["tl_matview"], kinds["tl_part"], kinds["events"]) == ("v", "v", "p", "t")
    assert ("tl_part", "p", "分区 / a partition") in ours


@pytest.mark.parametrize("schema", ["public", "template"])
def test_same_tables_as_djangos_query_in_public_and_the_template(schema: str) -> None:
    with schema_context(template_schema() if schema == "template" else "public"), connection.cursor() as cursor:
        ours = sorted(connection.introspection.get_table_list(cursor))
        theirs = _djangos(cursor)
    assert ours == theirs and len(ours) > 10


def test_only_the_schemas_own_tables(county_a: Any, county_b: Any) -> None:
    with schema_context(county_a.schema_name), connection.cursor() as cursor:
        cursor.execute("CREATE TABLE only_in_a (x int)")
    with schema_context(county_b.schema_name):
        assert "only_in_a" not in connection.introspection.table_names()
    with schema_context(county_a.schema_name):
        assert "only_in_a" in connection.introspection.table_names()
