"""bench/event_store.py's docs section: medians per implementation and writer count, ratios, tables."""

from __future__ import annotations

import statistics
from typing import Any

from _common import machine_text
from event_store_data import WARMUP, Results

NAMES = {
    "ours": "Shuping store (`events.store.append`)",
    "stmts": "limit: the same statements (psycopg, precomputed parameters)",
    "raw": "raw floor (psycopg INSERT, autocommit)",
    "es_app": "eventsourcing `PostgresApplicationRecorder`",
    "es_agg": "eventsourcing `PostgresAggregateRecorder`",
}


def medians(r: Results) -> dict[tuple[str, int], dict[str, Any]]:
    out = {}
    for key in {(run.impl, run.writers) for run in r.runs}:
        runs = [run for run in r.runs if (run.impl, run.writers) == key]
        out[key] = {
            "rate": statistics.median(run.rate for run in runs),
            "p50": statistics.median(run.pct(0.5) for run in runs),
            "p99": statistics.median(run.pct(0.99) for run in runs),
            "wal": statistics.median(run.wal_bytes for run in runs),
            "client_cpu": statistics.median(run.client_cpu_ms for run in runs),
            "machine_cpu": statistics.median(run.machine_cpu_ms for run in runs),
            "rates": [run.rate for run in runs],
        }
    return out


def per_round_ratios(r: Results, a: str, b: str, writers: int) -> list[float]:
    mine = [run.rate for run in r.runs if run.impl == a and run.writers == writers]
    theirs = [run.rate for run in r.runs if run.impl == b and run.writers == writers]
    return [x / y for x, y in zip(mine, theirs, strict=True)]


