"""Bring every county's schema to the template's: one transaction per county, in parallel, resumable.

`migrate_all` is what `shuping migrate` runs: the public schema and the
county template first (tenants.provisioning.migrate_platform), then every
county behind the template. Which counties are behind is answered by one
query whatever their number: each county's row records the schema state
(County.schema_state, a digest of the template's migrations and grants) it
was last brought to, and only rows whose state differs are visited.

Each county is migrated in one transaction of its own: Django's migrate
(every migration of it in a savepoint), the projections the migrations
marked stale rebuilt (`after_migrate`), the application role's grants, and
the new state on the county's row, all committed together. A county whose
migration fails is rolled back whole: it stays at its old version, usable by
the code of that version, and its row still says it is behind, so the next
`shuping migrate` takes up exactly the counties that are not done. PostgreSQL
runs DDL inside a transaction, which is what makes this possible; a
migration that cannot run in a transaction (CREATE INDEX CONCURRENTLY) does
not belong in a county schema (see docs/migrations.md).

With jobs > 1 the counties are shared out among that many worker processes,
each with its own database connection (processes, not threads: Django's
migrate spends much of its time in Python, and the worker processes also
keep the parent free to report progress). Ctrl-C stops the workers at once:
a county in hand is rolled back by PostgreSQL when its connection goes.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from io import StringIO
from typing import Any

from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django_tenants.utils import get_tenant_base_migrate_command_class, schema_context

from common.county import use_public_schema
from events.grants import app_role, grant_app_role
from tenants import migrate_worker, template_ddl
from tenants.migrate_shared import CountyMigrator
from tenants.models import County
from tenants.provisioning import (
    PUBLIC,
    Progress,
    applied_migrations,
    counties_behind,
    migrate_platform,
    schema_state,
    template_schema,
)

MIGRATED, SKIPPED, FAILED = "migrated", "up to date", "failed"


@dataclass(frozen=True)
class CountyOutcome:
    """What became of one county: migrated, already up to date by its schema, or failed (and rolled back)."""

    schema: str
    status: str
    migration: str = ""  # the migration that was being applied when it failed ("app.name")
    error: str = ""
    seconds: float = 0.0


@dataclass
class MigrateReport:
    """The counties of one `migrate_all`: counts, and every failure with its migration and error."""

    migrated: int = 0
    skipped: int = 0
    current: int = 0
    failures: list[CountyOutcome] = field(default_factory=list)
    interrupted: bool = False
    not_reached: int = 0  # counties left behind by an interruption (a rerun takes them up)
    first_error: BaseException | None = field(default=None, repr=False, compare=False)

    def counts(self) -> dict[str, int]:
        return {"migrated": self.migrated, "skipped": self.skipped, "current": self.current, "failed": len(self.failures)}

    def add(self, outcome: CountyOutcome) -> None:
        if outcome.status == MIGRATED:
            self.migrated += 1
        elif outcome.status == SKIPPED:
            self.skipped += 1
        else:
            self.failures.append(outcome)


class CountyMigrationFailed(Exception):
    """A county could not be migrated (raised by migrate_all(raise_errors=True) with the original error as cause)."""


def _migrate_command() -> Any:
    """Django's migrate command (or django-tenants' configured base), remembering the migration it applies."""
    base = get_tenant_base_migrate_command_class()

    class Recording(base):  # type: ignore[misc, valid-type]
        current = ""

        def migration_progress_callback(self, action: str, migration: Any = None, fake: bool = False) -> None:
            if action == "apply_start":
                self.current = str(migration)
            super().migration_progress_callback(action, migration, fake)

    return Recording(stdout=StringIO(), stderr=StringIO())


def shared_by_default() -> bool:
    """Whether counties go through the kept migrate machinery (SHUPING_MIGRATE_SHARED, on unless "0")."""
    return os.environ.get("SHUPING_MIGRATE_SHARED", "1") != "0"


_migrator: CountyMigrator | None = None


def county_migrator() -> CountyMigrator:
    """This process's CountyMigrator (each `--jobs` worker process has its own)."""
    global _migrator
    if _migrator is None:
        _migrator = CountyMigrator()
    return _migrator


