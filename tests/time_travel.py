"""Advancing the platform's time in tests: through the job queue, never by sleeping.

`jobs_tick(now)` runs `shuping jobs tick --now NOW --wait` as a process of its
own (as a browser test's server would see it): every county (or one) is swept
through the queue with `now` as the time, and it returns when the sweeps are
done. The database is the test run's (DATABASE_URL).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from datetime import datetime

SHUPING = ("-m", "shuping.cli")


def jobs_tick(now: datetime, *, county: str | None = None, program: Sequence[str] = SHUPING) -> str:
    """Sweep through the job queue at `now` and wait for it; the command's output. Fails the test if the tick failed."""
    if now.tzinfo is None:
        raise ValueError("now must carry its time zone")
    command = [sys.executable, *program, "jobs", "tick", "--now", now.isoformat(), "--wait"]
    if county is not None:
        command += ["--county", county]
    done = subprocess.run(command, env=dict(os.environ), capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"jobs tick failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout
