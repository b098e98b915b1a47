"""bench/event_store.py, sections 1-3: appends at 1 and 16 writers, and where one append's time goes.

Each implementation is a writer class with open() (connect and warm up,
untimed), append(k) and close(); `run_writers` starts them as threads and
times them together.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import say
from _statements import StatementsWriter
from event_store_data import (
    COUNTY,
    RECORD_COUNTY,
    STATEMENTS_COUNTY,
    WARMUP,
    Bench,
    Run,
    ballot_data,
    ballot_json,
    code_hash,
    scheduled_data,
)


def machine_busy_seconds() -> float:
    """User+system+irq CPU seconds of the whole machine since boot (Linux)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run_writers(
    impl: str,
    writers: int,
    per_writer: int,
    make: Callable[[int], Any],
    wal: Callable[[], int],
) -> Run:
    """Start `writers` threads; each opens/warms up its writer, then all append at once.

    A writer object has open() (connect and warm up, untimed), append(k) and close().
    """
    ready = threading.Barrier(writers + 1, timeout=300)
    go = threading.Barrier(writers + 1, timeout=300)
    latencies: list[list[float]] = [[] for _ in range(writers)]
    errors: list[BaseException] = []
    finished = [0.0] * writers

    def work(index: int) -> None:
        writer = make(index)
        try:
            writer.open()
            ready.wait()
            go.wait()
            mine = latencies[index]
            clock = time.perf_counter
            for k in range(per_writer):
                t0 = clock()
                writer.append(k)
                mine.append(clock() - t0)
            finished[index] = clock()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            ready.abort()
            go.abort()
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    threads = [threading.Thread(target=work, args=(i,), name=f"{impl}-{i}") for i in range(writers)]
    for thread in threads:
        thread.start()
    lsn0 = t0 = 0.0
    try:
        ready.wait()  # every writer connected and warmed up
        lsn0 = wal()
        cpu0, busy0 = time.process_time(), machine_busy_seconds()
        go.wait()
        t0 = time.perf_counter()
    except threading.BrokenBarrierError:
        cpu0 = busy0 = 0.0
    for thread in threads:
        thread.join()
    cpu1, busy1 = time.process_time(), machine_busy_seconds()
    elapsed = max(finished) - t0 if not errors else time.perf_counter() - t0
    lsn1 = wal()
    if errors:
        raise RuntimeError(f"{impl} with {writers} writers failed: {errors[0]!r}") from errors[0]
    total = writers * per_writer
    return Run(impl, writers, total, elapsed, [x for lst in latencies for x in lst], int(lsn1 - lsn0) // total,
               (cpu1 - cpu0) / total * 1000, (busy1 - busy0) / total * 1000)


class OursWriter:
    """events.store.append of one BallotCast per call, on a meeting stream of its own."""

    def __init__(self, stream: str, count: int, county: str = COUNTY) -> None:
        self.stream = stream
        self._count = count
        self.county = county
        self.version = 0
        self.head = ""

    def open(self) -> None:
        from django_tenants.utils import schema_context

        from events.records import NO_STREAM
        from events.store import append
        from meetings.events import BallotCast, MeetingScheduled

        self._append, self._ballot = append, BallotCast
        self._ctx = schema_context(self.county)
        self._ctx.__enter__()
        result = append(
            self.stream, [MeetingScheduled(**scheduled_data(self.stream))],
            expected_version=NO_STREAM, command_id=uuid.uuid4(),
        )
        self.version, self.head = result.last_version, result.head_hash
        # Typed events built in advance: the command's own work is not the store's.
        self._events = [BallotCast(**ballot_data(self.stream, n)) for n in range(self._count)]
        for n in range(WARMUP):
            self._do(BallotCast(**ballot_data(self.stream + "-warm", n)))

    def _do(self, event: Any) -> None:
        # As a command does (events.repository): the version and head it folded, so the
        # lock, the idempotency check and the write are one statement.
        result = self._append(
            self.stream, [event], expected_version=self.version, expected_head=self.head, command_id=uuid.uuid4()
        )
        self.version, self.head = result.last_version, result.head_hash

    def append(self, k: int) -> None:
        self._do(self._events[k])

    def close(self) -> None:
        from django.db import connection

        with contextlib.suppress(Exception):
            self._ctx.__exit__(None, None, None)
        connection.close()


