"""bench/event_store.py, sections 4 and 5: rebuilding a county log's projections, verifying a meeting log offline."""

from __future__ import annotations

import json
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import say
from event_store_data import COUNTY, LOG_COUNTY, Bench, meeting_log


def rebuild(bench: Bench) -> None:
    """Section 4: load a county log, then read it raw, through the store, and rebuild its projections."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from events.reading import read_all
    from events.records import NO_STREAM, Checkpoint
    from events.store import append
    from projections.runtime import catch_up, get, rebuild
    from tenants.provisioning import create_county

    create_county(slug=LOG_COUNTY, name="基准县（日志）", domains=["benchlog.localhost"])
    streams, per_stream = bench.args.log_streams, bench.args.log_per_stream
    total = streams * per_stream
    say(f"  loading {total} events ({streams} streams × {per_stream}) in appends of {per_stream} events…")

    def load(first: int, step: int) -> None:
        try:
            with schema_context(LOG_COUNTY):
                for s in range(first, streams, step):
                    stream = f"meeting-{s:04d}"
                    batch = meeting_log(stream, per_stream)
                    append(stream, batch, expected_version=NO_STREAM, command_id=uuid.uuid4())
        finally:
            connection.close()

    t0 = time.perf_counter()
    loaders = [threading.Thread(target=load, args=(i, 4)) for i in range(4)]
    for t in loaders:
        t.start()
    for t in loaders:
        t.join()
    load_s = time.perf_counter() - t0
    out: dict[str, Any] = {"events": total, "streams": streams, "per_stream": per_stream,
                           "load_rate": total / load_s}
    bench.sql(f"VACUUM ANALYZE {LOG_COUNTY}.events")
    bench.checkpoint()
    count = int(bench.sql(f"SELECT count(*) FROM {LOG_COUNTY}.events")[0][0])
    if count != total:
        bench.r.problems.append(f"log county holds {count} events, expected {total}")
    say(f"  loaded in {load_s:.1f} s ({total / load_s:.0f} events/s, 4 threads, inline projection included)")

    def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
        t0 = time.perf_counter()
        value = fn()
        return time.perf_counter() - t0, value

    # CPU of the work itself: this process's, plus that of the PostgreSQL backend serving it (read from
    # /proc). On a shared machine under load the wall clock mostly counts waiting for a turn.
    cpu: dict[str, float] = {}

    def backend_seconds(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def with_cpu(name: str, fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                pid = int(cursor.fetchone()[0])
            c0, b0 = time.process_time(), backend_seconds(pid)
            value = fn()
            cpu[name] = time.process_time() - c0 + backend_seconds(pid) - b0
            return value
        return run

    # Raw read: psycopg, no Django, every row of the log in commit order.
    def raw_read() -> int:
        import psycopg

        c0 = time.process_time()
        with psycopg.connect(bench.url) as conn:
            pid = int(conn.execute("SELECT pg_backend_pid()").fetchone()[0])  # type: ignore[index]
            b0 = backend_seconds(pid)
            rows = conn.execute(f"SELECT * FROM {LOG_COUNTY}.events ORDER BY transaction_id, position").fetchall()
            cpu["raw_read"] = time.process_time() - c0 + backend_seconds(pid) - b0
        return len(rows)

    with schema_context(LOG_COUNTY):
        def store_read() -> int:
            done, cp = 0, Checkpoint()
            while True:
                chunk = read_all(cp, limit=5000)
                if not chunk:
                    return done
                done += len(chunk)
                cp = Checkpoint(chunk[-1].transaction_id, chunk[-1].position)

        s, n = timed(with_cpu("store_read", store_read))
        out["store_read"] = (n, s)
        say(f"  store read_all, no projection       : {n / s:9.0f} events/s ({s:.2f} s; CPU {cpu['store_read']:.2f} s)")
        s, n = timed(raw_read)
        out["raw_read"] = (n, s)
        say(f"  raw read (psycopg fetchall)         : {n / s:9.0f} events/s ({s:.2f} s; CPU {cpu['raw_read']:.2f} s)")

        s, report = timed(with_cpu("meeting_board", lambda: rebuild(get("meeting_board"))))
        out["meeting_board"] = (report.events, s, report.identical)
        say(f"  rebuild meeting_board (inline)      : {report.events / s:9.0f} events/s ({s:.2f} s)"
            f" identical={report.identical}; CPU {cpu['meeting_board']:.2f} s (client and its backend),"
            f" x raw read by CPU {cpu['raw_read'] / cpu['meeting_board']:.2f}, by wall {out['raw_read'][1] / s:.2f}")
        if not report.identical or report.events != total:
            bench.r.problems.append(
                f"rebuild(meeting_board): events={report.events} identical={report.identical} "
                f"(only_live={report.only_live[:2]}, only_rebuilt={report.only_rebuilt[:2]})"
            )
        s, n = timed(lambda: catch_up(get("log_index"), batch=5000))
        out["catch_up"] = (n, s)
        say(f"  catch_up log_index from 0           : {n / s:9.0f} events/s ({s:.2f} s)")

        s, report = timed(lambda: rebuild(get("log_index")))
        out["log_index"] = (report.events, s, report.identical)
        say(f"  rebuild log_index (catch-up)        : {report.events / s:9.0f} events/s ({s:.2f} s)"
            f" identical={report.identical}; x raw read by wall {out['raw_read'][1] / s:.2f}")
        if not report.identical or report.events != total:
            bench.r.problems.append(
                f"rebuild(log_index): events={report.events} identical={report.identical} "
                f"(only_live={report.only_live[:2]}, only_rebuilt={report.only_rebuilt[:2]})"
            )
    connection.close()
    bench.r.rebuild = out


def verify(bench: Bench, workdir: Path) -> None:
    """Section 5: export one meeting's log, verify it offline beside a raw read of the file."""
    from django.db import connection
    from django_tenants.utils import schema_context

    from events.export import export_stream_to_file
    from events.records import NO_STREAM
    from events.store import append
    from events.verify import verify_file

    total = bench.args.verify_events
    stream = "meeting-audit"
    events = meeting_log(stream, total)
    path = workdir / "meeting-audit.jsonl"
    with schema_context(COUNTY):
        version: Any = NO_STREAM
        for start in range(0, total, 1000):
            version = append(stream, events[start:start + 1000], expected_version=version,
                             command_id=uuid.uuid4()).last_version
        t0 = time.perf_counter()
        header = export_stream_to_file(stream, path)
        export_s = time.perf_counter() - t0
    connection.close()
    if header["event_count"] != total:
        bench.r.problems.append(f"export header counts {header['event_count']} events, expected {total}")

    def raw() -> int:
        n = 0
        with open(path, "rb") as handle:
            next(handle)  # header
            for line in handle:
                json.loads(line)
                n += 1
        return n

    verify_times, raw_times = [], []
    report = None
    for _ in range(3):
        t0 = time.perf_counter()
        report = verify_file(path)
        verify_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        n = raw()
        raw_times.append(time.perf_counter() - t0)
    assert report is not None
    if not report.ok or report.event_count != total or n != total:
        bench.r.problems.append(
            f"verify_file: ok={report.ok} events={report.event_count} first problem={report.first_problem}"
        )
    v, r = statistics.median(verify_times), statistics.median(raw_times)
    bench.r.verify = {
        "events": total, "bytes": path.stat().st_size, "export": export_s, "verify": v, "raw": r,
        "ok": report.ok,
    }
    say(f"  export_stream_to_file: {total / export_s:9.0f} events/s ({export_s:.2f} s,"
        f" {path.stat().st_size / 1e6:.1f} MB)")
    say(f"  verify_file          : {total / v:9.0f} events/s ({v:.3f} s) ok={report.ok}")
    say(f"  raw read + json.loads: {total / r:9.0f} events/s ({r:.3f} s)")
