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

## What else may touch the store's tables

Nothing writes SQL against `events`, `event_streams` or `event_commands`
outside this package: reads are in events.reading, and statements elsewhere
that must not interleave with an append use the guards this module exports
(`SHARED_STREAM_LOCK`, `lock_stream`). Projections run inside the append
through the hook they register (`set_inline_projector`); the live layer
hears of commits through `subscribe`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from json.encoder import (
    encode_basestring as _json_string,  # a str as JSON text, non-ASCII kept (json.dumps' own)
)
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction

from common.commands import CommandKey
from events import types as event_types
from events.chain import (
    GENESIS_HASH,
    CanonicalError,
    canonical_json,
    event_hash_of_encoded,
    format_recorded_at,
)
from events.reading import stream_version
from events.records import (
    ANY,
    NO_STREAM,
    AppendResult,
    Committed,
    ConcurrencyConflict,
    ExpectedVersion,
    IdempotencyKeyReused,
    StoreError,
    current_county,
)

MAX_EVENTS_PER_APPEND = 10_000
MAX_STREAM_ID_LENGTH = 200

Prepared = list[tuple[str, int, dict[str, Any]]]  # (type, schema version, data) of each new event
InlineProjector = Callable[[str, AppendResult, Prepared, dict[str, Any], datetime, Any], None]


def _now() -> datetime:
    # Microsecond precision is what timestamptz stores; the hash covers the
    # text form of exactly this value, so it round-trips through the database.
    return datetime.now(UTC)


def append(
    stream_id: str,
    events: Sequence[event_types.NewEvent | event_types.DomainEvent],
    *,
    expected_version: ExpectedVersion,
    expected_head: str | None = None,
    command_id: CommandKey | uuid.UUID | str,
    actor: str | None = None,
    correlation_id: str | None = None,
    recorded_at: datetime | None = None,
) -> AppendResult:
    """Append events to a stream in one transaction; raise ConcurrencyConflict if it moved.

    Validates every event against its declared type before writing anything.
    A command id that was appended before returns the original result.
    `expected_head`, with an integer `expected_version`, is the head hash the
    caller read with that version (events.repository passes it): the stream
    must be at both, and the append is then one statement. A command id
    given as a CommandKey with a fingerprint is bound to that request: the
    same id with another fingerprint raises IdempotencyKeyReused, whatever
    was recorded. Inline projections
    run in the same transaction; the after-commit hook publishes the batch
    once the transaction has committed.
    """
    county = current_county()
    key = CommandKey.of(command_id)
    command = key.id
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
            cursor = _county_cursor()
            result = _append_locked(
                cursor, county, stream_id, prepared, encoded, expected_version, expected_head, key, metadata,
                when, stamp,
            )
            if not result.replayed:
                if _inline_projector is not None:
                    _inline_projector(county, result, prepared, metadata, when, cursor)
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
        original = stored_result(key)
        if original is not None:
            return original
        raise ConcurrencyConflict(stream_id, expected_version, stream_version(stream_id)) from None


class PreparingCursor(psycopg.Cursor):  # type: ignore[type-arg]
    """A server-side binding cursor whose statements are prepared on their first execution.

    Django opens its psycopg connections with `prepare_threshold=None`, so
    psycopg never prepares on them by itself: without this, PostgreSQL parses,
    analyses and plans every statement of every append and every seal again.
    A prepared plan is tied to the search_path it was made under: PostgreSQL
    parses the statement again whenever the search_path (the county) has
    changed since, so a connection serving several counties never runs one
    county's plan in another. Needs a session-level pool if any (the
    architecture's PgBouncer advice).
    """

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None) -> Any:
        return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)

    def _send_query_prepared(self, name: bytes, pgq: Any, *, binary: bool | None = None) -> None:
        # psycopg records the query it sent (`_query`) on its unprepared path only; Django's
        # query log (DEBUG, CaptureQueriesContext) reads it back for the ballot box's wrapped
        # cursor, and would log None for every prepared statement. A psycopg that renames
        # this hook leaves the override unused (tests/integration/meetings/test_cast_round_trips.py).
        self._query = pgq
        super()._send_query_prepared(name, pgq, binary=binary)