class RawWriter:
    """psycopg, autocommit: one INSERT of the same row shape per transaction."""

    SQL = (
        "INSERT INTO raw_bench.events (stream_id, version, type, data, metadata, recorded_at, prev_hash, hash)"
        " VALUES (%s, %s, %s, %s::jsonb, %s::jsonb, %s, %s, %s)"
    )

    def __init__(self, url: str, stream: str, count: int) -> None:
        self.url, self.stream, self.count = url, stream, count

    def open(self) -> None:
        import psycopg

        self.conn = psycopg.connect(self.url, autocommit=True)
        prev = "0" * 64
        self.rows = []
        for n in range(-WARMUP, self.count):
            digest = code_hash("chain", self.stream, n)
            meta = json.dumps({"command_id": str(uuid.uuid4())})
            self.rows.append((self.stream, n + WARMUP + 1, "BallotCast", ballot_json(self.stream, n), meta, prev, digest))
            prev = digest
        for n in range(WARMUP):
            self._do(n)

    def _do(self, i: int) -> None:
        s, v, t, d, m, p, h = self.rows[i]
        self.conn.execute(self.SQL, (s, v, t, d, m, dt.datetime.now(dt.UTC), p, h))

    def append(self, k: int) -> None:
        self._do(k + WARMUP)

    def close(self) -> None:
        self.conn.close()


class EsWriter:
    """eventsourcing's recorder: insert_events([StoredEvent]) = one transaction per event."""

    def __init__(self, recorder: Any, stream: str, count: int) -> None:
        self.recorder, self.stream, self.count = recorder, stream, count

    def open(self) -> None:
        from eventsourcing.persistence import StoredEvent

        self.oid = uuid.uuid5(uuid.NAMESPACE_URL, self.stream)
        self.events = [
            StoredEvent(
                originator_id=self.oid,
                originator_version=n + WARMUP + 1,
                topic="meetings.events:BallotCast",
                state=ballot_json(self.stream, n).encode("utf-8"),
            )
            for n in range(-WARMUP, self.count)
        ]
        for n in range(WARMUP):
            self.recorder.insert_events([self.events[n]])

    def append(self, k: int) -> None:
        self.recorder.insert_events([self.events[k + WARMUP]])

    def close(self) -> None:
        pass


# -- the runs ------------------------------------------------------------------------------------


def setup_appends(bench: Bench) -> tuple[Any, Any, Any]:
    """The raw floor's table and eventsourcing's two recorders: (datastore, application, aggregate)."""
    from urllib.parse import unquote, urlparse

    from eventsourcing.postgres import (
        PostgresAggregateRecorder,
        PostgresApplicationRecorder,
        PostgresDatastore,
    )

    bench.sql("CREATE SCHEMA raw_bench")
    bench.sql(
        """CREATE TABLE raw_bench.events (
             stream_id text NOT NULL, version integer NOT NULL, type text NOT NULL,
             data jsonb NOT NULL, metadata jsonb NOT NULL, recorded_at timestamptz NOT NULL,
             prev_hash char(64) NOT NULL, hash char(64) NOT NULL)"""
    )
    bench.sql("CREATE SCHEMA es_bench")
    u = urlparse(bench.url)
    datastore = PostgresDatastore(
        dbname=u.path.lstrip("/"), host=u.hostname or "127.0.0.1", port=u.port or 5432,
        user=unquote(u.username or ""), password=unquote(u.password or ""),
        pool_size=16, max_overflow=0, schema="es_bench",
    )
    es_app = PostgresApplicationRecorder(datastore, events_table_name="app_events")
    es_app.create_table()
    es_agg = PostgresAggregateRecorder(datastore, events_table_name="agg_events")
    es_agg.create_table()
    return datastore, es_app, es_agg


