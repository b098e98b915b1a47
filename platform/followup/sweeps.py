"""What time makes due: sweepers record, through the doors, whatever has become due at `now`.

A sweeper is a function `(now) -> int` run inside one county's schema. It
looks at projections for what is due at `now` (a notice period that ended, an
item past its deadline, a flagged subject without an interview) and records
each through its door with a command id derived from the fact itself, so a
sweep run twice (or by two workers) records once. It returns how many
commands it ran. The job queue (followup.jobs) runs every sweeper for every
county periodically and on demand; tests call `run_sweepers` with a `now` of
their choosing instead of sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

Sweeper = Callable[[datetime], int]

SWEEPERS: dict[str, Sweeper] = {}


def sweeper(name: str) -> Callable[[Sweeper], Sweeper]:
    """Register a sweeper under a stable name (the name appears in job logs)."""

    def register(fn: Sweeper) -> Sweeper:
        if name in SWEEPERS and SWEEPERS[name] is not fn:
            raise ValueError(f"sweeper {name!r} registered twice")
        SWEEPERS[name] = fn
        return fn

    return register


def run_sweepers(now: datetime) -> dict[str, int]:
    """Run every sweeper in the current county's schema; how many commands each ran."""
    return {name: fn(now) for name, fn in sorted(SWEEPERS.items())}
