"""The throwaway test server's superuser and data folder, for tests that inspect the server itself.

`shuping test` runs the application (and the tests' Django connection) as a
role that is not a superuser, as `shuping run` does; it says where its
embedded server lives in SHUPING_TEST_PG_HOME. With DATABASE_URL given
instead, that URL's user is the most privileged one known, and there is no
data folder to read.
"""

from __future__ import annotations

import os
from pathlib import Path


def pg_home() -> Path | None:
    home = os.environ.get("SHUPING_TEST_PG_HOME")
    return Path(home) if home else None


def superuser_url() -> str:
    home = pg_home()
    if home is None:
        return os.environ["DATABASE_URL"]
    from shuping.embedded_pg import EmbeddedPostgres

    return EmbeddedPostgres(home).admin_url()


def pgdata() -> Path | None:
    home = pg_home()
    return home / "pgdata" if home else None


def server_log() -> Path | None:
    home = pg_home()
    return home / "postgres.log" if home else None