def render(r: Results) -> str:
    m = medians(r)
    lines: list[str] = []
    add = lines.append
    ratio_stm = m[("ours", 16)]["rate"] / m[("stmts", 16)]["rate"]
    rounds_stm = per_round_ratios(r, "ours", "stmts", 16)
    ratio_raw = m[("ours", 16)]["rate"] / m[("raw", 16)]["rate"]
    ratio_app = m[("ours", 16)]["rate"] / m[("es_app", 16)]["rate"]
    ratio_agg = m[("ours", 16)]["rate"] / m[("es_agg", 16)]["rate"]
    rounds_raw = per_round_ratios(r, "ours", "raw", 16)
    rounds_app = per_round_ratios(r, "ours", "es_app", 16)
    rounds_agg = per_round_ratios(r, "ours", "es_agg", 16)

    def fmt(xs: list[float]) -> str:
        return ", ".join(f"{x:.2f}" for x in xs)

    add("## Event store (`bench/event_store.py`)")
    add("")
    add(f"Command: `{r.command}`  ")
    add(f"Date: {r.started}  ")
    add(
        f"Machine: {machine_text(r.machine)}, psycopg {r.machine['psycopg']}, "
        f"Django {r.machine['django']}, eventsourcing {r.machine['eventsourcing']}  "
    )
    add(f"PostgreSQL: {r.machine['postgres']}, embedded, on the same machine as the benchmark; "
        f"{r.machine['settings']}  ")
    add(f"Whole run: {r.total_seconds:.0f} s")
    add("")
    add("Goals (issue 18, item 4): **ours ≥ 0.7 × the same statements sent by psycopg at 16 writers; "
        "ours ≥ 2 × eventsourcing's application recorder in every round.** (The raw INSERT floor is shown "
        "for reference; it was the earlier goal's yardstick.)")
    add("")
    met_stm = ratio_stm >= 0.7
    met_es = min(rounds_app) >= 2
    add(f"- ours / the same statements at 16 writers: **{ratio_stm:.2f}** (per round: {fmt(rounds_stm)}) — "
        + ("goal met." if met_stm else "**goal not met** in this run."))
    add(f"- ours / eventsourcing `PostgresApplicationRecorder` at 16 writers: **{ratio_app:.2f}** "
        f"(per round: {fmt(rounds_app)}) — " + ("goal met." if met_es else "**goal not met** in this run."))
    add(f"- ours / raw floor at 16 writers: {ratio_raw:.2f} (per round: {fmt(rounds_raw)}).")
    add(f"- ours / eventsourcing `PostgresAggregateRecorder` at 16 writers: **{ratio_agg:.2f}** "
        f"(per round: {fmt(rounds_agg)}) — "
        + ("ahead." if ratio_agg > 1 else "behind.")
        + " (That recorder keeps no county-wide log order, so it has less to do than ours.)")
    add("")
    add("### 1–3. Appends: one ~2 kB ballot per transaction")
    add("")
    add(
        f"One `BallotCast` per append (data {r.ballot_bytes} bytes of JSON: 10 subjects × 5 criteria, grades "
        "好/较好/一般/差), one transaction each, every commit durable. Each writer is a thread appending to its "
        f"own stream (a meeting) in one county; 1 writer: {r.counts[1]} appends, 16 writers: 16 × "
        f"{r.counts[16] // 16} appends, after {WARMUP} untimed warm-up appends per writer. "
        f"Configurations alternate (order rotated each round); figures are the medians of {r.rounds} rounds. "
        "Latency is per append call, seen by the writer. WAL is bytes of WAL written per append. "
        "Client CPU is the CPU time of the benchmark's Python process (all threads) per append; machine CPU "
        "is the busy time of all CPUs per append (/proc/stat), so the difference is mostly PostgreSQL "
        "(and anything else running on the shared machine)."
    )
    add("")
    add("| implementation | writers | appends/s | p50 ms | p99 ms | WAL B/append | client CPU ms/append "
        "| machine CPU ms/append | appends/s per round |")
    add("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for writers in (1, 16):
        for impl in ("ours", "stmts", "raw", "es_app", "es_agg"):
            x = m[(impl, writers)]
            add(f"| {NAMES[impl]} | {writers} | {x['rate']:.0f} | {x['p50']:.2f} | {x['p99']:.2f} | "
                f"{x['wal']:.0f} | {x['client_cpu']:.2f} | {x['machine_cpu']:.2f} | "
                f"{', '.join(f'{v:.0f}' for v in x['rates'])} |")
    add("")
    add("| ratio (medians) | 1 writer | 16 writers |")
    add("|---|---:|---:|")
    for label, other in (("ours / the same statements", "stmts"), ("ours / raw floor", "raw"),
                         ("ours / eventsourcing application recorder", "es_app"),
                         ("ours / eventsourcing aggregate recorder", "es_agg")):
        add(f"| {label} | {m[('ours', 1)]['rate'] / m[(other, 1)]['rate']:.2f} | "
            f"{m[('ours', 16)]['rate'] / m[(other, 16)]['rate']:.2f} |")
    add("")
    add("What each does per append:")
    add("")
    add("- **ours**: validate the event, canonical JSON + SHA-256 chain link; one statement that moves the stream head (`UPDATE event_streams` only if version, head hash and a new command id match: the row lock and the idempotency check), inserts the events and records the command (the lock and lookup take a statement of their own when this process does not know the head); inline `meeting_board` `UPDATE`; after commit, the publish to the live layer; through Django + django-tenants.")
    add("- **the same statements** (the limit): the statements ours sent for the same ballot, recorded with "
        "their parameters from an untimed run of ours in another county (`bench/_statements.py`), sent again "
        "by psycopg on a plain connection in the same transactions: no validation, canonical JSON, hashing, "
        "Django or after-commit publish.")
    add("- **raw floor**: one `INSERT` of the same row (same JSON text, same columns: stream_id, version, "
        "type, data jsonb, metadata jsonb, recorded_at, prev_hash, hash) into a table with no index, "
        "autocommit, prepared by psycopg; hashes precomputed.")
    add("- **eventsourcing application recorder**: the recorder an eventsourcing `Application` uses "
        "(`insert_events([StoredEvent])`, pipeline: `LOCK TABLE … IN EXCLUSIVE MODE`, `NOTIFY`, insert "
        "with `(originator_id, originator_version)` primary key and a notification id). The state is the same "
        "JSON bytes; the library's mapper/transcoder is not run, so its figure is the recorder alone.")
    add("- **eventsourcing aggregate recorder**: the same insert without the table lock and notification id.")
    add("")
    if r.breakdown:
        add(f"Where a single writer's append goes ({r.breakdown_appends} appends, "
            f"{r.breakdown_total_ms:.3f} ms each, run separately from the figures "
            "above):")
        add("")
        add("| step | per append | ms per append |")
        add("|---|---:|---:|")
        accounted = 0.0
        for key, count, ms in r.breakdown:
            accounted += ms
            add(f"| {key} | {count / r.breakdown_appends:.1f}× | {ms:.3f} |")
        add(f"| rest: Python outside statements (validation, canonical JSON, hashing, Django) | | "
            f"{r.breakdown_total_ms - accounted:.3f} |")
        add("")
        add("Statement times are wall-clock times of psycopg's `Cursor.execute` as the store sees them "
            "(round trip included); the statements are bound on the server and prepared by psycopg.")
        add("")
    rb = r.rebuild
    if rb:
        add(f"### 4. Rebuild of a {rb['events']:,}-event county log")
        add("")
        add(f"{rb['streams']} meetings × {rb['per_stream']} events (MeetingScheduled, 15 % AttendeeCheckedIn, "
            "4 % QuestionAsked, 4 % QuestionAnswered, the rest BallotCast), loaded at "
            f"{rb['load_rate']:.0f} events/s (one append of {rb['per_stream']} events per meeting, 4 threads).")
        add("")
        add("| what | events | seconds | events/s | identical to live |")
        add("|---|---:|---:|---:|---|")
        n, s = rb["raw_read"]
        add(f"| raw read: psycopg `SELECT * … ORDER BY transaction_id, position`, fetchall | {n:,} | {s:.2f} | "
            f"{n / s:,.0f} | |")
        n, s = rb["store_read"]
        add(f"| `events.store.read_all` pages of 5000, no projection | {n:,} | {s:.2f} | {n / s:,.0f} | |")
        n, s, same = rb["meeting_board"]
        add(f"| `rebuild(get(\"meeting_board\"))` | {n:,} | {s:.2f} | {n / s:,.0f} | {same} |")
        n, s = rb["catch_up"]
        add(f"| `catch_up(get(\"log_index\"), batch=5000)` from 0 (to have a live state) | {n:,} | {s:.2f} | "
            f"{n / s:,.0f} | |")
        n, s, same = rb["log_index"]
        add(f"| `rebuild(get(\"log_index\"))` | {n:,} | {s:.2f} | {n / s:,.0f} | {same} |")
        add("")
    v = r.verify
    if v:
        add(f"### 5. Offline verification of a {v['events']:,}-event meeting log")
        add("")
        add(f"One stream of {v['events']:,} events (same mix) exported with `export_stream_to_file` "
            f"({v['bytes'] / 1e6:.1f} MB of JSON Lines); verify and raw read are medians of 3.")
        add("")
        add("| what | events/s | seconds |")
        add("|---|---:|---:|")
        add(f"| `export_stream_to_file` (from PostgreSQL) | {v['events'] / v['export']:,.0f} | {v['export']:.3f} |")
        add(f"| `verify_file` (ok={v['ok']}) | {v['events'] / v['verify']:,.0f} | {v['verify']:.3f} |")
        add(f"| raw read: read lines + `json.loads` | {v['events'] / v['raw']:,.0f} | {v['raw']:.3f} |")
        add("")
    if r.problems:
        add("### Problems seen in this run")
        add("")
        for p in r.problems:
            add(f"- {p}")
        add("")
    return "\n".join(lines)
