"""Reading the log of the current county: one stream in version order, or all in commit order.

Every statement that reads the store's tables is here (writes are in
events.store). See events.store for why readers of the whole log go in
(transaction_id, position) order below the commit watermark.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator, Sequence
from typing import Any

from django.db import connection
from psycopg.types.datetime import TimestamptzLoader

from events.chain import GENESIS_HASH
from events.records import START, Checkpoint, RecordedEvent

COLUMNS = (
    "position, transaction_id::text::bigint, stream_id, stream_version, type, schema_version, "
    "data, metadata, recorded_at, prev_hash, hash"
)


_DECODER = json.JSONDecoder()


def _data_and_metadata(data: Any, metadata: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The row's two JSON columns decoded (Django's cursors hand jsonb out as text, psycopg's own as objects).

    As text, both are decoded in one call: a replay reads every event of a
    meeting, and the calls of the `json` module cost more than the decoding
    of these small documents.
    """
    if isinstance(data, str) and isinstance(metadata, str):
        text = f"[{data},{metadata}]"
        pair, end = _DECODER.raw_decode(text)
        if end == len(text):
            return pair[0], pair[1]
    return (data if isinstance(data, dict) else json.loads(data),
            metadata if isinstance(metadata, dict) else json.loads(metadata))


def row_to_event(row: Sequence[Any]) -> RecordedEvent:
    """A row selected with COLUMNS, as a RecordedEvent (the integer columns come out of psycopg as int)."""
    data, metadata = _data_and_metadata(row[6], row[7])
    return RecordedEvent.of_row((row[0], row[1], row[2], row[3], row[4], row[5], data, metadata, row[8], row[9],
                                 row[10]))


@contextlib.contextmanager
def _events_cursor() -> Iterator[Any]:
    """A cursor for reading event rows, whose `recorded_at` psycopg decodes with its own C loader.

    Django registers a Python subclass of psycopg's timestamptz loader (to
    set the connection's zone), which psycopg cannot swap for its C version;
    on a meeting's 10,000 events it cost about as much as the rest of the
    fetch. psycopg's own loader gives the same instant in the session's time
    zone, which Django sets to the connection's (UTC). Only this cursor.
    """
    with connection.cursor() as cursor:
        cursor.cursor.adapters.register_loader("timestamptz", TimestamptzLoader)
        yield cursor


STREAM_HEAD = "SELECT version, head_hash FROM event_streams WHERE stream_id = %(stream)s"
"""A subquery that yields a stream's (version, head_hash), no row if it does not exist.

For a statement elsewhere that reads a stream's head together with rows of its
own in one snapshot (a voter's form: the head and whether the box holds the
code). Bind the stream id as the named parameter `stream`.
"""


def stream_version(stream_id: str) -> int:
    return stream_head(stream_id)[0]


