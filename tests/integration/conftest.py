"""Fixtures of the integration tests that need a database of their own (see own_instance)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import urlparse

import psycopg
import pytest

from tests.integration.own_instance import create_counties, shuping, with_db
from tests.pg_admin import superuser_url


@pytest.fixture
def own_database() -> Iterator[str]:
    """A fresh, empty database owned by the application's user; dropped afterwards."""
    name = f"shuping_pm_{uuid.uuid4().hex[:8]}"
    user = urlparse(os.environ["DATABASE_URL"]).username
    with psycopg.connect(superuser_url(), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}" OWNER "{user}"')
    try:
        yield with_db(os.environ["DATABASE_URL"], name)
    finally:
        with psycopg.connect(superuser_url(), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def own_counties(own_database: str) -> Callable[..., str]:
    """`own_counties(slugs, name=...)`: `shuping migrate` on a fresh database, then those counties created; its URL.

    Both steps run in child processes with the platform's settings, as an
    operator runs them before a release brings a new migration.
    """

    def make(slugs: list[str], *, name: str = "县区") -> str:
        first = shuping(own_database, "migrate")
        assert first.returncode == 0, first.stdout + first.stderr
        create_counties(own_database, slugs, name=name)
        return own_database

    return make
