"""The job queue moves time: sweeps run through procrastinate in real PostgreSQL.

Counties are committed (make_county) and so is everything here: the worker's
tasks run on threads (or in a process) of their own, which see only what
was committed. Time is advanced through the queue (`shuping jobs tick --now`)
with deadlines far in the future, so that the real clock's sweeps (the
every-minute job, which any worker started here may also run) find nothing due.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_tenants.utils import schema_context
from procrastinate.contrib.django import app
from procrastinate.contrib.django.models import ProcrastinateJob

from common.county import current_schema
from followup import jobs, sweeps
from shuping import cli
from tests.integration.followup import deadline_sweeper
from tests.integration.followup.deadline_sweeper import passed, set_deadline
from tests.time_travel import jobs_tick

FAR = datetime.fromisoformat("2100-01-01T09:00:00+08:00")
WITH_DEADLINE = ("-m", "tests.integration.followup.cli_with_deadline")  # `shuping` with the test's sweeper
CEILING = 60.0  # seconds: only a hung worker makes a test wait this long


@pytest.fixture
def db(django_db_blocker: object) -> Iterator[None]:
    """Database access that commits (no test transaction): the worker must see what the test wrote."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        yield


@pytest.fixture
def deadline_sweeper_registered(db: None) -> Iterator[None]:
    deadline_sweeper.register()
    try:
        yield
    finally:
        deadline_sweeper.unregister()


@pytest.fixture
def extra_sweeper() -> Iterator[Callable[[str, sweeps.Sweeper], None]]:
    added: list[str] = []

    def add(name: str, fn: sweeps.Sweeper) -> None:
        sweeps.sweeper(name)(fn)
        added.append(name)

    yield add
    for name in added:
        sweeps.SWEEPERS.pop(name, None)


def tick(*args: str) -> int:
    return cli.main(["jobs", "tick", *args, "--wait"])


def passed_in(schema: str) -> list[str]:
    with schema_context(schema):
        return passed()


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + CEILING
    while not condition():
        assert time.monotonic() < deadline, f"not within {CEILING} s: {what}"
        time.sleep(0.1)


def test_jobs_tick_twice_records_a_passed_deadline_once(make_county, deadline_sweeper_registered) -> None:
    county = make_county("jt").schema_name
    with schema_context(county):
        set_deadline(FAR)

    assert tick("--county", county, "--now", (FAR - timedelta(minutes=1)).isoformat()) == 0
    assert passed_in(county) == []  # not due yet

    assert tick("--county", county, "--now", (FAR + timedelta(minutes=1)).isoformat()) == 0
    assert passed_in(county) == [FAR.isoformat()]
    # Again, later, from a process of its own (as a browser test ticks): still once.
    output = jobs_tick(FAR + timedelta(hours=1), county=county, program=WITH_DEADLINE)
    assert "done: 1 succeeded, 0 not" in output
    assert passed_in(county) == [FAR.isoformat()]


def test_jobs_tick_refuses_a_bad_time_and_an_unknown_county(db: None, capsys) -> None:
    assert cli.main(["jobs", "tick", "--now", "next tuesday"]) == 2
    assert "invalid_now" in capsys.readouterr().err
    assert cli.main(["jobs", "tick", "--county", "no_such_county"]) == 2
    assert "unknown_county" in capsys.readouterr().err


def test_a_deadline_that_passed_while_no_worker_ran_is_recorded_once_when_one_starts(make_county, db: None) -> None:
    county = make_county("jr").schema_name
    deadline = timezone.now() + timedelta(seconds=1)
    with schema_context(county):
        set_deadline(deadline)
    # No worker runs (none in this process, none started yet): the deadline passes unrecorded.
    time.sleep(max(0.0, (deadline - timezone.now()).total_seconds()) + 0.1)
    assert passed_in(county) == []

    worker = subprocess.Popen(
        [sys.executable, *WITH_DEADLINE, "worker"],
        env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        until(lambda: passed_in(county) != [], "the started worker records the deadline")
        # The worker keeps sweeping (on demand here; every minute besides): still once.
        job_ids = jobs.defer_sweeps(schemas=[county], now=None) + jobs.defer_sweeps(schemas=[county], now=None)
        until(lambda: set(jobs.job_states(job_ids).values()) == {"succeeded"}, "the worker runs two more sweeps")
        assert passed_in(county) == [deadline.isoformat()]
    finally:
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=CEILING)
    assert worker.returncode == 0, output
    assert "job queue worker running" in output and "job queue worker stopped" in output