def stream_head(stream_id: str) -> tuple[int, str]:
    """(version, head hash) of a stream; (0, genesis) for one that does not exist."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT version, head_hash FROM event_streams WHERE stream_id = %s", [stream_id])
        row = cursor.fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


def read_stream(stream_id: str, *, from_version: int = 1, limit: int | None = None) -> list[RecordedEvent]:
    """Events of one stream in version order."""
    sql = f"SELECT {COLUMNS} FROM events WHERE stream_id = %s AND stream_version >= %s ORDER BY stream_version"
    params: list[Any] = [stream_id, from_version]
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    with _events_cursor() as cursor:
        cursor.execute(sql, params)
        return [row_to_event(r) for r in cursor.fetchall()]


DATA_COLUMNS = "type, schema_version, data"
"""What folding an event needs of its row (read_stream_data); the rest of COLUMNS is for chains and pages."""


def data_of_row(row: Sequence[Any]) -> tuple[str, int, dict[str, Any]]:
    """A row selected with DATA_COLUMNS as (type, schema_version, data).

    `raw_decode` rather than `json.loads`: the text is PostgreSQL's output
    of one jsonb value, and `loads` adds a call and a check per row around
    the same C scanner (a tenth of the decoding of a meeting's log).
    """
    data = row[2]
    if isinstance(data, str):
        data, end = _DECODER.raw_decode(data)
        if end != len(row[2]):
            raise ValueError(f"trailing text after the data of a {row[0]} event")
    return row[0], row[1], data


def read_stream_data(stream_id: str, *, from_version: int = 1, limit: int | None = None) -> list[tuple[str, int, dict[str, Any]]]:
    """(type, schema_version, data) of events of one stream in version order: what a fold needs, and no more.

    For folding a long stream to a state (the auditor's replay): of the
    columns of COLUMNS, the metadata's JSON, the two hashes and the ids cost
    more to send, decode and wrap in records than the data itself, and a
    fold reads none of them. Versions are 1, 2, ... without gaps, so the
    i-th row is version from_version + i.
    """
    sql = f"SELECT {DATA_COLUMNS} FROM events WHERE stream_id = %s AND stream_version >= %s ORDER BY stream_version"
    params: list[Any] = [stream_id, from_version]
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [data_of_row(r) for r in cursor.fetchall()]


def read_stream_marks(stream_id: str) -> list[tuple[int, str, Any]]:
    """(version, type, recorded_at) of every event of one stream, in version order: no data, no hashes.

    What a timeline needs to place its steps: a few bytes a row, where the
    whole events of a 10,000-event meeting are megabytes of JSON.
    """
    with _events_cursor() as cursor:
        cursor.execute("SELECT stream_version, type, recorded_at FROM events WHERE stream_id = %s "
                       "ORDER BY stream_version", [stream_id])
        return [(int(r[0]), r[1], r[2]) for r in cursor.fetchall()]


def iter_stream(stream_id: str, *, batch: int = 2000) -> Iterator[RecordedEvent]:
    version = 1
    while True:
        chunk = read_stream(stream_id, from_version=version, limit=batch)
        yield from chunk
        if len(chunk) < batch:
            return
        version = chunk[-1].stream_version + 1


def read_all(
    after: Checkpoint = START, *, limit: int = 1000, cursor: Any = None, below_watermark: bool = True
) -> list[RecordedEvent]:
    """Events after `after` in commit-safe order (transaction_id, position).

    With `below_watermark` (the default), only events whose transaction can no
    longer be overtaken by one that commits later: see events.store. Without
    it, every committed event visible to this transaction (a rebuild that holds
    the events table locked wants them all). `cursor`: run on this cursor
    (e.g. inside a projection's transaction) instead of a new Django cursor.
    """
    watermark = "transaction_id < pg_snapshot_xmin(pg_current_snapshot()) AND " if below_watermark else ""
    sql = f"""
        SELECT {COLUMNS} FROM events
         WHERE {watermark}(transaction_id, position) > (%s::text::xid8, %s)
         ORDER BY transaction_id, position
         LIMIT %s
    """
    params: list[Any] = [str(after.transaction_id), after.position, limit]
    if cursor is not None:
        # A rebuild's or a catch-up's own cursor: psycopg's C loader for `recorded_at` on it too (see
        # _events_cursor; the same instants, and the cursor is theirs for this transaction only).
        getattr(cursor, "cursor", cursor).adapters.register_loader("timestamptz", TimestamptzLoader)
        cursor.execute(sql, params)
        return [row_to_event(r) for r in cursor.fetchall()]
    with _events_cursor() as own:
        own.execute(sql, params)
        return [row_to_event(r) for r in own.fetchall()]


def hold_log_still(cursor: Any) -> None:
    """Until this transaction ends, appends wait (they do not fail): the log cannot change under a reader.

    A SHARE lock on the events table: what a projection's rebuild takes so
    that its replay and the switch from old rows to new are atomic.
    """
    cursor.execute("LOCK TABLE events IN SHARE MODE")


def count_events(*, cursor: Any, below_watermark: bool) -> int:
    """How many events read_all would hand out from the start (for progress reports)."""
    watermark = " WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())" if below_watermark else ""
    cursor.execute("SELECT count(*) FROM events" + watermark)
    return int(cursor.fetchone()[0])


def streams() -> list[tuple[str, int, str]]:
    """(stream id, version, head hash) of every stream of the county."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT stream_id, version, head_hash FROM event_streams ORDER BY stream_id")
        return [(r[0], int(r[1]), str(r[2])) for r in cursor.fetchall()]


def streams_recorded_between(start: Any, end: Any) -> list[str]:
    """Ids of the streams with at least one event recorded in [start, end), in id order."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT stream_id FROM events WHERE recorded_at >= %s AND recorded_at < %s ORDER BY stream_id",
            [start, end],
        )
        return [row[0] for row in cursor.fetchall()]
