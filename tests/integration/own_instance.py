"""A database of its own for tests that migrate every county, and the child processes that work on it.

`shuping migrate` migrates public, the template and every county it finds: a
test that runs a real migration (tests/migration_extra) must not reach the
counties of other tests, so it gets a fresh database (the `own_counties`
fixture in tests/integration/conftest.py) and drives it from child processes,
as an operator would, with the platform's settings or with the settings that
add the extra migration.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg

REPO = Path(__file__).resolve().parents[2]
EXTRA_SETTINGS = "tests.migration_extra.settings"

Db = psycopg.Connection[tuple[object, ...]]


def with_db(url: str, name: str) -> str:
    """`url` with its database replaced by `name`."""
    return urlunparse(urlparse(url)._replace(path=f"/{name}"))


def _env(url: str, *, extra: bool) -> dict[str, str]:
    return dict(
        os.environ, DATABASE_URL=url, PYTHONPATH=str(REPO),
        DJANGO_SETTINGS_MODULE=EXTRA_SETTINGS if extra else "shuping.settings",
    )


def shuping(url: str, *args: str, extra: bool = False) -> subprocess.CompletedProcess[str]:
    """`shuping ARGS` in a child process on the database at `url`; `extra`: with tests/migration_extra's migration."""
    return subprocess.run(
        [sys.executable, "-m", "shuping.cli", *args], capture_output=True, text=True, env=_env(url, extra=extra),
        cwd=REPO, timeout=600,
    )


def python(url: str, code: str, *, extra: bool = False) -> str:
    """Run `code` in a child Python on the database at `url`; its stdout (the test fails if it does)."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_env(url, extra=extra), cwd=REPO, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def create_counties(url: str, slugs: list[str], *, name: str = "县区") -> None:
    """Create counties with `tenants.provisioning.create_county`, as `shuping county create` does, in a child process."""
    python(url, (
        "import django; django.setup()\n"
        "from tenants.provisioning import create_county\n"
        f"for slug in {slugs!r}:\n"
        f"    create_county(slug=slug, name={name!r} + slug, domains=[slug.replace('_', '-') + '.localhost'])\n"
    ))


def applied(db: Db, schema: str) -> set[tuple[str, str]]:
    rows = db.execute(f'SELECT app, name FROM "{schema}".django_migrations').fetchall()
    return {(str(app), str(name)) for app, name in rows}