def test_the_every_minute_job_is_registered_and_sweeps_every_county(make_county, db: None, extra_sweeper) -> None:
    periodic = app.periodic_registry.periodic_tasks[(jobs.SWEEP_ALL, "every-minute")]
    assert periodic.cron == "* * * * *"
    county, _other = make_county("jp").schema_name, make_county("jq")
    # One queue for every county: its tables are in the public schema only.
    with connection.cursor() as cursor:
        cursor.execute("SELECT table_schema FROM information_schema.tables WHERE table_name = 'procrastinate_jobs'")
        assert cursor.fetchall() == [("public",)]
    assert county in jobs.county_schemas()
    visited: list[str] = []
    lock = threading.Lock()

    def visit(now: datetime) -> int:
        with lock:
            visited.append(current_schema())
        return 0

    extra_sweeper("visit", visit)
    jobs.defer_startup_sweep()  # the clock's job for now (or the one already waiting)
    jobs.run_worker(queues=[jobs.CLOCK_QUEUE], wait=False, install_signal_handlers=False, listen_notify=False)
    counties = jobs.county_schemas()
    assert len(counties) >= 2 and sorted(visited) == counties  # each county once, no other schema


def test_a_failing_sweeper_in_one_county_does_not_stop_the_others(
    make_county, deadline_sweeper_registered, extra_sweeper
) -> None:
    bad, good = make_county("jf").schema_name, make_county("jg").schema_name
    for county in (bad, good):
        with schema_context(county):
            set_deadline(FAR)

    def fails_in_bad(now: datetime) -> int:
        if current_schema() == bad:
            raise RuntimeError("a sweeper's bug")
        return 0

    extra_sweeper("a_fails_in_one_county", fails_in_bad)  # runs before test_deadline (by name)
    # On the logger itself: `shuping jobs tick` sets Django up, whose logging
    # configuration replaces the root's handlers (and so pytest's caplog).
    failures: list[str] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = lambda record: failures.append(record.getMessage())  # type: ignore[method-assign]
    logging.getLogger("followup.sweeps").addHandler(handler)
    try:
        assert tick("--now", (FAR + timedelta(minutes=1)).isoformat()) == 0
    finally:
        logging.getLogger("followup.sweeps").removeHandler(handler)
    assert passed_in(bad) == [FAR.isoformat()]  # the county's next sweeper still ran
    assert passed_in(good) == [FAR.isoformat()]  # and the next county
    assert failures == [f"sweeper a_fails_in_one_county failed in county {bad}"]


def waiting_sweeps(county: str) -> int:
    return ProcrastinateJob.objects.filter(task_name=jobs.SWEEP_COUNTY, args__schema=county, status="todo").count()


def test_a_trigger_event_defers_a_sweep_of_its_county_after_commit(
    make_county, deadline_sweeper_registered, monkeypatch
) -> None:
    assert "ResultsAnnounced" in sweeps.TRIGGERS
    monkeypatch.setattr(sweeps, "TRIGGERS", sweeps.TRIGGERS | {"TestDeadlineSet"})
    county = make_county("jx").schema_name
    with schema_context(county):
        # Rolled back: no sweep.
        with pytest.raises(RuntimeError), transaction.atomic():
            set_deadline(FAR)
            raise RuntimeError("rolled back")
        assert waiting_sweeps(county) == 0
        # Committed, already due: one sweep waits, and a second trigger adds none while it waits.
        deadline = timezone.now() - timedelta(seconds=1)
        with transaction.atomic():
            set_deadline(deadline)
            assert waiting_sweeps(county) == 0  # not before the commit
        assert waiting_sweeps(county) == 1
        set_deadline(deadline)
        assert waiting_sweeps(county) == 1
        assert passed() == []
    jobs.run_worker(queues=[jobs.SWEEP_QUEUE], wait=False, install_signal_handlers=False, listen_notify=False)
    assert waiting_sweeps(county) == 0
    assert passed_in(county) == [deadline.isoformat()]
