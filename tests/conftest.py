"""Shared test setup.

`shuping test` (what `make test` runs) starts a throwaway PostgreSQL, migrates
the public schema and the county template with the same code as production,
then runs pytest with DATABASE_URL pointing at it. Tests create their counties
(schemas cloned from the template) and commit them: schemas are real, so is
isolation.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

if not os.environ.get("DATABASE_URL"):
    raise pytest.UsageError(
        "没有数据库：请用 `make test`（或 `shuping test`）运行测试。\n"
        "No database: run the tests with `make test` (or `shuping test`), which starts a throwaway PostgreSQL."
    )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """In CI a skipped test is a failed test: a missing tool must not pass silently."""
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, which is not allowed: {reason}"


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    """Each test starts with no request counted against the public pages' limits (common.rate_limits).

    The limits are per address across counties, and most tests send from one
    address (the test client's 127.0.0.1): without this, what one test posted
    would count against the next. This clears the in-process store only;
    server processes started by tests keep their own.
    """
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    store = caches["rate_limits"]
    if isinstance(store, LocMemCache):  # never flush a Redis (REDIS_URL set for the test process)
        store.clear()


@pytest.fixture(scope="session")
def django_db_setup() -> None:
    """The database is created and migrated by `shuping test`; use it as it is."""


@pytest.fixture(scope="session")
def make_county(django_db_blocker: object) -> Callable[..., object]:
    """Create a committed county with a unique slug; returns the County."""
    from tenants.provisioning import create_county

    made: list[str] = []

    def factory(prefix: str = "t", *, name: str | None = None) -> object:
        slug = f"{prefix}_{uuid.uuid4().hex[:8]}"
        with django_db_blocker.unblock():  # type: ignore[attr-defined]
            county = create_county(slug=slug, name=name or f"测试县{slug[-4:]}", domains=[f"{slug.replace('_', '-')}.testserver"])
        made.append(slug)
        return county

    return factory


@pytest.fixture(scope="session")
def county_a(make_county: Callable[..., object]) -> object:
    return make_county("ca", name="甲县")


@pytest.fixture(scope="session")
def county_b(make_county: Callable[..., object]) -> object:
    return make_county("cb", name="乙县")


def host_of(county: object) -> str:
    return f"{county.schema_name.replace('_', '-')}.testserver"  # type: ignore[attr-defined]
