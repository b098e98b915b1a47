"""The event store of a county: append, read, and read in commit order.

The county is the schema of the current connection (django-tenants sets it
from the host name; consumers and CLI commands set it explicitly). Only this
module writes the events table, and it only ever inserts.

## Order: sequence order is not commit order

`position` comes from a sequence, taken when a row is inserted. Two appenders
can take positions 10 and 11 and commit in the order 11, 10: a reader that
asks for "everything after the last position I saw" right after 11 committed
would move its mark to 11 and never see 10.

We do not serialize all appends of a county behind one lock (that would also
serialize their commits, and the ballot burst at the close of a meeting is
exactly when a county needs parallel appends). Instead each row stores the id
of the transaction that wrote it (`pg_current_xact_id()`), and readers only
take rows whose transaction id is below the oldest transaction still running
(`pg_snapshot_xmin(pg_current_snapshot())`): every transaction below that
watermark has finished, so no row can ever appear below it later. Readers go
in (transaction_id, position) order and remember both; that order is total,
stable, and never skips a row. Rows of one stream are also in stream-version
order there, because an appender holds its stream's row lock from before its
first write until it commits.

## Per stream: versions, hash chain, idempotency

An append locks the stream's row in `event_streams` (FOR UPDATE), checks the
expected version, links each new event to the previous head hash, inserts the
events, moves the head and records the command id, all in one transaction
with the inline projections. A command id seen before returns the result
recorded the first time and appends nothing.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from django.db import IntegrityError, connection, transaction

from events import types as event_types
from events.chain import (
    GENESIS_HASH,
    CanonicalError,
    canonical_json,
    event_hash_of_encoded,
    format_recorded_at,
)
from shuping.db import current_schema


class StoreError(Exception):
    """Base of the store's errors; carries a stable code and a Chinese message."""

    code = "store_error"

    def __init__(self, message_zh: str, message_en: str) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        self.message_zh = message_zh
        self.message_en = message_en


