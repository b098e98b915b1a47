"""The job queue that moves time: sweeps of every county, in PostgreSQL (procrastinate).

Jobs live in the public schema (procrastinate's tables, a shared app), so one
worker serves every county and a job deferred while no worker runs waits in
the database until one starts: a deadline that passed while the platform was
down is recorded when it comes back (the worker also sweeps every county as
soon as it starts, `defer_startup_sweep`).

Three ways a county gets swept, all through the queue:

- every minute, `sweep_all_counties` (a periodic task on the CLOCK_QUEUE) enters
  each county's schema in turn and runs its sweepers with the time it runs at;
- on demand, `sweep_county(schema, now)` on the SWEEP_QUEUE: `shuping jobs tick
  [--now ISO]` defers one per county with the `now` to use, which is how tests
  advance time without sleeping;
- at once after the commit of an event whose type is in followup.sweeps.TRIGGERS
  (`defer_after_commit`, subscribed to the event store by followup.apps).

A sweeper that fails is logged with its county and name (followup.sweeps.sweep);
the other sweepers and counties go on. A sweep is idempotent (see followup.sweeps),
so the same `now` twice, or two workers at once, record each fact once.

Housekeeping, no event: once a day (`DAILY_AT`, 03:17 in China),
`clear_expired_logins` deletes the sessions and API tokens that have ended,
in the public schema and in every county's (accounts.expiry). A worker that
starts within a day of a due time that passed while none ran defers it then
(PROCRASTINATE_PERIODIC_DEFAULTS in the settings).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone
from django_tenants.utils import schema_context
from procrastinate import exceptions as procrastinate_errors
from procrastinate.contrib.django import app

from accounts import expiry
from events.records import Committed
from followup import sweeps

log = logging.getLogger(__name__)

SWEEP_QUEUE = "sweeps"
CLOCK_QUEUE = "clock"
EVERY_MINUTE = "* * * * *"
DAILY_AT = "17 19 * * *"  # UTC (procrastinate's cron): 03:17 in China, when no hall meets
SWEEP_COUNTY = "followup.sweep_county"
SWEEP_ALL = "followup.sweep_all_counties"
CLEAR_LOGINS = "followup.clear_expired_logins"


def county_schemas() -> list[str]:
    """The schemas of every county (the public schema and the template are none)."""
    from tenants.models import County

    with schema_context(settings.PUBLIC_SCHEMA_NAME):
        return list(
            County.objects.exclude(schema_name=settings.PUBLIC_SCHEMA_NAME)
            .order_by("schema_name")
            .values_list("schema_name", flat=True)
        )


def parse_now(value: str | None) -> datetime:
    """A job's `now`: an ISO 8601 time with a zone (naive ones are read as UTC), or the clock's."""
    if not value:
        return timezone.now()
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def sweep_schema(schema: str, now: datetime) -> sweeps.Sweep:
    """Run every sweeper in one county's schema; a county that cannot be entered is logged, not raised."""
    try:
        with schema_context(schema):
            return sweeps.sweep(now)
    except Exception:
        log.exception("sweeping county %s failed", schema)
        return sweeps.Sweep(failed=["*"])


@app.task(name=SWEEP_COUNTY, queue=SWEEP_QUEUE)
def sweep_county(schema: str, now: str | None = None) -> dict[str, Any]:
    """Sweep one county at `now` (ISO 8601; None: when the job runs)."""
    close_old_connections()
    try:
        done = sweep_schema(schema, parse_now(now))
        return {"ran": done.ran, "failed": done.failed}
    finally:
        close_old_connections()


@app.periodic(cron=EVERY_MINUTE, periodic_id="every-minute")
@app.task(name=SWEEP_ALL, queue=CLOCK_QUEUE, queueing_lock=SWEEP_ALL)
def sweep_all_counties(timestamp: int) -> dict[str, Any]:
    """Sweep every county with the time the job runs at (`timestamp`: when it was due, for the log).

    A job that waited (no worker was running) sweeps with the time it runs,
    not the time it was due: what passed meanwhile is due now.
    """
    close_old_connections()
    now = timezone.now()
    started = time.monotonic()
    failed: dict[str, list[str]] = {}
    schemas = county_schemas()
    try:
        for schema in schemas:
            done = sweep_schema(schema, now)
            if done.failed:
                failed[schema] = done.failed
    finally:
        # Each schema a connection touches leaves ~70 kB of catalog cache in
        # its PostgreSQL backend (architecture.md): a sweep of thousands of
        # counties would keep hundreds of MB. A fresh connection a minute is cheap.
        connection.close()
    took = time.monotonic() - started
    log.info("swept %d counties in %.2f s (due %s)", len(schemas), took, timestamp)
    return {"counties": len(schemas), "seconds": round(took, 3), "failed": failed}


