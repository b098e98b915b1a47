"""bench/spot.py's figures: the rounds' table, the medians against the goal, and the docs section."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from spot_clients import PAPER_BATCHES, Round

GOAL_RATIO = 3.0
GOAL_MS = 150.0


# -- the report -----------------------------------------------------------------------------------


@dataclass
class Results:
    started: str
    command: str
    screens: int
    machine: dict[str, str] = field(default_factory=dict)
    rounds: list[Round] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    total_seconds: float = 0.0
    profile: str | None = None


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def closed_cell(x: Round) -> str:
    """The ballot_closed snapshot's arrival; none when every screen got the results' snapshot first (it is newer)."""
    return "none: results first" if x.closed_last_ms != x.closed_last_ms else f"{x.closed_last_ms:.0f} ms"


def render(r: Results) -> str:
    lines: list[str] = []
    add = lines.append
    add("## Results on the spot (`bench/spot.py`)")
    add("")
    add(f"Run {r.started}: `{r.command}` ({r.total_seconds:.0f} s in all). Machine: {r.machine.get('nproc')} CPUs "
        f"({r.machine.get('cpu')}), {r.machine.get('memory')}, Linux {r.machine.get('kernel')}, Python "
        f"{r.machine.get('python')}; {r.machine.get('postgres')} ({r.machine.get('settings')}); uvicorn "
        f"{r.machine.get('uvicorn')} (1 worker, flags of `shuping.server_options`, in-memory channel layer), "
        f"Django {r.machine.get('django')}; this tree: {r.machine.get('code')}. Load average when it ended: "
        f"{r.machine.get('load', '?')} (other work shares these CPUs).")
    add("")
    add(f"Each round: a fresh meeting of 400 voters (all checked in), 10 subjects x 5 criteria, 300 phone ballots "
        f"cast over HTTP and sealed, 100 paper ballots in {PAPER_BATCHES} batches each entered by two tellers; "
        f"{r.screens} hall screens and the host's console connected by websocket. The host's console sends "
        "`POST ballot/close/`, then on its answer `POST results/announce/` (two requests, as console.js sends "
        "them); measured from sending the close to the first frame with the announced results on each screen. "
        "The limit, measured right after each round on the same database (median of 3): psycopg alone reads "
        "those 400 ballots from the log and aggregates all 20,000 marks (by category, subject, criterion and "
        "grade) in one statement that stores the tally, plus one durable commit.")
    add("")
    add("| round | code | close answered | announce answered | ballot_closed on last screen | results: median "
        "screen | results: LAST screen | LAST after the announce's answer | console | limit | last / limit | "
        "CPU s: server, PostgreSQL |")
    add("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for x in r.rounds:
        name = f"{x.n} (warm-up)" if x.warmup else str(x.n)
        server_cpu = sum(v for k, v in x.cpu.items() if k.startswith("server"))
        add(f"| {name} | {x.label} | {x.close_answer_ms:.0f} ms | {x.announce_answer_ms:.0f} ms | "
            f"{closed_cell(x)} | {x.median_ms:.0f} ms | **{x.last_ms:.0f} ms** | "
            f"{x.last_ms - x.announce_answer_ms:.0f} ms | {x.console_ms:.0f} ms | "
            f"{x.limit_ms:.1f} ms | {x.last_ms / x.limit_ms if x.limit_ms else float('nan'):.1f}x | "
            f"{server_cpu:.2f}, {x.cpu.get('PostgreSQL', 0):.2f} |")
    add("")
    labels = list(dict.fromkeys(x.label for x in r.rounds))
    for label in labels:
        measured = [x for x in r.rounds if not x.warmup and x.label == label]
        if not measured:
            continue
        last = med([x.last_ms for x in measured])
        limit = med([x.limit_ms for x in measured])
        ratios = [x.last_ms / x.limit_ms for x in measured if x.limit_ms]
        worst = max(x.last_ms for x in measured)
        # The part after the commands: reading, encoding and sending the results frame (the room's work).
        after = med([x.last_ms - x.announce_answer_ms for x in measured])
        close = med([x.close_answer_ms for x in measured])
        cpu = med([sum(v for k, v in x.cpu.items() if k.startswith("server")) for x in measured])
        add(f"- {label}, {len(measured)} measured rounds: last screen median **{last:.0f} ms** (max {worst:.0f} ms), "
            f"limit median {limit:.1f} ms: **{med(ratios):.1f}x** the limit (median of the rounds' ratios; "
            f"{min(ratios):.1f}-{max(ratios):.1f}x); close answered after {close:.0f} ms, last screen "
            f"{after:.0f} ms after the announce's answer (medians); server CPU {cpu * 1000:.0f} ms a round (median); results "
            f"frame {measured[-1].results_kb:.1f} KiB. Goal within {GOAL_RATIO:.0f}x: "
            f"**{'met' if med(ratios) <= GOAL_RATIO else 'NOT met'}**; under {GOAL_MS:.0f} ms: "
            f"**{'met' if last < GOAL_MS else 'NOT met'}**.")
    add("")
    if r.profile:
        add(r.profile)
        add("")
    if r.problems:
        add("### Problems seen in this run")
        add("")
        for problem in r.problems:
            add(f"- {problem}")
        add("")
    return "\n".join(lines)