def appends(bench: Bench) -> None:
    """Sections 1-3: every implementation at each writer count, rounds alternating."""
    datastore, es_app, es_agg = setup_appends(bench)
    counts = {1: bench.args.single, 16: bench.args.per_writer}
    bench.r.counts = {1: counts[1], 16: 16 * counts[16]}
    bench.r.rounds = bench.args.rounds
    impls: dict[str, Callable[[str, int], Any]] = {
        "ours": lambda stream, count: OursWriter(stream, count),
        "stmts": lambda stream, count: StatementsWriter(
            bench.url, STATEMENTS_COUNTY, OursWriter(stream, count, county=RECORD_COUNTY)
        ),
        "raw": lambda stream, count: RawWriter(bench.url, stream, count),
        "es_app": lambda stream, count: EsWriter(es_app, stream, count),
        "es_agg": lambda stream, count: EsWriter(es_agg, stream, count),
    }
    order = [impl for impl in impls if impl in bench.args.impls]
    for rnd in range(bench.args.rounds):
        # Rotate the order each round so no implementation always goes first.
        rotated = order[rnd % len(order):] + order[: rnd % len(order)]
        for writers in bench.args.writers:
            for impl in rotated:
                per = counts[writers]
                bench.checkpoint()

                def make(i: int, impl: str = impl, per: int = per, writers: int = writers, rnd: int = rnd) -> Any:
                    return impls[impl](f"meeting-r{rnd}-w{writers}-{i}", per)

                run = run_writers(impl, writers, per, make, bench.wal)
                bench.r.runs.append(run)
                say(
                    f"  round {rnd + 1} {impl:7s} {writers:2d} writers: {run.rate:8.0f} appends/s"
                    f"  p50 {run.pct(0.5):6.2f} ms  p99 {run.pct(0.99):6.2f} ms  WAL {run.wal_bytes} B/append"
                    f"  CPU ms/append: client {run.client_cpu_ms:.2f}, machine {run.machine_cpu_ms:.2f}"
                )
    datastore.close()
    # The limit did the work ours did: every recorded append arrived in its county.
    if "stmts" not in order:
        return
    recorded = bench.sql(f"SELECT count(*) FROM {RECORD_COUNTY}.events")[0][0]
    sent = bench.sql(f"SELECT count(*) FROM {STATEMENTS_COUNTY}.events")[0][0]
    if recorded != sent:
        bench.r.problems.append(f"the same statements wrote {sent} events where ours wrote {recorded}")


def breakdown(bench: Bench) -> None:
    """Where one append's time goes (1 writer): per SQL statement, commit, and the rest."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from events.records import NO_STREAM
    from events.store import append
    from meetings.events import BallotCast, MeetingScheduled

    n = bench.args.breakdown
    spent: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])

    def label(sql: str) -> str:
        words = " ".join(sql.split())
        for key, name in (
            ("SET search_path", "SET search_path (django-tenants)"),
            ("FOR UPDATE", "lock the stream row + idempotency lookup (SELECT … FOR UPDATE)"),
            ("INSERT INTO events", "write: INSERT events, move the stream head, record the command (one CTE)"),
            ("UPDATE proj_meeting_board", "UPDATE proj_meeting_board (inline projection)"),
        ):
            if key in words:
                return name
        return words[:50]

    # The store runs its statements on plain psycopg cursors (server-side
    # binding, prepared), which Django's execute_wrapper does not see: time
    # them at psycopg's Cursor.execute for the length of this measurement.
    import psycopg

    import events.store as store_module

    original_execute = psycopg.Cursor.execute

    def timed_execute(cursor: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return original_execute(cursor, query, params, **kwargs)
        finally:
            entry = spent[label(str(query))]
            entry[0] += 1
            entry[1] += time.perf_counter() - t0

    original_publish = store_module._publish

    def timed_publish(committed: Any) -> None:
        t0 = time.perf_counter()
        try:
            original_publish(committed)
        finally:
            spent["after-commit publish (live.bus)"][0] += 1
            spent["after-commit publish (live.bus)"][1] += time.perf_counter() - t0

    stream = "meeting-breakdown"
    with schema_context(COUNTY):
        result = append(stream, [MeetingScheduled(**scheduled_data(stream))], expected_version=NO_STREAM,
                        command_id=uuid.uuid4())
        version = result.last_version
        events = [BallotCast(**ballot_data(stream, k)) for k in range(n + WARMUP)]
        for k in range(WARMUP):
            version = append(stream, [events[k]], expected_version=version, command_id=uuid.uuid4()).last_version
        original_commit = connection.commit

        def timed_commit() -> None:
            t0 = time.perf_counter()
            try:
                original_commit()
            finally:
                spent["COMMIT"][0] += 1
                spent["COMMIT"][1] += time.perf_counter() - t0

        connection.commit = timed_commit  # type: ignore[method-assign]
        psycopg.Cursor.execute = timed_execute  # type: ignore[method-assign]
        store_module._publish = timed_publish
        try:
            t0 = time.perf_counter()
            for k in range(WARMUP, WARMUP + n):
                version = append(stream, [events[k]], expected_version=version,
                                 command_id=uuid.uuid4()).last_version
            total = time.perf_counter() - t0
        finally:
            del connection.commit
            psycopg.Cursor.execute = original_execute  # type: ignore[method-assign]
            store_module._publish = original_publish
    bench.r.breakdown_total_ms = total / n * 1000
    bench.r.breakdown_appends = n
    rows = sorted(((k, int(c), s / n * 1000) for k, (c, s) in spent.items()), key=lambda x: -x[2])
    bench.r.breakdown = rows
    say(f"  breakdown over {n} appends, 1 writer: {bench.r.breakdown_total_ms:.3f} ms/append")
    for key, count, ms in rows:
        say(f"    {ms:7.3f} ms  {count / n:4.1f}×  {key}")
