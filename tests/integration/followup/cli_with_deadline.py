"""The `shuping` command with the test deadline's sweeper registered, as a process of its own.

    python -m tests.integration.followup.cli_with_deadline worker
    python -m tests.integration.followup.cli_with_deadline jobs tick --now ISO --wait

with DATABASE_URL and SHUPING_SECRET_KEY set (tests/integration/followup/test_jobs.py):
a real worker, or a real tick, that knows the sweeper the tests registered in their own process.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shuping.settings")

import django  # noqa: E402

django.setup()

from shuping import cli  # noqa: E402
from tests.integration.followup import deadline_sweeper  # noqa: E402

if __name__ == "__main__":
    deadline_sweeper.register()
    raise SystemExit(cli.main(sys.argv[1:]))
