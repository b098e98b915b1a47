"""Ended logins leave no rows: the daily job deletes expired sessions and API tokens in every schema.

The job runs through the real queue (procrastinate in PostgreSQL), so what
the test writes is committed (make_county, no test transaction). Live
sessions and tokens beside the ended ones must keep working.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.utils import timezone
from django_tenants.utils import schema_context
from procrastinate.contrib.django import app

from accounts import expiry
from accounts.api_tokens import find_token, issue_token, token_digest, token_lifetime
from accounts.models import ApiToken, User
from accounts.session_store import SessionStore, stored_key
from followup import jobs


@pytest.fixture
def db(django_db_blocker: object) -> Iterator[None]:
    """Database access that commits: the worker sees only what was committed."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        yield


def _session(*, ended: bool) -> str:
    """A session in the current schema with something in it; its cookie key. Ended: its end is an hour ago."""
    store = SessionStore()
    store["seen"] = "yes"
    store.create()
    assert store.session_key is not None
    if ended:
        Session.objects.filter(session_key=stored_key(store.session_key)).update(
            expire_date=timezone.now() - timedelta(hours=1)
        )
    return store.session_key


def _session_rows(*keys: str) -> set[str]:
    return set(Session.objects.filter(session_key__in=[stored_key(key) for key in keys]).values_list("pk", flat=True))


def _run_daily_job() -> None:
    jobs.clear_expired_logins.defer(timestamp=0)  # type: ignore[call-arg]
    jobs.run_worker(queues=[jobs.CLOCK_QUEUE], wait=False, install_signal_handlers=False, listen_notify=False)


def test_the_daily_job_is_registered_at_night_in_china() -> None:
    periodic = app.periodic_registry.periodic_tasks[(jobs.CLEAR_LOGINS, "daily")]
    assert periodic.cron == jobs.DAILY_AT == "17 19 * * *"  # 19:17 UTC is 03:17 at UTC+8


def test_ended_sessions_and_tokens_go_in_every_county_and_the_public_schema_and_live_ones_stay(
    make_county, db: None
) -> None:
    first, second = make_county("lx").schema_name, make_county("ly").schema_name
    kept: dict[str, str] = {}
    ended: dict[str, str] = {}
    with schema_context(first):
        official = User.objects.create_user(username="lx_official", password="Lanterns-over-the-river-7")
        old, live = issue_token(official), issue_token(official)
        ApiToken.objects.filter(digest=token_digest(old.key)).update(
            created=timezone.now() - token_lifetime() - timedelta(seconds=1)
        )
        kept[first], ended[first] = _session(ended=False), _session(ended=True)
    with schema_context(second):
        kept[second], ended[second] = _session(ended=False), _session(ended=True)
    public = settings.PUBLIC_SCHEMA_NAME
    with schema_context(public):
        kept[public], ended[public] = _session(ended=False), _session(ended=True)
    try:
        _run_daily_job()
        for schema in (first, second, public):
            with schema_context(schema):
                assert _session_rows(ended[schema]) == set(), schema
                assert _session_rows(kept[schema]) == {stored_key(kept[schema])}, schema
                # The live session still carries what was put in it.
                assert SessionStore(session_key=kept[schema]).load() == {"seen": "yes"}, schema
        with schema_context(first):
            assert not ApiToken.objects.filter(digest=token_digest(old.key)).exists()
            found = find_token(live.key)
            assert found is not None and found.user_id == official.pk
    finally:
        with schema_context(public):
            Session.objects.filter(session_key__in=[stored_key(kept[public]), stored_key(ended[public])]).delete()


def _counting(monkeypatch: pytest.MonkeyPatch, *, failing: str | None = None) -> dict[str, list[expiry.Cleared]]:
    """Record what each schema's clearing deleted, run after run; `failing`: that schema's breaks its connection."""
    seen: dict[str, list[expiry.Cleared]] = {}
    clear = expiry.clear_expired

    def counted(now):  # type: ignore[no-untyped-def]
        if connection.schema_name == failing:
            with connection.cursor() as cursor:  # the backend goes away mid-clearing, as in a restart
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        cleared = clear(now)
        seen.setdefault(connection.schema_name, []).append(cleared)
        return cleared

    monkeypatch.setattr(expiry, "clear_expired", counted)
    return seen


def test_a_second_run_finds_nothing_more_to_delete(make_county, db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    county = make_county("lz").schema_name
    with schema_context(county):
        key = _session(ended=True)
        later = _session(ended=False)
    seen = _counting(monkeypatch)
    first = jobs.clear_expired_logins(timestamp=0)
    assert county not in first["failed"]
    again = jobs.clear_expired_logins(timestamp=0)
    assert county not in again["failed"]
    assert seen[county] == [expiry.Cleared(sessions=1, api_tokens=0), expiry.Cleared(sessions=0, api_tokens=0)]
    with schema_context(county):
        assert _session_rows(key) == set()
        assert _session_rows(later) == {stored_key(later)}


def test_a_schema_that_fails_is_logged_and_the_others_are_cleared(
    make_county, db: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The broken schema's connection dies: the job drops it, and the next schema gets a new one."""
    broken, sound = make_county("lb").schema_name, make_county("ls").schema_name
    assert broken < sound  # cleared in this order: the sound one comes after the failure
    keys = {}
    for schema in (broken, sound):
        with schema_context(schema):
            keys[schema] = _session(ended=True)
    seen = _counting(monkeypatch, failing=broken)
    with caplog.at_level(logging.ERROR, logger="followup.jobs"):
        done = jobs.clear_expired_logins(timestamp=0)
    assert broken in done["failed"] and sound not in done["failed"]
    assert any(broken in record.getMessage() for record in caplog.records)
    assert seen[sound] == [expiry.Cleared(sessions=1, api_tokens=0)]
    with schema_context(sound):
        assert _session_rows(keys[sound]) == set()
    with schema_context(broken):
        assert _session_rows(keys[broken]) == {stored_key(keys[broken])}  # left for the next day's run


def test_a_daily_run_missed_while_no_worker_ran_is_deferred_when_one_starts() -> None:
    """A worker started at 23:00 UTC still defers the 19:17 run (procrastinate skips >10 minutes late by default)."""
    from procrastinate import periodic

    deferrer = periodic.PeriodicDeferrer(registry=app.periodic_registry, **app.periodic_defaults)
    started = datetime(2026, 12, 5, 23, 0, tzinfo=UTC).timestamp()
    due = {(task.task.name, at) for task, at in deferrer.get_previous_tasks(at=started)}
    assert (jobs.CLEAR_LOGINS, int(datetime(2026, 12, 5, 19, 17, tzinfo=UTC).timestamp())) in due
    # Once deferred, the same due time is not deferred again by this worker.
    assert jobs.CLEAR_LOGINS not in {task.task.name for task, _ in deferrer.get_previous_tasks(at=started + 60)}
