"""bench/ballots_http.py's figures: the results of a run and its docs section."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import ballots_http_load
from _common import machine_text
from ballots_http_load import RAW_WRITERS, SUBJECTS, Phase


@dataclass
class Results:
    started: str
    command: str
    workers: int
    meetings: int
    voters: int
    clients: int
    machine: dict[str, str] = field(default_factory=dict)
    ceiling: Phase | None = None
    peak: Phase | None = None
    paced: Phase | None = None
    raw: Phase | None = None
    problems: list[str] = field(default_factory=list)
    total_seconds: float = 0.0


# -- report -------------------------------------------------------------------------------------


def render(r: Results) -> str:
    lines: list[str] = []
    add = lines.append
    add("## Ballot casting over HTTP (`bench/ballots_http.py`)")
    add("")
    add(f"Run {r.started} with `{r.command}` in {r.total_seconds:.0f} s.  ")
    add(f"Machine: {machine_text(r.machine)}, uvicorn {r.machine['uvicorn']}, Django {r.machine['django']}.  ")
    add(f"PostgreSQL: {r.machine['postgres']}, embedded, on the same machine; {r.machine['settings']}.  ")
    add(f"Server: `uvicorn shuping.asgi:application --workers {r.workers}` (event loop: {r.machine['loop']}, "
        f"HTTP parser: {r.machine['http']}); in each worker HTTP runs in Django's WSGI handler on a pool of "
        f"{os.environ.get('SHUPING_HTTP_THREADS', '16')} threads (SHUPING_HTTP_THREADS, one hand-off each way, "
        "see shuping/http_bridge.py) with persistent database connections "
        f"(CONN_MAX_AGE={os.environ.get('SHUPING_CONN_MAX_AGE', '300')} s), websockets (none here) on the event loop; "
        "on the same machine as PostgreSQL and the load generator (one Python process, asyncio, "
        f"{'a minimal HTTP/1.1 client on asyncio streams' if ballots_http_load.CLIENT == 'lean' else 'httpx'}), so all three share "
        "the CPUs, with whatever else runs on the machine.")
    add("")
    add(f"Load: {r.meetings} meetings with ballots open, {r.voters} voters each per phase, {len(SUBJECTS)} subjects per "
        "ballot, casts interleaved across the meetings; each request is `POST /api/v/<meeting>/ballot/` with a "
        "fresh code (a first cast, answered 201).")
    add("")
    add("| what | ballots | ballots/s | p50 ms | p99 ms | answers |")
    add("|---|---:|---:|---:|---:|---|")
    for phase in (r.ceiling, r.peak, r.paced, r.raw):
        if phase is None:
            continue
        label = phase.name
        if phase is r.ceiling:
            label = f"HTTP stack ceiling: `GET /healthz`, {r.clients} concurrent clients (closed loop)"
            answers = ", ".join(f"{k}: {v}" for k, v in sorted(phase.statuses.items()))
            add(f"| {label} | {phase.ballots:,} requests | {phase.rate:,.0f} req/s | {phase.ms(50):.1f} | "
                f"{phase.ms(99):.1f} | {answers or '-'} |")
            continue
        if phase is r.peak:
            label = f"HTTP peak, {r.clients} concurrent clients (closed loop)"
        elif phase is r.paced:
            label = f"HTTP at 50% of peak, open loop ({phase.target_rate:.0f}/s offered)"
        else:
            label = f"raw floor: psycopg INSERT, autocommit, {RAW_WRITERS} writer threads"
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(phase.statuses.items()))
        if phase.failures:
            answers += f", transport errors: {phase.failures}"
        add(f"| {label} | {phase.ballots:,} | {phase.rate:,.0f} | {phase.ms(50):.1f} | {phase.ms(99):.1f} | {answers or '-'} |")
    add("")
    measured = [(name, phase, unit) for name, phase, unit in (
        ("HTTP stack ceiling", r.ceiling, "request"), ("HTTP peak", r.peak, "ballot"),
        ("HTTP at 50% of peak", r.paced, "ballot"), ("raw floor", r.raw, "row"),
    ) if phase is not None and phase.cpu and phase.rate]
    if measured:
        add("Where the CPU went (average cores busy during each phase, and CPU milliseconds per request, ballot "
            "or row; the load generator is this script's process; the rest of the machine is everything else "
            "that ran meanwhile):")
        add("")
        add("| phase | server | PostgreSQL | load generator | whole machine |")
        add("|---|---:|---:|---:|---:|")
        for name, phase, unit in measured:
            cells = " | ".join(
                f"{phase.cpu[part]:.2f} ({phase.cpu[part] / phase.rate * 1000:.2f} ms/{unit})"
                for part in ("server", "postgres", "generator")
            )
            add(f"| {name} | {cells} | {phase.cpu['machine']:.2f} of {r.machine['nproc']} |")
        add("")
    if r.peak and r.raw and r.paced:
        ratio = r.peak.rate / r.raw.rate if r.raw.rate else 0.0
        throughput_ok = ratio >= 0.5
        latency_ok = r.paced.ms(99) < 100
        add("Goal: HTTP peak >= 0.5 x the raw 16-writer floor, and p99 < 100 ms at half the peak rate.")
        add("")
        add(f"- throughput: {r.peak.rate:,.0f} / {r.raw.rate:,.0f} = **{ratio:.2f} x** the floor: "
            f"**{'met' if throughput_ok else 'NOT met'}**")
        add(f"- latency at 50% of peak: p99 **{r.paced.ms(99):.1f} ms**: **{'met' if latency_ok else 'NOT met'}**")
        add("")
        add("What the floor is: a bare INSERT of an already-built row from 16 threads holding one connection "
            "each: no HTTP, no request parsing, no check against the meeting, no county, no lock on the meeting's "
            "stream, no transaction beyond the INSERT's own. It is the database's share of a cast and nothing "
            "else; a cast over HTTP adds an HTTP request and answer, Django's request cycle and the check of the "
            "ballot, all in Python.")
        add("")
    if r.ceiling and r.raw and r.peak:
        add(f"HTTP stack ceiling: a trivial request (`GET /healthz`: the same uvicorn, ASGI router, thread pool, "
            f"Django middleware and county lookup, plus one `SELECT 1` and no commit) peaks at "
            f"{r.ceiling.rate:,.0f} req/s here, **{r.ceiling.rate / r.raw.rate:.2f} x** the floor. A cast does all "
            f"of that and more (a request body, the check, a durable commit), so on this stack and machine it "
            f"cannot reach the ceiling, let alone the floor; it reaches **{r.peak.rate / r.ceiling.rate:.2f} x** "
            "the ceiling.")
        add("")
    if r.problems:
        add("### Problems seen in this run")
        add("")
        for problem in r.problems:
            add(f"- {problem}")
        add("")
    return "\n".join(lines)