def _county_cursor() -> psycopg.Cursor[Any]:
    """A preparing psycopg cursor (PreparingCursor) on Django's connection, in the county's schema.

    Django's own cursors bind parameters on the client (psycopg's
    ClientCursor) and never prepare, so PostgreSQL parses and plans every
    statement afresh. The append statements and the inline projections' are
    the hottest in the platform: this cursor binds them on the server and
    prepares them, and PostgreSQL keeps their plans (re-planned by PostgreSQL
    itself when the search_path, i.e. the county, changes). The transaction
    is still Django's (atomic), so a raised error rolls everything back as
    before.

    The search_path: django-tenants sets it when Django opens a cursor after
    the schema changed (set_schema/set_tenant clear `search_path_set_schemas`,
    TENANT_LIMIT_SET_CALLS skips it while they are set). So a Django cursor is
    opened only when the connection is new or the schema changed since; else
    the search_path is already the county's. Opening one per append (a Django
    cursor wrapper, its checks, a new psycopg cursor) was about a seventh of
    the append's client CPU. The psycopg cursor is kept on Django's connection
    wrapper (one per thread, like the connection) and replaced when Django
    reconnects.
    """
    wrapper = connections[DEFAULT_DB_ALIAS]
    raw = wrapper.connection
    if raw is None or not getattr(wrapper, "search_path_set_schemas", None):
        with wrapper.cursor():
            pass
        raw = wrapper.connection
    cursor: psycopg.Cursor[Any] | None = getattr(wrapper, "_shuping_store_cursor", None)
    if cursor is None or cursor.connection is not raw or cursor.closed:
        cursor = PreparingCursor(raw)
        wrapper._shuping_store_cursor = cursor  # type: ignore[attr-defined]
    return cursor


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

# The fast path: when the caller knows the stream's head (it folded the
# stream to it, see events.repository), the lock, the idempotency lookup and
# the write are one statement. The UPDATE of the head takes the stream's row
# lock and only matches if the stream is still at the expected version *and*
# head hash and the command id is new; the events and the command are
# inserted only if it matched (`WHERE EXISTS (SELECT FROM head)` runs the
# UPDATE before any position is taken). If it did not match (another command
# got in first, the head read was rolled back, a retried command) nothing was
# written and the two-statement path below decides.
_WRITE_FAST = _WRITE_SQL.replace("{guard}", " WHERE EXISTS (SELECT 1 FROM head)").replace(
    "{head}",
    _MOVE_HEAD + " AND version = %(version)s AND head_hash = %(prev_head)s"
    " AND NOT EXISTS (SELECT 1 FROM event_commands WHERE command_id = %(command)s) RETURNING 1",
)


def _append_locked(
    cursor: Any,
    county: str,
    stream_id: str,
    prepared: Prepared,
    encoded: list[bytes],
    expected_version: ExpectedVersion,
    expected_head: str | None,
    key: CommandKey,
    metadata: dict[str, Any],
    when: datetime,
    stamp: str,
) -> AppendResult:
    command = key.id
    metadata_json = canonical_json(metadata)
    exact = expected_version if isinstance(expected_version, int) and not isinstance(expected_version, bool) else None
    if exact is not None and exact > 0 and expected_head is not None:
        result = _write(
            cursor, _WRITE_FAST, county, stream_id, prepared, encoded, exact, expected_head,
            key, metadata_json, when, stamp,
        )
        if result is not None:
            return result
    cursor.execute(_LOCK_SQL, [command, stream_id])
    locked_version, locked_head, stored = cursor.fetchone()
    if stored is not None:
        return _result_from_stored(stored, key)
    exists = locked_version is not None
    version, head = (int(locked_version), str(locked_head)) if exists else (0, GENESIS_HASH)
    if expected_version is NO_STREAM:
        moved = exists
    elif expected_version is ANY:
        moved = False
    elif exact is None:
        raise StoreError("期望版本无效", f"invalid expected version {expected_version!r}")
    else:
        moved = expected_version != version or (expected_head is not None and expected_head != head)
    if moved:
        # The lookup above ran on the snapshot taken before we waited for
        # the lock: a duplicate of this command may have committed while
        # we waited. Look again before calling it a conflict.
        original = stored_result(key, cursor)
        if original is not None:
            return original
        raise ConcurrencyConflict(stream_id, expected_version, version)
    result = _write(
        cursor, _WRITE_EXISTING_STREAM if exists else _WRITE_NEW_STREAM, county, stream_id, prepared,
        encoded, version, head, key, metadata_json, when, stamp,
    )
    assert result is not None  # the stream row is locked (or new): the write cannot miss
    return result


