"""What time makes due: sweepers record, through the doors, whatever has become due at `now`.

A sweeper is a function `(now) -> int` run inside one county's schema. It
looks at projections for what is due at `now` (a notice period that ended, an
item past its deadline, a flagged subject without an interview) and records
each through its door. It returns how many commands it ran. The job queue
(followup.jobs) runs every sweeper for every county periodically and on
demand; tests call `run_sweepers` with a `now` of their choosing instead of
sleeping, or advance time through the queue (`shuping jobs tick --now ...`).

Idempotence: a sweep may run twice for the same fact (a job retried after a
worker died mid-way, the every-minute sweep and an on-demand one at the same
moment, two workers). So a sweeper never takes a fresh command id: it derives
it from the fact itself, e.g. ``fact_command_id("notice-period-ended",
notice_id, ends_at)``. The event store records each command id once and
answers a retried command with what it recorded the first time
(events.store.append, events.repository.execute): the second sweep's command
has no second effect, whatever state it decided on.

Isolation: one sweeper's failure is logged with the county and the
sweeper's name and does not stop the sweepers after it, nor the next county.

Immediate reactions: after the commit of an event whose type is in TRIGGERS,
the county is swept at once (followup.jobs defers the sweep), instead of at
the next minute: a flagged subject's interview opens when results are
announced.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction

from common.county import current_schema

log = logging.getLogger(__name__)

Sweeper = Callable[[datetime], int]

SWEEPERS: dict[str, Sweeper] = {}

# The modules that define sweepers (with @sweeper), imported when Django starts
# (followup.apps): a worker process imports nothing else of followup, and a
# sweeper whose module was never imported silently never runs. Add yours here.
SWEEPER_MODULES: tuple[str, ...] = (
    "followup.periods", "followup.ledger_sweeps", "followup.rankings_sweeps", "followup.adjustments_sweeps",
)

# Event types whose commit makes the county's sweep run at once (see followup.jobs).
TRIGGERS: set[str] = {
    "ResultsAnnounced",  # flagged subjects' interviews open, the notice is drafted
    "MeetingClosed",
}

# The namespace of command ids derived from facts (uuid5): stable across
# processes and releases, so a fact swept twice yields the same id.
FACT_NAMESPACE = uuid.UUID("6f6b5b3e-2f53-5b7e-9a57-0c9f3c1f0d14")


def fact_command_id(*parts: object) -> uuid.UUID:
    """The command id of a fact that time made due: the same parts, the same id (uuid5)."""
    return uuid.uuid5(FACT_NAMESPACE, "\x1f".join(str(part) for part in parts))


def sweeper(name: str) -> Callable[[Sweeper], Sweeper]:
    """Register a sweeper under a stable name (the name appears in job logs)."""

    def register(fn: Sweeper) -> Sweeper:
        if name in SWEEPERS and SWEEPERS[name] is not fn:
            raise ValueError(f"sweeper {name!r} registered twice")
        SWEEPERS[name] = fn
        return fn

    return register


@dataclass
class Sweep:
    """What one county's sweep did: commands run per sweeper, and the sweepers that failed."""

    ran: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)


def sweep(now: datetime) -> Sweep:
    """Run every sweeper in the current county's schema, each isolated from the others' failures."""
    result = Sweep()
    for name, fn in sorted(SWEEPERS.items()):
        try:
            if connection.in_atomic_block:
                # Inside a caller's transaction a failed statement would poison
                # it for the sweepers after this one: give each a savepoint.
                with transaction.atomic():
                    result.ran[name] = fn(now)
            else:
                result.ran[name] = fn(now)
        except Exception:
            log.exception("sweeper %s failed in county %s", name, current_schema())
            result.failed.append(name)
    return result


def run_sweepers(now: datetime) -> dict[str, int]:
    """Run every sweeper in the current county's schema; how many commands each ran.

    A sweeper that failed is logged (with the county) and left out of the answer.
    """
    return sweep(now).ran
