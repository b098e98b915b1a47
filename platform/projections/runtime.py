"""Projector runtime: inline and catch-up projections, and rebuilds from position 0.

A projection declares the event types it handles and the tables it owns.

- **Inline** projections run inside the append transaction, so what screens
  need at once is exactly as current as the log: a rollback erases both. They
  keep no checkpoint; being in the same transaction as the events *is* their
  position (a shared checkpoint row would also make every appender of a
  county queue on one row lock).
- **Catch-up** projections read the log in commit-safe order
  (`events.reading.read_all`) and save their (transaction_id, position)
  checkpoint in the same transaction as their rows.

Any projection can be rebuilt: its tables are emptied and every event is
replayed; the rebuild reports each row that differs from the live state.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction

from common.county import current_schema
from events.reading import count_events, hold_log_still, read_all
from events.records import AppendResult, Checkpoint, RecordedEvent, checkpoint_of

Cursor = Any


class Projection:
    """Base class. Subclasses set name, handles, tables, inline, and implement apply()."""

    name: str = ""
    handles: frozenset[str] = frozenset()
    tables: tuple[str, ...] = ()
    inline: bool = False

    def apply(self, cursor: Cursor, event: RecordedEvent) -> None:
        raise NotImplementedError

    def apply_many(self, cursor: Cursor, events: Sequence[RecordedEvent]) -> None:
        """Apply events of the log in order (only those it handles): the rows end as one `apply` each would leave them.

        The runtime hands every batch here (an append's events, a page of a
        catch-up or a rebuild). A projection may override it to write fewer
        statements for a batch than one per event.
        """
        handles = self.handles
        for event in events:
            if event.type in handles:
                self.apply(cursor, event)

    def reset(self, cursor: Cursor) -> None:
        for table in self.tables:
            cursor.execute(f"DELETE FROM {table}")

    def dump(self, cursor: Cursor) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, in a stable order, for comparisons."""
        state = {}
        for table in self.tables:
            # Whole rows in order: a first column that repeats (the event that listed
            # several villages) would leave the order of its rows to chance.
            cursor.execute(f"SELECT * FROM {table}")
            state[table] = sorted((tuple(row) for row in cursor.fetchall()), key=repr)
        return state


_registry: dict[str, Projection] = {}


_inline_by_type: dict[str, tuple[Projection, ...]] | None = None  # built on first use after a register()


def register(projection: Projection) -> Projection:
    global _inline_by_type
    if not projection.name or projection.name in _registry:
        raise ValueError(f"projection name missing or taken: {projection.name!r}")
    _registry[projection.name] = projection
    _inline_by_type = None
    return projection


def _inline_handling(types: set[str]) -> list[Projection]:
    """The inline projections that handle any of these event types, in the order they registered.

    A projection's `apply_many` ignores the events it does not handle, so
    leaving out those that handle none of a batch's types changes nothing;
    an append of one ballot then calls one projection, not every inline one,
    and builds no record for the others. The index is built once per process
    (projections register when Django starts).
    """
    global _inline_by_type
    index = _inline_by_type
    if index is None:
        inline = [p for p in _registry.values() if p.inline]
        every = {t for p in inline for t in p.handles}
        index = _inline_by_type = {t: tuple(p for p in inline if t in p.handles) for t in every}
    if len(types) == 1:
        return list(index.get(next(iter(types)), ()))
    wanted = {p.name for t in types for p in index.get(t, ())}
    return [p for p in _registry.values() if p.name in wanted]


def projections() -> dict[str, Projection]:
    return dict(_registry)


def get(name: str) -> Projection:
    try:
        return _registry[name]
    except KeyError:
        raise KeyError(f"未知的读模型 {name} / unknown projection {name}; known: {', '.join(sorted(_registry))}") from None


# -- inline ----------------------------------------------------------------------------


def apply_inline(
    county: str,
    result: AppendResult,
    prepared: Sequence[tuple[str, int, dict[str, Any]]],
    metadata: dict[str, Any],
    recorded_at: datetime,
    cursor: Cursor | None = None,
) -> None:
    """Run the inline projections for a batch just inserted (same transaction).

    The event store calls this inside every append (registered with
    `events.store.set_inline_projector` when Django starts, projections.apps).
    `cursor` is the append's own cursor when given (it runs in the county's
    schema, inside the append transaction); else a Django cursor is opened.
    """
    inline = _inline_handling({p[0] for p in prepared})
    if not inline:
        return
    stream_id, first_version, positions, hashes = result.stream_id, result.first_version, result.positions, result.hashes
    events = [
        # transaction_id: not known without a round trip, and not needed inline; prev_hash: not needed either.
        RecordedEvent.of_row((positions[index], 0, stream_id, first_version + index, type_name, schema_version, data,
                              metadata, recorded_at, "", hashes[index]))
        for index, (type_name, schema_version, data) in enumerate(prepared)
    ]
    if cursor is not None:
        _apply_all(inline, events, cursor)
        return
    with connection.cursor() as django_cursor:
        _apply_all(inline, events, django_cursor)