class ConcurrencyConflict(StoreError):
    """The stream moved since the command read it; nothing was written."""

    code = "concurrency_conflict"

    def __init__(self, stream_id: str, expected: object, actual: int) -> None:
        super().__init__(
            f"会议记录已被他人更新（期望版本 {expected}，实际版本 {actual}），请刷新后重试",
            f"stream {stream_id} moved: expected version {expected}, found {actual}; reload and retry",
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class NoCounty(StoreError):
    code = "no_county"


class _Expect:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


NO_STREAM = _Expect("NO_STREAM")
"""Expected version for a stream that must not exist yet."""
ANY = _Expect("ANY")
"""Expected version that accepts whatever the stream's version is."""

ExpectedVersion = int | _Expect

MAX_EVENTS_PER_APPEND = 10_000
MAX_STREAM_ID_LENGTH = 200


@dataclass(frozen=True)
class RecordedEvent:
    position: int
    transaction_id: int
    stream_id: str
    stream_version: int
    type: str
    schema_version: int
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime
    prev_hash: str
    hash: str

    def typed(self) -> event_types.DomainEvent:
        """The event as its current typed record (old versions upcast)."""
        return event_types.load(self.type, self.schema_version, self.data)

    def upcast_data(self) -> dict[str, Any]:
        return event_types.upcast(self.type, self.schema_version, self.data)


@dataclass(frozen=True)
class AppendResult:
    county: str
    stream_id: str
    first_version: int
    last_version: int
    positions: list[int]
    hashes: list[str]
    head_hash: str
    command_id: str
    replayed: bool = False  # True when a retried command returned its first result


@dataclass(frozen=True)
class Checkpoint:
    """Where a reader of the whole log stands: (transaction_id, position)."""

    transaction_id: int = 0
    position: int = 0


@dataclass
class Committed:
    """What the after-commit hook publishes for one append."""

    county: str
    stream_id: str
    positions: list[int]
    first_version: int
    last_version: int
    types: list[str] = field(default_factory=list)


def current_county() -> str:
    schema = current_schema()
    if not schema or schema == "public":
        raise NoCounty("未选定县区", "no county selected: the event log lives in a county schema")
    return str(schema)


def _now() -> datetime:
    # Microsecond precision is what timestamptz stores; the hash covers the
    # text form of exactly this value, so it round-trips through the database.
    return datetime.now(UTC)


def append(
    stream_id: str,
    events: Sequence[event_types.NewEvent | event_types.DomainEvent],
    *,
    expected_version: ExpectedVersion,
    command_id: uuid.UUID | str,
    actor: str | None = None,
    correlation_id: str | None = None,
    recorded_at: datetime | None = None,
) -> AppendResult:
    """Append events to a stream in one transaction; raise ConcurrencyConflict if it moved.

    Validates every event against its declared type before writing anything.
    A command id that was appended before returns the original result.
    Inline projections run in the same transaction; the after-commit hook
    publishes the batch once the transaction has committed.
    """
    county = current_county()
    command = str(uuid.UUID(str(command_id)))
    if not isinstance(stream_id, str) or not 0 < len(stream_id) <= MAX_STREAM_ID_LENGTH:
        raise StoreError("记录流标识无效", "stream id must be 1-200 characters")
    batch = [e if isinstance(e, event_types.NewEvent) else event_types.NewEvent.of(e) for e in events]
    if not batch:
        raise StoreError("没有要记录的事件", "nothing to append")
    if len(batch) > MAX_EVENTS_PER_APPEND:
        raise StoreError("一次记录的事件过多", f"at most {MAX_EVENTS_PER_APPEND} events per append")
    prepared = []
    encoded = []  # canonical JSON of each event's data: hashed and sent as is
    for new in batch:
        cls = event_types.lookup(new.type)
        version = new.schema_version or cls.version
        if version != cls.version:
            raise event_types.EventSchemaError(
                f"{new.type} 只能以当前版本 {cls.version} 写入", f"{new.type} is written at version {cls.version} only"
            )
        event_types.validate(new.type, new.data)
        try:
            encoded.append(canonical_json(new.data))  # rejects what the hash chain cannot carry
        except CanonicalError as exc:
            raise event_types.EventSchemaError(
                f"{new.type} 的数据无法规范编码（键须为英文标识符，数值须为整数）：{exc}",
                f"{new.type} data has no canonical form: {exc}",
            ) from exc
        prepared.append((new.type, version, new.data))
    metadata: dict[str, Any] = {"command_id": command}
    if actor is not None:
        metadata["actor"] = actor
    if correlation_id is not None:
        metadata["correlation_id"] = correlation_id
    when = recorded_at or _now()
    stamp = format_recorded_at(when)

    try:
        with transaction.atomic():
            result = _append_locked(
                county, stream_id, prepared, encoded, expected_version, command, metadata, when, stamp
            )
            if not result.replayed:
                from projections.runtime import apply_inline

                with _store_cursor() as cursor:
                    apply_inline(county, result, prepared, metadata, when, cursor)
                committed = Committed(
                    county=county,
                    stream_id=stream_id,
                    positions=result.positions,
                    first_version=result.first_version,
                    last_version=result.last_version,
                    types=[p[0] for p in prepared],
                )
                transaction.on_commit(lambda: _publish(committed))
            return result
    except (IntegrityError, psycopg.IntegrityError):
        # Another transaction created this stream, or recorded this command,
        # between our read and our write. A retried command gets its result.
        original = _stored_result(command)
        if original is not None:
            return original
        raise ConcurrencyConflict(stream_id, expected_version, stream_version(stream_id)) from None


@contextlib.contextmanager
def _store_cursor() -> Iterator[Any]:
    """A psycopg cursor with server-side parameters on Django's connection.

    Django's own cursors bind parameters on the client (psycopg's
    ClientCursor), so PostgreSQL parses and plans every statement afresh. The
    append statements are the hottest in the platform: on a plain psycopg
    cursor psycopg prepares them after a few executions and PostgreSQL keeps
    their plans (re-planned by PostgreSQL itself when the search_path, i.e.
    the county, changes). Opening a Django cursor first makes django-tenants
    set the county's search_path on the connection; the transaction is still
    Django's (atomic), so a raised error rolls everything back as before.
    """
    with connection.cursor():
        pass
    raw = connection.connection
    with psycopg.Cursor(raw) as cursor:
        yield cursor


# One round trip takes the stream's row lock and looks the command up. The
# lock is in a LATERAL subquery so that a stream that does not exist yet still
# yields a row (with NULL version) carrying the command lookup.
_LOCK_SQL = """
SELECT s.version, s.head_hash, (SELECT result FROM event_commands WHERE command_id = %s)
  FROM (SELECT 1) AS one
  LEFT JOIN LATERAL (
       SELECT version, head_hash FROM event_streams WHERE stream_id = %s FOR UPDATE
  ) AS s ON true
"""

# One round trip writes everything else: the events (positions taken in
# version order), the new stream head, and the command's result with the
# positions just assigned. The events travel as one JSON array, so the client
# quotes one string instead of building seven text arrays.
_WRITE_SQL = """
WITH head AS (
    {head}
), batch AS (
    SELECT e->>0 AS type, (e->>1)::smallint AS schema_version, e->2 AS data,
           e->>3 AS prev_hash, e->>4 AS hash, n
      FROM jsonb_array_elements(%(events)s::jsonb) WITH ORDINALITY AS b(e, n)
), inserted AS (
    INSERT INTO events (stream_id, stream_version, type, schema_version, data, metadata,
                        recorded_at, prev_hash, hash)
    SELECT %(stream)s, %(version)s + n, type, schema_version, data, %(metadata)s::jsonb,
           %(when)s, prev_hash, hash
      FROM batch{guard} ORDER BY n
    RETURNING stream_version, position
), command AS (
    INSERT INTO event_commands (command_id, stream_id, result, recorded_at)
    SELECT %(command)s, %(stream)s,
           %(result)s::jsonb || jsonb_build_object(
               'positions', (SELECT jsonb_agg(position ORDER BY stream_version) FROM inserted)),
           %(when)s{guard}
)
SELECT position FROM inserted ORDER BY stream_version
"""
_MOVE_HEAD = (
    "UPDATE event_streams SET version = %(new_version)s, head_hash = %(head)s, updated_at = %(when)s"
    " WHERE stream_id = %(stream)s"
)
_WRITE_NEW_STREAM = _WRITE_SQL.replace("{guard}", "").replace(
    "{head}",
    "INSERT INTO event_streams (stream_id, version, head_hash, updated_at)"
    " VALUES (%(stream)s, %(new_version)s, %(head)s, %(when)s)",
)
_WRITE_EXISTING_STREAM = _WRITE_SQL.replace("{guard}", "").replace("{head}", _MOVE_HEAD)

# The fast path: when this process knows the stream's head (it wrote the
# last event of the stream, or read the head while locking), the lock, the
# idempotency lookup and the write are one statement. The UPDATE of the head
# takes the stream's row lock and only matches if the stream is still at the
# expected version *and* head hash and the command id is new; the events and
# the command are inserted only if it matched (`WHERE EXISTS (SELECT FROM
# head)` runs the UPDATE before any position is taken). If it did not match
# (another process appended, a remembered head was rolled back, a retried
# command) nothing was written and the two-statement path below decides.
_WRITE_FAST = _WRITE_SQL.replace("{guard}", " WHERE EXISTS (SELECT 1 FROM head)").replace(
    "{head}",
    _MOVE_HEAD + " AND version = %(version)s AND head_hash = %(prev_head)s"
    " AND NOT EXISTS (SELECT 1 FROM event_commands WHERE command_id = %(command)s) RETURNING 1",
)

# (county, stream) -> (version, head hash) last written or locked by this
# process. Only a hint: the fast path's statement checks both in the database.
_heads: dict[tuple[str, str], tuple[int, str]] = {}
_HEADS_MAX = 20_000


def _remember_head(county: str, stream_id: str, version: int, head: str) -> None:
    if len(_heads) >= _HEADS_MAX:
        _heads.clear()
    _heads[(county, stream_id)] = (version, head)


def _append_locked(
    county: str,
    stream_id: str,
    prepared: list[tuple[str, int, dict[str, Any]]],
    encoded: list[bytes],
    expected_version: ExpectedVersion,
    command: str,
    metadata: dict[str, Any],
    when: datetime,
    stamp: str,
) -> AppendResult:
    metadata_json = canonical_json(metadata)
    with _store_cursor() as cursor:
        known = _heads.get((county, stream_id))
        if (
            known is not None
            and isinstance(expected_version, int)
            and not isinstance(expected_version, bool)
            and known[0] == expected_version
        ):
            result = _write(
                cursor, _WRITE_FAST, county, stream_id, prepared, encoded, known[0], known[1],
                command, metadata_json, when, stamp,
            )
            if result is not None:
                return result
        cursor.execute(_LOCK_SQL, [command, stream_id])
        locked_version, locked_head, stored = cursor.fetchone()
        if stored is not None:
            return _result_from_stored(stored)
        exists = locked_version is not None
        version, head = (int(locked_version), str(locked_head)) if exists else (0, GENESIS_HASH)
        if exists:
            _remember_head(county, stream_id, version, head)
        if expected_version is NO_STREAM:
            moved = exists
        elif expected_version is ANY:
            moved = False
        elif not isinstance(expected_version, int) or isinstance(expected_version, bool):
            raise StoreError("期望版本无效", f"invalid expected version {expected_version!r}")
        else:
            moved = expected_version != version
        if moved:
            # The lookup above ran on the snapshot taken before we waited for
            # the lock: a duplicate of this command may have committed while
            # we waited. Look again before calling it a conflict.
            original = _stored_result(command, cursor)
            if original is not None:
                return original
            raise ConcurrencyConflict(stream_id, expected_version, version)
        result = _write(
            cursor, _WRITE_EXISTING_STREAM if exists else _WRITE_NEW_STREAM, county, stream_id, prepared,
            encoded, version, head, command, metadata_json, when, stamp,
        )
        assert result is not None  # the stream row is locked (or new): the write cannot miss
        return result


def _write(
    cursor: Any,
    sql: str,
    county: str,
    stream_id: str,
    prepared: list[tuple[str, int, dict[str, Any]]],
    encoded: list[bytes],
    version: int,
    head: str,
    command: str,
    metadata_json: bytes,
    when: datetime,
    stamp: str,
) -> AppendResult | None:
    """Chain the batch onto (version, head) and write it; None if the fast path missed."""
    rows = []
    hashes = []
    prev = head
    for offset, ((type_name, schema_version, _data), data_json) in enumerate(
        zip(prepared, encoded, strict=True), start=1
    ):
        digest = event_hash_of_encoded(
            county=county,
            stream=stream_id,
            version=version + offset,
            type=type_name,
            schema_version=schema_version,
            data_json=data_json,
            metadata_json=metadata_json,
            recorded_at=stamp,
            prev_hash=prev,
        )
        # [type, schema_version, data, prev_hash, hash] as JSON text, with the
        # data's canonical bytes spliced in rather than encoded once more.
        rows.append(
            b"[" + json.dumps(type_name).encode() + b",%d," % schema_version + data_json
            + b',"' + prev.encode() + b'","' + digest.encode() + b'"]'
        )
        hashes.append(digest)
        prev = digest
    new_version = version + len(prepared)
    result = AppendResult(
        county=county,
        stream_id=stream_id,
        first_version=version + 1,
        last_version=new_version,
        positions=[],
        hashes=hashes,
        head_hash=prev,
        command_id=command,
    )
    stored_result = {
        "county": county,
        "stream_id": stream_id,
        "first_version": version + 1,
        "last_version": new_version,
        "hashes": hashes,
        "head_hash": prev,
        "command_id": command,
    }
    cursor.execute(
        sql,
        {
            "events": (b"[" + b",".join(rows) + b"]").decode("utf-8"),
            "stream": stream_id,
            "version": version,
            "new_version": new_version,
            "head": prev,
            "prev_head": head,
            "metadata": metadata_json.decode("utf-8"),
            "when": when,
            "command": command,
            "result": json.dumps(stored_result, ensure_ascii=False),
        },
    )
    positions = [int(row[0]) for row in cursor.fetchall()]
    if not positions:
        return None
    result.positions.extend(positions)
    _remember_head(county, stream_id, new_version, prev)
    return result


def _result_from_stored(stored: Any) -> AppendResult:
    values = dict(stored) if isinstance(stored, dict) else json.loads(stored)
    values["replayed"] = True
    return AppendResult(**values)


def _stored_result(command: str, cursor: Any = None) -> AppendResult | None:
    def fetch(cur: Any) -> AppendResult | None:
        cur.execute("SELECT result FROM event_commands WHERE command_id = %s", [command])
        row = cur.fetchone()
        return None if row is None else _result_from_stored(row[0])

    if cursor is not None:
        return fetch(cursor)
    with connection.cursor() as cur:
        return fetch(cur)


# -- after commit --------------------------------------------------------------------

_subscribers: list[Any] = []


def subscribe(callback: Any) -> None:
    """Call `callback(Committed)` after each committed append (the live layer listens)."""
    if callback not in _subscribers:
        _subscribers.append(callback)


def unsubscribe(callback: Any) -> None:
    if callback in _subscribers:
        _subscribers.remove(callback)


def _publish(committed: Committed) -> None:
    for callback in list(_subscribers):
        callback(committed)


# -- reading ---------------------------------------------------------------------------

_COLUMNS = (
    "position, transaction_id::text::bigint, stream_id, stream_version, type, schema_version, "
    "data, metadata, recorded_at, prev_hash, hash"
)


def _row(row: Sequence[Any]) -> RecordedEvent:
    return RecordedEvent(
        position=int(row[0]),
        transaction_id=int(row[1]),
        stream_id=row[2],
        stream_version=int(row[3]),
        type=row[4],
        schema_version=int(row[5]),
        data=row[6] if isinstance(row[6], dict) else json.loads(row[6]),
        metadata=row[7] if isinstance(row[7], dict) else json.loads(row[7]),
        recorded_at=row[8],
        prev_hash=row[9],
        hash=row[10],
    )


def stream_version(stream_id: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM event_streams WHERE stream_id = %s", [stream_id])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def stream_head(stream_id: str) -> tuple[int, str]:
    """(version, head hash) of a stream; (0, genesis) for one that does not exist."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT version, head_hash FROM event_streams WHERE stream_id = %s", [stream_id])
        row = cursor.fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


def read_stream(stream_id: str, *, from_version: int = 1, limit: int | None = None) -> list[RecordedEvent]:
    """Events of one stream in version order."""
    sql = f"SELECT {_COLUMNS} FROM events WHERE stream_id = %s AND stream_version >= %s ORDER BY stream_version"
    params: list[Any] = [stream_id, from_version]
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [_row(r) for r in cursor.fetchall()]


def iter_stream(stream_id: str, *, batch: int = 2000) -> Iterator[RecordedEvent]:
    version = 1
    while True:
        chunk = read_stream(stream_id, from_version=version, limit=batch)
        yield from chunk
        if len(chunk) < batch:
            return
        version = chunk[-1].stream_version + 1


def read_all(after: Checkpoint = Checkpoint(), *, limit: int = 1000) -> list[RecordedEvent]:
    """Events after `after` in commit-safe order, only below the commit watermark.

    Never returns an event whose transaction might still be overtaken by one
    that commits later: see the module docstring.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT {_COLUMNS} FROM events
             WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
               AND (transaction_id, position) > (%s::text::xid8, %s)
             ORDER BY transaction_id, position
             LIMIT %s
            """,
            [str(after.transaction_id), after.position, limit],
        )
        return [_row(r) for r in cursor.fetchall()]


def checkpoint_of(event: RecordedEvent) -> Checkpoint:
    return Checkpoint(transaction_id=event.transaction_id, position=event.position)


def streams() -> list[tuple[str, int, str]]:
    """(stream id, version, head hash) of every stream of the county."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT stream_id, version, head_hash FROM event_streams ORDER BY stream_id")
        return [(r[0], int(r[1]), str(r[2])) for r in cursor.fetchall()]
