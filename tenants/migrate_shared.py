"""Django's migrate for many county schemas in one process, with what every county shares computed once.

`call_command("migrate")` in each county reads the migration files and builds
the graph, checks the history, renders the project state before the plan
(every model class of every app) and again after it, and only then runs the
county's DDL. All of that depends only on the code and on the set of
migrations the county has applied, which is the same for almost every county
of one release (they were cloned from the template and migrated together).

CountyMigrator keeps, per applied set, the loader (graph read from disk with
that set), the plan and the rendered state before the plan, and the rendered
state after it once a first county has produced it. Per county it still does
what is the county's own: its django_migrations rows (the caller reads them
and picks the prepared set by them), the pre_migrate and post_migrate signals
(content types and permissions live in each county's schema), the DDL of the
plan on a clone of the kept state, and the migration rows. A county with
another applied set gets its own preparation the first time that set is seen,
which is the work the old path did for every county.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module
from io import StringIO
from typing import Any

from django.apps import apps as global_apps
from django.core.management.base import CommandError
from django.core.management.sql import emit_post_migrate_signal, emit_pre_migrate_signal
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.db.migrations.state import ModelState, ProjectState
from django.utils.module_loading import module_has_submodule

Key = tuple[str, str]


class _SharedExecutor(MigrationExecutor):
    """Django's executor on a loader built before (MigrationExecutor.__init__ would read the files again)."""

    def __init__(self, connection: Any, loader: MigrationLoader, progress_callback: Callable[..., None] | None) -> None:
        self.connection = connection
        self.loader = loader
        self.recorder = MigrationRecorder(connection)
        self.progress_callback = progress_callback


@dataclass
class _Prepared:
    loader: MigrationLoader
    targets: list[Key]
    plan: list[tuple[Any, bool]]
    operations: dict[Key, list[Any]]  # each planned migration's operations as read from disk
    before: ProjectState  # rendered
    after: Any = None  # the rendered apps after the plan (StateApps), from the first county


class CountyMigrator:
    """Django's migrate (all migrations forwards, not faked) for one schema after another on one connection."""

    def __init__(self, *, keep: int = 4) -> None:
        self.keep = keep
        self._prepared: OrderedDict[frozenset[Key], _Prepared] = OrderedDict()
        self.prepared_sets = 0  # how many applied sets were prepared (the old path's work, once each)
        # As Django's migrate command does: apps register their signal receivers in `management`.
        for app_config in global_apps.get_app_configs():
            if module_has_submodule(app_config.module, "management"):
                import_module(".management", app_config.name)

    def migrate(
        self,
        connection: Any,
        *,
        applied: frozenset[Key],
        progress_callback: Callable[..., None] | None = None,
        verbosity: int = 0,
    ) -> None:
        """Apply the code's migrations the schema on `connection` lacks; `applied` is its django_migrations rows."""
        prepared = self._prepared.get(applied)
        if prepared is None:
            prepared = self._prepare(connection, applied)
        self._prepared.move_to_end(applied)
        # pre_migrate receivers may add operations to the planned migrations
        # (contenttypes inserts RenameContentType after each RenameModel);
        # a fresh loader would start from the files' list for every county.
        for migration, _ in prepared.plan:
            migration.operations = list(prepared.operations[migration.app_label, migration.name])
        out = StringIO()
        emit_pre_migrate_signal(verbosity, False, connection.alias, stdout=out, apps=prepared.before.apps, plan=prepared.plan)
        executor = _SharedExecutor(connection, prepared.loader, progress_callback)
        # The executor mutates the state it is given: a clone per county
        # (ProjectState.clone keeps the rendered apps, the costly part).
        state = executor.migrate(prepared.targets, plan=prepared.plan, state=prepared.before.clone())
        if prepared.after is None:
            prepared.after = _rendered_after(state)
        emit_post_migrate_signal(verbosity, False, connection.alias, stdout=out, apps=prepared.after, plan=prepared.plan)

    def _prepare(self, connection: Any, applied: frozenset[Key]) -> _Prepared:
        """What Django's migrate command computes before its first DDL, for counties with this applied set."""
        loader = MigrationLoader(connection)  # the files, and this schema's rows (they decide squashed nodes)
        if frozenset(loader.applied_migrations) != applied:  # the caller read another schema's rows
            raise RuntimeError("the applied migrations read twice differ")
        loader.check_consistent_history(connection)
        conflicts = loader.detect_conflicts()
        if conflicts:
            names = "; ".join(f"{', '.join(found)} in {app}" for app, found in conflicts.items())
            raise CommandError(f"Conflicting migrations detected; multiple leaf nodes in the migration graph: ({names}).")
        targets = loader.graph.leaf_nodes()
        plan = _SharedExecutor(connection, loader, None).migration_plan(targets)
        operations = {(m.app_label, m.name): list(m.operations) for m, _ in plan}
        before = _SharedExecutor(connection, loader, None)._create_project_state(with_applied_migrations=True)  # type: ignore[attr-defined]
        before.apps  # noqa: B018 - render now, once
        prepared = _Prepared(loader=loader, targets=targets, plan=plan, operations=operations, before=before)
        self._prepared[applied] = prepared
        self.prepared_sets += 1
        while len(self._prepared) > self.keep:
            self._prepared.popitem(last=False)
        return prepared


def _rendered_after(state: ProjectState) -> Any:
    """The apps post_migrate receivers get, made as Django's migrate command makes them."""
    state.clear_delayed_apps_cache()
    after = state.apps
    with after.bulk_update():
        keys = []
        for model_state in after.real_models:
            key = model_state.app_label, model_state.name_lower
            keys.append(key)
            after.unregister_model(*key)
    after.render_multiple([ModelState.from_model(global_apps.get_model(*key)) for key in keys])
    return after