def _apply_all(inline: Sequence[Projection], events: Sequence[RecordedEvent], cursor: Cursor) -> None:
    for projection in inline:
        projection.apply_many(cursor, events)


# -- catch-up -----------------------------------------------------------------------------


def load_checkpoint(cursor: Cursor, name: str, *, lock: bool = False) -> Checkpoint:
    cursor.execute(
        "INSERT INTO projection_checkpoints (name) VALUES (%s) ON CONFLICT (name) DO NOTHING", [name]
    )
    cursor.execute(
        "SELECT transaction_id::text::bigint, position FROM projection_checkpoints WHERE name = %s"
        + (" FOR UPDATE" if lock else ""),
        [name],
    )
    row = cursor.fetchone()
    return Checkpoint(transaction_id=int(row[0]), position=int(row[1]))


def save_checkpoint(cursor: Cursor, name: str, checkpoint: Checkpoint) -> None:
    cursor.execute(
        "UPDATE projection_checkpoints SET transaction_id = %s::text::xid8, position = %s, updated_at = now()"
        " WHERE name = %s",
        [str(checkpoint.transaction_id), checkpoint.position, name],
    )


def catch_up(projection: Projection, *, batch: int = 1000, max_batches: int | None = None) -> int:
    """Apply what the projection has not seen yet; return how many events were read."""
    seen = 0
    batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic(), connection.cursor() as cursor:
            # The row lock makes two runners of one projection take turns.
            checkpoint = load_checkpoint(cursor, projection.name, lock=True)
            events = read_all(checkpoint, limit=batch, cursor=cursor)
            if not events:
                return seen
            projection.apply_many(cursor, events)
            save_checkpoint(cursor, projection.name, checkpoint_of(events[-1]))
        seen += len(events)
        batches += 1
    return seen


# -- rebuild ---------------------------------------------------------------------------------


@dataclass
class RebuildReport:
    projection: str
    county: str
    events: int
    only_live: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    only_rebuilt: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not self.only_live and not self.only_rebuilt


def rebuild(
    projection: Projection,
    *,
    progress: Callable[[int, int], None] | None = None,
    batch: int = 5000,
) -> RebuildReport:
    """Empty the projection's tables and replay the log; report differences from live.

    Runs in one transaction holding a SHARE lock on the events table: appends
    wait (they do not fail) until the rebuild commits, so the replay sees a
    log that cannot change under it, and the switch from old to new rows is
    atomic for every reader.
    """
    county = current_schema()
    with transaction.atomic(), connection.cursor() as cursor:
        hold_log_still(cursor)
        before = projection.dump(cursor)
        projection.reset(cursor)
        # Inline state covers every committed event: replay all of them.
        # Catch-up state stops at the commit watermark, like catch_up().
        below_watermark = not projection.inline
        if below_watermark:
            load_checkpoint(cursor, projection.name, lock=True)  # creates the row if new
        total = count_events(cursor=cursor, below_watermark=below_watermark)
        done = 0
        checkpoint = Checkpoint()
        while True:
            events = read_all(checkpoint, limit=batch, cursor=cursor, below_watermark=below_watermark)
            if not events:
                break
            projection.apply_many(cursor, events)
            checkpoint = checkpoint_of(events[-1])
            done += len(events)
            if progress:
                progress(done, total)
        if below_watermark:
            save_checkpoint(cursor, projection.name, checkpoint)
        after = projection.dump(cursor)
    report = RebuildReport(projection=projection.name, county=county, events=done)
    for table in projection.tables:
        old, new = set(before.get(table, [])), set(after.get(table, []))
        report.only_live += [(table, row) for row in sorted(old - new, key=repr)]
        report.only_rebuilt += [(table, row) for row in sorted(new - old, key=repr)]
    return report


def rebuild_stale(*, progress: Callable[[int, int], None] | None = None) -> list[RebuildReport]:
    """Rebuild the projections a migration marked stale (their shape changed) in the current county.

    Migrations do not backfill projections: they mark them in
    `projection_stale`, and `shuping migrate` calls this in each county it
    migrated, so the rows are rebuilt by the code that will maintain them.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM projection_stale ORDER BY name")
        names = [row[0] for row in cursor.fetchall()]
    reports = []
    for name in names:
        if name in _registry:
            reports.append(rebuild(_registry[name], progress=progress))
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM projection_stale WHERE name = %s", [name])
    return reports


def state_of(projection: Projection) -> dict[str, list[tuple[Any, ...]]]:
    with connection.cursor() as cursor:
        return projection.dump(cursor)
