"""The embedded server's application is not a superuser: it owns its database and nothing more.

A superuser can read every file of the data folder (`pg_read_binary_file`),
among them the WAL and the heap of the ballot box, and switch off every
check; the application has no need of that. `shuping run` and `shuping test`
connect as the role `shuping`, which the superuser creates with its database.
"""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from shuping.embedded_pg import APP_ROLE, EmbeddedPostgres
from tests.conftest import IN_CI


def test_the_tests_and_the_app_connect_as_a_role_that_is_not_a_superuser() -> None:
    if not os.environ.get("SHUPING_TEST_PG_HOME"):
        if IN_CI:
            pytest.fail("run with `make test`: this checks the embedded server's roles")
        pytest.skip("DATABASE_URL was given: its roles are the deployment's business")
    with psycopg.connect(os.environ["DATABASE_URL"], autocommit=True) as conn:
        role = conn.execute(
            "SELECT rolname, rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls"
            " FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        assert role == (APP_ROLE, False, False, False, False, False)
        owner = conn.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()")
        assert owner.fetchone() == (APP_ROLE,)
        # Migrations and the county template's cloning ran as this role: it owns every table.
        others = conn.execute(
            "SELECT schemaname, tablename, tableowner FROM pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND tableowner <> current_user"
        ).fetchall()
        assert others == []
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT pg_read_binary_file('PG_VERSION')")


def test_a_data_folder_from_before_the_app_role_is_handed_over(tmp_path: Path) -> None:
    """What the superuser owned in an older data folder becomes the application's at the next start."""
    server = EmbeddedPostgres(tmp_path / "pg", throwaway=True)
    try:
        server.start(log=False)
        with psycopg.connect(server.admin_url(), autocommit=True) as admin:
            admin.execute("ALTER DATABASE shuping OWNER TO postgres")
            admin.execute("CREATE SCHEMA legacy")
            admin.execute("CREATE TYPE legacy.mood AS ENUM ('good', 'bad')")
            admin.execute("CREATE TABLE legacy.notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
                          " n serial, mood legacy.mood)")
            admin.execute("CREATE SEQUENCE legacy.numbers")
            admin.execute("CREATE VIEW legacy.good AS SELECT * FROM legacy.notes WHERE mood = 'good'")
            admin.execute("CREATE FUNCTION legacy.next() RETURNS bigint LANGUAGE sql AS 'SELECT nextval(''legacy.numbers'')'")
        server.stop()
        server.start(log=False)
        with psycopg.connect(server.url(), autocommit=True) as app:
            app.execute("INSERT INTO legacy.notes (mood) VALUES ('good')")
            assert app.execute("SELECT count(*), legacy.next() FROM legacy.good").fetchone() == (1, 1)
            app.execute("ALTER TABLE legacy.notes ADD COLUMN said text")  # an owner's right
            assert app.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone() == (False,)
            owners = app.execute(
                "SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'legacy'"
            ).fetchall()
            assert owners == [(APP_ROLE,)]
    finally:
        server.destroy()