def _write(
    cursor: Any,
    sql: str,
    county: str,
    stream_id: str,
    prepared: Prepared,
    encoded: list[bytes],
    version: int,
    head: str,
    key: CommandKey,
    metadata_json: bytes,
    when: datetime,
    stamp: str,
) -> AppendResult | None:
    """Chain the batch onto (version, head) and write it; None if the fast path missed."""
    command = key.id
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
            b"[" + _json_string(type_name).encode() + b",%d," % schema_version + data_json
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
    # The result the command row keeps (a retried command gets it back), as
    # JSON text: its shape never changes, so it is written out here rather
    # than by json.dumps of a dict (jsonb keeps no key order or spacing, so
    # the stored value is the same). Hashes are hex digits, versions integers;
    # the strings are escaped.
    hex_list = '","'.join(hashes)
    stored_result = (
        f'{{"county":{_json_string(county)},"stream_id":{_json_string(stream_id)},'
        f'"first_version":{version + 1},"last_version":{new_version},'
        f'"hashes":["{hex_list}"],"head_hash":"{prev}","command_id":{_json_string(command)}'
        + ("" if key.fingerprint is None else f',"fingerprint":{_json_string(key.fingerprint)}')
        + "}"
    )
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
            "result": stored_result,
        },
    )
    positions = [int(row[0]) for row in cursor.fetchall()]
    if not positions:
        return None
    result.positions.extend(positions)
    return result


def _result_from_stored(stored: Any, key: CommandKey) -> AppendResult:
    """The recorded result of a command, replayed; IdempotencyKeyReused if it was another request."""
    values = dict(stored) if isinstance(stored, dict) else json.loads(stored)
    recorded = values.pop("fingerprint", None)
    if key.fingerprint is not None and recorded is not None and recorded != key.fingerprint:
        raise IdempotencyKeyReused()
    values["replayed"] = True
    return AppendResult(**values)


def stored_result(command: CommandKey | str, cursor: Any = None) -> AppendResult | None:
    """The result recorded for a command id, marked `replayed`, or None if it never committed.

    With a CommandKey that carries a fingerprint: IdempotencyKeyReused if the
    id was recorded for another request.
    """
    key = CommandKey.of(command)

    def fetch(cur: Any) -> AppendResult | None:
        cur.execute("SELECT result FROM event_commands WHERE command_id = %s", [key.id])
        row = cur.fetchone()
        return None if row is None else _result_from_stored(row[0], key)

    if cursor is not None:
        return fetch(cursor)
    with connection.cursor() as cur:
        return fetch(cur)


# -- guards for statements that must not interleave with an append ---------------------

SHARED_STREAM_LOCK = "SELECT version, head_hash FROM event_streams WHERE stream_id = %(stream)s FOR SHARE"
"""A subquery that takes a stream's row FOR SHARE and yields its (version, head_hash).

A statement that must run only while the stream stays where its caller read
it uses this as a CTE (the ballot box's seal: many run at once, and none can
interleave with an append or with `lock_stream`, which take the row FOR UPDATE).
Bind the stream id as the named parameter `stream`.
"""


def lock_stream(stream_id: str) -> tuple[int, str] | None:
    """Take the stream's row lock FOR UPDATE until the transaction ends; its (version, head).

    Call inside a transaction before reading state that statements guarded by
    SHARED_STREAM_LOCK change (closing the ballot empties the box under it).
    None if the stream does not exist.
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT version, head_hash FROM event_streams WHERE stream_id = %s FOR UPDATE", [stream_id])
        row = cursor.fetchone()
    return None if row is None else (int(row[0]), str(row[1]))


# -- hooks: inline projections in the transaction, subscribers after commit --------------

_inline_projector: InlineProjector | None = None


def set_inline_projector(projector: InlineProjector | None) -> None:
    """Run `projector(county, result, prepared, metadata, recorded_at, cursor)` inside each append.

    The projections package registers its runtime here when Django starts
    (projections.apps); the store knows nothing of projections beyond this.
    """
    global _inline_projector
    _inline_projector = projector


# -- after commit --------------------------------------------------------------------

_subscribers: list[Callable[[Committed], None]] = []


def subscribe(callback: Callable[[Committed], None]) -> None:
    """Call `callback(Committed)` after each committed append (the live layer listens)."""
    if callback not in _subscribers:
        _subscribers.append(callback)


def unsubscribe(callback: Callable[[Committed], None]) -> None:
    if callback in _subscribers:
        _subscribers.remove(callback)


def _publish(committed: Committed) -> None:
    for callback in list(_subscribers):
        callback(committed)
