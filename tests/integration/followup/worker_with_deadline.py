"""`shuping worker` with the test deadline's sweeper registered: a real worker process for the restart test.

Run as `python -m tests.integration.followup.worker_with_deadline [WORKER ARGS]`
with DATABASE_URL and SHUPING_SECRET_KEY set (tests/integration/followup/test_jobs.py).
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
    raise SystemExit(cli.main(["worker", *sys.argv[1:]]))