def migrate_county(
    schema: str,
    *,
    wanted: frozenset[tuple[str, str]],
    state: str,
    role: str | None,
    after_migrate: Callable[[], object] | None = None,
    verbosity: int = 0,
    errors: list[BaseException] | None = None,
    shared: bool = True,
) -> CountyOutcome:
    """Migrate one county in one transaction and record `state` on its row; on failure roll back and say why.

    `errors`, when given, receives the exception of a failure (for callers
    that re-raise it); the outcome carries its text either way. With
    `shared` the migrate machinery kept in this process does the work
    (tenants.migrate_shared); without, Django's migrate command runs afresh.
    """
    started = time.monotonic()
    command = _migrate_command()
    status = SKIPPED
    try:
        # Switched before the transaction: a connection that has served many
        # counties is recycled on a switch outside one (postgresql_backend).
        connection.set_schema(schema, include_public=False)  # type: ignore[attr-defined]
        with transaction.atomic():
            # The recorder's table must be the county's own, never public's.
            MigrationRecorder(connection).ensure_schema()
            connection.set_schema(schema)  # type: ignore[attr-defined]
            applied = frozenset(applied_migrations(schema))
            if not wanted <= applied:
                if shared:
                    command.verbosity = verbosity  # read by its progress callback (set by handle() otherwise)
                    county_migrator().migrate(
                        connection, applied=applied, progress_callback=command.migration_progress_callback,
                        verbosity=verbosity,
                    )
                else:
                    call_command(command, database=DEFAULT_DB_ALIAS, interactive=False, verbosity=verbosity)
                command.current = ""  # a failure from here on is not a migration's
                if after_migrate is not None:
                    after_migrate()
                status = MIGRATED
            if role:
                grant_app_role(schema, role)
            use_public_schema()
            County.objects.filter(schema_name=schema).update(schema_state=state)
    except Exception as exc:  # noqa: BLE001 - every failure is reported per county, not raised
        if errors is not None:
            errors.append(exc)
        return CountyOutcome(schema, FAILED, command.current, _one_line(exc), time.monotonic() - started)
    finally:
        use_public_schema()
    return CountyOutcome(schema, status, seconds=time.monotonic() - started)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def migrate_all(
    *,
    progress: Progress | None = None,
    verbosity: int = 0,
    after_migrate: Callable[[], object] | None = None,
    only: Iterable[str] | None = None,
    jobs: int = 1,
    raise_errors: bool = True,
    shared: bool | None = None,
) -> dict[str, int]:
    """Bring public, the template and the counties (those in `only`, else all) up to date; return counts.

    Counts are of counties "migrated", "skipped" (behind by their record but
    not by their schema: only re-granted and stamped), "current" (at the
    template's state: not visited at all) and "failed". With raise_errors
    the first failure is raised once every county was tried: the original
    error when the county was migrated in this process, else
    CountyMigrationFailed; see migrate_counties for the report.
    """
    report = migrate_counties(
        progress=progress, verbosity=verbosity, after_migrate=after_migrate, only=only, jobs=jobs, shared=shared,
    )
    if report.interrupted:
        raise KeyboardInterrupt
    if raise_errors and report.failures:
        if report.first_error is not None:
            raise report.first_error
        first = report.failures[0]
        raise CountyMigrationFailed(f"{first.schema}: {first.migration} {first.error}")
    return report.counts()


def migrate_counties(
    *,
    progress: Progress | None = None,
    verbosity: int = 0,
    after_migrate: Callable[[], object] | None = None,
    only: Iterable[str] | None = None,
    jobs: int = 1,
    shared: bool | None = None,
) -> MigrateReport:
    """Migrate public and the template, then every county behind, `jobs` at a time; report per county.

    `after_migrate()` runs inside each migrated county's transaction (and in
    the template after its migrations): the CLI rebuilds the projections the
    migrations marked stale. A KeyboardInterrupt stops at once; the report
    then says interrupted, and the counties not done are still behind.
    """
    say = progress or (lambda *_: None)
    ran = migrate_platform(progress=say, verbosity=verbosity)
    if ran and after_migrate is not None:
        with schema_context(template_schema()):
            after_migrate()
    wanted = frozenset(applied_migrations(template_schema()))
    state = schema_state(set(wanted))
    if ran:
        template_ddl.forget_all_but(state)
    behind = counties_behind(state)
    report = MigrateReport(current=County.objects.exclude(schema_name=PUBLIC).count() - len(behind))
    if only is not None:
        chosen = set(only)
        behind = [schema for schema in behind if schema in chosen]
    task = _Task(
        wanted=wanted, state=state, role=app_role(), after_migrate=after_migrate, verbosity=verbosity,
        shared=shared_by_default() if shared is None else shared,
    )
    outcomes = _in_process(task, behind) if jobs <= 1 or len(behind) <= 1 else _in_workers(task, behind, jobs)
    done = 0
    try:
        for outcome in outcomes:
            done += 1
            report.add(outcome)
            say(done, len(behind), outcome.schema, outcome.status)
    except KeyboardInterrupt:
        report.interrupted = True
        report.not_reached = len(behind) - done
    finally:
        outcomes.close()  # ends the workers at once if the loop was left early
    report.first_error = task.errors[0] if task.errors else None
    return report


@dataclass
class _Task:
    wanted: frozenset[tuple[str, str]]
    state: str
    role: str | None
    after_migrate: Callable[[], object] | None
    verbosity: int
    shared: bool = True
    errors: list[BaseException] = field(default_factory=list)

    def __call__(self, schema: str) -> CountyOutcome:
        return migrate_county(
            schema, wanted=self.wanted, state=self.state, role=self.role, after_migrate=self.after_migrate,
            verbosity=self.verbosity, errors=self.errors, shared=self.shared,
        )


def _in_process(task: _Task, schemas: list[str]) -> Generator[CountyOutcome, None, None]:
    for schema in schemas:
        yield task(schema)


def _in_workers(task: _Task, schemas: list[str], jobs: int) -> Generator[CountyOutcome, None, None]:
    """Each county in one of `jobs` worker processes (each sets Django up and keeps its own connection)."""
    task.errors = []  # exceptions stay in the worker; outcomes carry their text
    # spawn, not fork: a forked child would share the parent's open database
    # connection (and its SSL state) with the parent.
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(processes=min(jobs, len(schemas)), initializer=migrate_worker.worker_started)
    try:
        yield from pool.imap_unordered(task, schemas, chunksize=1)
        pool.close()
    except BaseException:
        # Ctrl-C (or anything else): end the workers now. A county in hand
        # loses its connection mid-transaction and PostgreSQL rolls it back.
        pool.terminate()
        raise
    finally:
        pool.join()
