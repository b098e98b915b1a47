"""bench/live_fanout.py's figures: ballots matched to screen counts by rank, the table, the docs section."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from _common import machine_text, say
from ballots_http import pct
from live_fanout_clients import COALESCE_MS, CONNECT_AT_ONCE, SETTLE_SECONDS, SUBJECTS, Cast, Screen

GOAL_P99_MS = 100.0


# -- analysis --------------------------------------------------------------------------------------------


@dataclass
class Fanout:
    name: str
    ballots: int
    rate: float
    offered_rate: float | None
    concurrency: int | None
    http_p50: float
    http_p99: float
    statuses: Counter[int]
    failures: int
    screens: int
    latencies_ms: list[float]
    negatives: int
    missing: int
    messages: list[int]  # per screen, during the phase (and its settle)
    cpu: dict[str, float]  # CPU seconds per process tree from the phase's start to its last answer
    cpu_settled: dict[str, float]  # ... from the phase's start to the end of its settle
    wall: float  # seconds from the phase's start to the end of its settle
    duration: float  # seconds from the phase's start to its last answer
    snapshots: int  # snapshot messages (not turnout) received during the phase, all screens
    behind: int  # screens that never showed the final count
    stuck_at: list[int]  # the highest count those screens showed

    def p(self, q: float) -> float:
        return pct(self.latencies_ms, q)

    def worst(self) -> float:
        return max(self.latencies_ms, default=float("nan"))


def ms(value: float) -> str:
    return "missed" if math.isinf(value) else f"{value:.1f}"


def ms_unit(value: float) -> str:
    return "missed (some screens never caught up)" if math.isinf(value) else f"{value:.1f} ms"


def cpu_text(cpu: dict[str, float]) -> str:
    return ", ".join(f"{name} {sec:.1f}" for name, sec in cpu.items())


def analyse(phase: Cast, screens: list[Screen], base: int, until: float, concurrency: int | None,
            cpu: dict[str, float], cpu_settled: dict[str, float]) -> Fanout:
    created = phase.created
    latencies: list[float] = []
    missing = 0
    messages: list[int] = []
    snapshots = 0
    for screen in screens:
        during = [(t, cast, kind) for t, cast, kind in screen.arrivals if phase.began <= t <= until]
        messages.append(len(during))
        snapshots += sum(1 for _, _, kind in during if kind == "snapshot")
        # Arrivals before the phase count too (a screen cannot show >= base + 1 before it: checked by j).
        arrivals = [(t, cast) for t, cast, _ in screen.arrivals if t <= until]
        j = 0
        shown = -1
        for k, answered in enumerate(created, start=1):
            while shown < base + k and j < len(arrivals):
                shown = max(shown, arrivals[j][1])
                j += 1
            if shown < base + k:
                # Never shown within the settle time: counted as infinitely late, not left out.
                missing += len(created) - k + 1
                latencies.extend([math.inf] * (len(created) - k + 1))
                break
            latencies.append((arrivals[j - 1][0] - answered) * 1000)
    negatives = sum(1 for ms in latencies if ms < 0)
    final = base + len(created)
    return Fanout(
        name=phase.name, ballots=len(created), rate=phase.rate, offered_rate=phase.offered_rate,
        concurrency=concurrency, http_p50=phase.http_ms(50), http_p99=phase.http_ms(99),
        statuses=phase.statuses, failures=phase.failures, screens=len(screens), latencies_ms=latencies,
        negatives=negatives, missing=missing, messages=messages, cpu=cpu, cpu_settled=cpu_settled, wall=until - phase.began,
        duration=phase.ended - phase.began, snapshots=snapshots,
        behind=sum(1 for s in screens if s.max_cast < final),
        stuck_at=sorted({s.max_cast for s in screens if s.max_cast < final}),
    )


# -- report ------------------------------------------------------------------------------------------------


@dataclass
class Results:
    started: str
    command: str
    workers: int
    redis: str | None
    threads: str
    screens: int
    machine: dict[str, str] = field(default_factory=dict)
    phases: list[Fanout] = field(default_factory=list)
    connect_seconds: float = 0.0
    problems: list[str] = field(default_factory=list)
    total_seconds: float = 0.0


def table(r: Results) -> list[str]:
    lines = [
        "| phase | ballots | ballots/s | HTTP p50 / p99 ms | screens | fan-out p50 ms | p90 ms | p99 ms | max ms "
        "| negative | missing | messages per screen (min-max) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for f in r.phases:
        if f.name == "burst":
            label = f"burst, {f.concurrency} clients closed loop"
        else:
            label = f"paced, open loop at {f.offered_rate:.0f}/s"
        mean = sum(f.messages) / len(f.messages) if f.messages else 0.0
        lines.append(
            f"| {label} | {f.ballots:,} | {f.rate:,.0f} | {f.http_p50:.1f} / {f.http_p99:.1f} | {f.screens} "
            f"| {ms(f.p(50))} | {ms(f.p(90))} | {ms(f.p(99))} | {ms(f.worst())} "
            f"| {f.negatives:,} | {f.missing:,} | {mean:.1f} ({min(f.messages, default=0)}-{max(f.messages, default=0)}) |"
        )
    return lines


def render(r: Results) -> str:
    lines: list[str] = []
    add = lines.append
    m = r.machine
    add("## Live turnout fan-out to hall screens (`bench/live_fanout.py`)")
    add("")
    add(f"Run {r.started} with `{r.command}` in {r.total_seconds:.0f} s.  ")
    add(f"Machine: {machine_text(m)}, "
        f"uvicorn {m['uvicorn']}, Django {m['django']}, websockets {m['websockets']}.  ")
    add(f"PostgreSQL: {m['postgres']}, embedded, on the same machine; {m['settings']}.  ")
    add(f"Code measured: {m['code']}.  ")
    layer = f"channels_redis on a local redis-server {r.redis}" if r.redis else "the in-memory channel layer (one process)"
    add(f"Server: `uvicorn shuping.asgi:application --workers {r.workers}` with the flags of "
        f"`shuping.server_options` (no permessage-deflate, 64 KiB frames); HTTP in Django's WSGI handler on a pool of threads (shuping.http_bridge, "
        f"SHUPING_HTTP_THREADS={r.threads}) with persistent database connections, websockets on the event "
        f"loop with Channels and {layer}; in each server process one subscription per meeting relays to that "
        f"process's screens (live.relay). The server, PostgreSQL{', Redis' if r.redis else ''} and the load generator "
        "(one Python process: asyncio, httpx for the ballots, the `websockets` client with permessage-deflate for "
        "the screens) share the CPUs.")
    add("")
    add(f"Load: one meeting at ballot_open ({len(SUBJECTS)} subjects per ballot), {r.screens} hall screens subscribed "
        f"(opened {CONNECT_AT_ONCE} at a time in {r.connect_seconds:.1f} s); the phones open their ballot forms "
        "first (`POST /api/v/<meeting>/form/` for every code, not measured: the burst meets HTTP threads that "
        "have served a request, as at any meeting), then ballots are cast with fresh codes "
        "(`POST /api/v/<meeting>/ballot/`, answered 201).")
    add("")
    add("Fan-out latency of a ballot on a screen: counts are interchangeable, so ballots are matched to counts by "
        "rank. When the k-th 201 answer arrives, at least k ballots are committed; the screen is up to date with "
        "that ballot from the first message showing a count >= k (base + k in a later phase). Latency = that "
        "arrival minus the k-th answer's arrival, over every ballot on every screen, both clocked in the load "
        "generator. Nothing is clamped: the server publishes right after the commit, before it writes the answer, "
        "so a screen may show a count before the answer reaches its client (\"negative\"). \"missing\": ballots a "
        f"screen never caught up with within {SETTLE_SECONDS:.0f} s. The server sends a screen at most one message "
        f"per {COALESCE_MS} ms, so a burst arrives as far fewer messages than ballots.")
    add("")
    lines.extend(table(r))
    add("")
    burst_phase = next((f for f in r.phases if f.name == "burst"), None)
    if burst_phase is not None:
        p99 = burst_phase.p(99)
        met = p99 < GOAL_P99_MS and not burst_phase.missing and not burst_phase.behind
        add(f"Goal: fan-out p99 < {GOAL_P99_MS:.0f} ms during the burst.")
        add("")
        add(f"- burst of {burst_phase.ballots} ballots at {burst_phase.rate:,.0f}/s to {burst_phase.screens} screens: "
            f"p99 **{ms_unit(p99)}**: **{'met' if met else 'NOT met'}**")
        for f in r.phases:
            if f.name != "burst":
                add(f"- for comparison, paced at {f.offered_rate:.0f} ballots/s: p99 {ms_unit(f.p(99))}")
        mean = sum(burst_phase.messages) / len(burst_phase.messages) if burst_phase.messages else 0.0
        add(f"- coalescing: {burst_phase.ballots} ballots reached each screen as {mean:.1f} messages on average "
            f"({burst_phase.ballots / mean if mean else 0:.1f} ballots per message; "
            f"{burst_phase.snapshots} of them full snapshots over all screens)")
        for f in r.phases:
            add(f"- CPU seconds during the {f.name} phase ({f.duration:.1f} s to its last answer, {r.machine['nproc']} "
                f"CPUs): {cpu_text(f.cpu)}; until the screens settled ({f.wall:.1f} s): {cpu_text(f.cpu_settled)}")
        add("")
    if r.problems:
        add("### Problems seen in this run")
        add("")
        for problem in r.problems:
            add(f"- {problem}")
        add("")
    return "\n".join(lines)


def report_phase(f: Fanout, waited: float) -> None:
    mean = sum(f.messages) / len(f.messages) if f.messages else 0.0
    say(f"  {f.ballots} ballots at {f.rate:,.0f}/s (HTTP p50 {f.http_p50:.1f} ms, p99 {f.http_p99:.1f} ms, "
        f"{dict(f.statuses)}); screens settled in {waited:.2f} s")
    say(f"  fan-out p50 {ms(f.p(50))} ms, p90 {ms(f.p(90))} ms, p99 {ms(f.p(99))} ms, "
        f"max {ms(f.worst())} ms; negative {f.negatives}, missing {f.missing}; "
        f"{mean:.1f} messages per screen ({f.snapshots} snapshots in all)")
    say(f"  CPU seconds over the {f.duration:.1f} s of the phase: {cpu_text(f.cpu)}; "
        f"until settled ({f.wall:.1f} s): {cpu_text(f.cpu_settled)}")
