"""Table lists from the schemas on the search_path only, not from all of pg_class.

Django's PostgreSQL introspection lists tables with
`pg_table_is_visible(c.oid)` over every row of pg_class. With one schema per
county that is every relation of every county (about 250 rows a county with
indexes and TOAST tables: 305,000 at 1,200 counties), and the function looks each one up in the backend's
catalog cache, so one call took 379-425 ms at about 1,450 counties and left
the backend holding cache entries for all of them. Migrations ask for the
table list several times per schema (the migration recorder, the executor).

Here the relations are found from the namespaces on the effective search
path (`current_schemas(true)`: the county's schema as django-tenants sets it
for introspection, plus pg_temp when the session has one) through pg_depend:
PostgreSQL records for every table, view, sequence and foreign table a
dependency on its namespace, and pg_depend has an index on the referenced
object, whereas pg_class has none on relnamespace (a filter on it still reads
all of pg_class: 90-300 ms at 1,200 counties). Only those few relations go
through `pg_table_is_visible`. A relation outside those namespaces is never
visible, so the answer is the same as Django's (a test compares the two);
measured at 1,200 counties (305,000 rows in pg_class): 10 ms against 582 ms.
"""

from __future__ import annotations

from typing import Any

from django.db.backends.postgresql.introspection import TableInfo  # type: ignore[attr-defined]
from django_tenants.postgresql_backend.introspection import (
    DatabaseSchemaIntrospection,
    DatabaseSchemaIntrospectionSearchPathContext,
)

TABLE_LIST_SQL = """
    SELECT
        c.relname,
        CASE
            WHEN c.relispartition THEN 'p'
            WHEN c.relkind IN ('m', 'v') THEN 'v'
            ELSE 't'
        END,
        pg_catalog.obj_description(c.oid, 'pg_class')
    FROM pg_catalog.pg_depend d
    JOIN pg_catalog.pg_class c ON c.oid = d.objid
    WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
        AND d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass
        AND d.refobjsubid = 0
        AND d.refobjid = ANY (ARRAY(
            SELECT n.oid FROM pg_catalog.pg_namespace n
            WHERE n.nspname = ANY (pg_catalog.current_schemas(true))
                AND n.nspname NOT IN ('pg_catalog', 'pg_toast')
        ))
        AND c.relkind IN ('f', 'm', 'p', 'r', 'v')
        AND pg_catalog.pg_table_is_visible(c.oid)
"""


class CountyIntrospection(DatabaseSchemaIntrospection):
    def get_table_list(self, cursor: Any) -> list[TableInfo]:
        """The tables and views visible in the connection's schema (what Django's query returns, cheaply)."""
        with DatabaseSchemaIntrospectionSearchPathContext(cursor=cursor, connection=self.connection):
            cursor.execute(TABLE_LIST_SQL)
            return [TableInfo(*row) for row in cursor.fetchall() if row[0] not in self.ignored_tables]