@app.periodic(cron=DAILY_AT, periodic_id="daily")
@app.task(name=CLEAR_LOGINS, queue=CLOCK_QUEUE, queueing_lock=CLEAR_LOGINS)
def clear_expired_logins(timestamp: int) -> dict[str, Any]:
    """Delete ended sessions and API tokens in the public schema and every county's; the counts.

    A schema that fails is logged and the others go on; the next day's run
    deletes what it left.
    """
    close_old_connections()
    now = timezone.now()
    sessions = api_tokens = 0
    failed: list[str] = []
    try:
        for schema in [settings.PUBLIC_SCHEMA_NAME, *county_schemas()]:
            try:
                with schema_context(schema):
                    cleared = expiry.clear_expired(now)
            except Exception:
                log.exception("clearing ended logins in schema %s failed", schema)
                failed.append(schema)
                connection.close_if_unusable_or_obsolete()  # a broken connection must not fail the rest
                continue
            sessions += cleared.sessions
            api_tokens += cleared.api_tokens
    finally:
        connection.close()  # as the sweep: a schema touched leaves its catalog cache in the backend
    log.info("cleared %d sessions and %d API tokens that had ended (due %s)", sessions, api_tokens, timestamp)
    return {"sessions": sessions, "api_tokens": api_tokens, "failed": failed}


def defer_sweeps(*, schemas: list[str], now: datetime | None) -> list[int]:
    """Defer a sweep of each county at `now` (None: when each job runs); the job ids."""
    at = now.isoformat() if now is not None else None
    return [sweep_county.defer(schema=schema, now=at) for schema in schemas]


def defer_startup_sweep() -> None:
    """Sweep every county now (a worker that starts catches up with what passed while none ran)."""
    try:
        # The periodic decorator types the task as deferred without its timestamp (the deferrer adds it).
        sweep_all_counties.defer(timestamp=int(time.time()))  # type: ignore[call-arg]
    except procrastinate_errors.AlreadyEnqueued:
        pass  # one is waiting already: it will run with the time it runs at


def defer_after_commit(committed: Committed) -> None:
    """The store's after-commit hook: a TRIGGERS event gets its county swept at once.

    One waiting sweep per county is enough (its queueing lock): it has not
    started, so it will see this commit. A failure to defer is logged, never
    raised: the append has committed, and the every-minute sweep comes anyway.
    """
    if sweeps.TRIGGERS.isdisjoint(committed.types):
        return
    try:
        sweep_county.configure(queueing_lock=f"sweep:{committed.county}").defer(schema=committed.county, now=None)
    except procrastinate_errors.AlreadyEnqueued:
        pass
    except Exception:
        log.exception("deferring the sweep of county %s failed", committed.county)


def run_worker(*, queues: list[str] | None = None, wait: bool = True, **options: Any) -> None:
    """Run a worker in this thread until stopped (SIGINT, SIGTERM) or, with wait=False, until the queues are empty.

    The worker talks to PostgreSQL through a pool of its own (procrastinate's
    psycopg connector); the tasks use Django's connections, one per worker thread.
    """
    with app.replace_connector(app.connector.get_worker_connector()):  # type: ignore[attr-defined]
        app.run_worker(queues=queues, wait=wait, **options)


def job_states(job_ids: list[int]) -> dict[int, str]:
    """The status of each job ("succeeded" for one the worker deleted: only successful jobs are deleted)."""
    states = {}
    for job_id in job_ids:
        found = app.job_manager.list_jobs(id=job_id)
        states[job_id] = str(found[0].status) if found else "succeeded"
    return states
