"""bench/peak.py's figures: ballots matched to screens, latencies, CPU per ballot, the plot and the docs section."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import machine_text
from ballots_http import pct

GOAL_RATE = 170.0
GOAL_AT_ONCE = 250
GOAL_CAST_P99_MS = 200.0
GOAL_SCREEN_P99_MS = 250.0
SUSTAINED_SHARE = 0.9  # "sustained": while at least this share of the halls vote at once
BUCKET = 10.0  # seconds, for rates and percentiles over time


@dataclass
class Run:
    started: str
    command: str
    args: dict[str, Any]
    machine: dict[str, str]
    counties: int
    county_seconds: float
    setup_seconds: float
    setup_requests: int
    checkins: list[float]
    results: list[dict[str, Any]]  # one per generator process (bench/peak_load.py)
    samples: list[dict[str, float]]  # CPU samples (peak.CpuSampler)
    window: float
    server_argv: str
    tracebacks: int
    log_tail: str
    profiles: list[str] = field(default_factory=list)
    log_errors: list[str] = field(default_factory=list)
    total_seconds: float = 0.0


def screen_latencies(meeting: dict[str, Any]) -> list[tuple[float, float]]:
    """(answer arrival, seconds until the meeting's screen showed a count that includes it), matched by rank.

    The k-th 201 answer proves k ballots committed; the screen is up to date
    with it from its first frame showing >= k. A ballot the screen never
    caught up with gets infinity (counted, not left out).
    """
    created = sorted(answered for _, answered, status in meeting["ballots"] if status == 201)
    frames = [(t, cast) for t, cast, _kind, _phase in meeting["screen"] if cast is not None]
    out: list[tuple[float, float]] = []
    j, shown = 0, -1
    for k, answered in enumerate(created, start=1):
        while shown < k and j < len(frames):
            shown = max(shown, frames[j][1])
            j += 1
        out.append((answered, frames[j - 1][0] - answered if shown >= k else math.inf))
    return out


def _active(intervals: list[tuple[float, float]], at: float) -> int:
    return sum(1 for a, b in intervals if a <= at < b)


def analyse(run: Run) -> dict[str, Any]:
    meetings = [m for r in run.results for m in r["meetings"]]
    began = min(r["began"] for r in run.results)
    ended = max(r["ended"] for r in run.results)
    ballots = [b for m in meetings for b in m["ballots"]]
    created = [b for b in ballots if b[2] == 201]
    cast = [(due - began, answered - due) for due, answered, status in created]
    forms = [answered - due for m in meetings for due, answered, status in m["forms"] if status == 200]
    screen = [(t - began, lat) for m in meetings for t, lat in screen_latencies(m)]
    problems: list[str] = []

    def op(m: dict[str, Any], name: str) -> list[float] | None:
        return m["ops"].get(name)

    close_to_results, closes, announces, notices = [], [], [], []
    op_status: Counter[str] = Counter()
    for m in meetings:
        for name in ("ballot_open", "ballot_close", "announce", "meeting_close", "notice"):
            got = op(m, name)
            op_status[f"{name} {got[2] if got else 'not sent'}"] += 1
        close, announce, notice = op(m, "ballot_close"), op(m, "announce"), op(m, "notice")
        if close:
            closes.append(close[1] - close[0])
            if m.get("results_on_screen") is not None:
                close_to_results.append(m["results_on_screen"] - close[0])
            else:
                close_to_results.append(math.inf)
        if announce:
            announces.append(announce[1] - announce[0])
        if notice:
            notices.append(notice[1] - notice[0])

    # Meetings voting at once: from the ballot's opening (answered) to the close (sent).
    intervals = [(m["ops"]["ballot_open"][1], m["ops"]["ballot_close"][0]) for m in meetings
                 if "ballot_open" in m["ops"] and "ballot_close" in m["ops"]]
    edges = sorted({a for a, _ in intervals} | {b for _, b in intervals})
    most = max((_active(intervals, t) for t in edges), default=0)
    need = math.ceil(SUSTAINED_SHARE * run.args["at_once"])
    full = [t for t in edges if _active(intervals, t) >= need]
    sustained: dict[str, float] = {}
    if full:
        a, b = min(full), max(full)
        # The span between the first and the last moment with >= need halls voting (it may dip between).
        count = sum(1 for _, answered, _ in created if a <= answered <= b)
        sustained = {"start": a - began, "end": b - began, "rate": count / (b - a) if b > a else 0.0,
                     "ballots": count,
                     "cast_p99": pct([answered - due for due, answered, _ in created if a <= due <= b], 99) * 1000,
                     "screen_p99": pct([lat for t, lat in screen if a <= t + began <= b], 99) * 1000}

    # The opening wave: from the start until the last hall's "open ballot" was answered. Every hall opens
    # within the ramp, and a fifth of all phones open their form at their hall's opening (their lead would
    # fall before it), so these seconds carry the most requests of the peak.
    opened = [m["ops"]["ballot_open"][1] for m in meetings if "ballot_open" in m["ops"]]
    wave_end = max(opened) if opened else began
    waves = {}
    for name, inside in (("opening", lambda t: t < wave_end), ("after", lambda t: t >= wave_end)):
        due = [answered - d for d, answered, _ in created if inside(d)]
        seen = [lat for t, lat in screen if inside(t + began)]
        requests = sum(1 for m in meetings for d, _, _ in m["ballots"] + m["forms"] if inside(d))
        waves[name] = {"ballots": len(due), "requests": requests, "cast_p99": pct(due, 99) * 1000 if due else math.nan,
                       "screen_p99": pct(seen, 99) * 1000 if seen else math.nan}
    cpu = cpu_between(run.samples, began, ended)
    generator_cpu = sum(r["cpu"] for r in run.results)
    seconds = ended - began
    statuses = Counter(str(b[2]) for b in ballots)
    failures = sum(m["failures"] for m in meetings)
    expected = sum(len(m["ballots"]) for m in meetings)
    if len(created) != run.args["meetings"] * run.args["voters"]:
        problems.append(f"{len(created):,} ballots answered 201 of {run.args['meetings'] * run.args['voters']:,} "
                        f"({dict(statuses)}, transport errors {failures})")
    missing = sum(1 for _, lat in screen if math.isinf(lat))
    if missing:
        problems.append(f"{missing:,} ballots never appeared on their meeting's screen")
    unseen = sum(1 for x in close_to_results if math.isinf(x))
    if unseen:
        problems.append(f"{unseen} meetings' screens did not show the results within 60 s of the close")
    bad_ops = {k: v for k, v in op_status.items() if not re.search(r" (200|201|302)$", k)}
    if bad_ops:
        problems.append(f"host and desk operations not answered as expected: {bad_ops}")
        why = Counter(m.get("notice_error") or (m.get("notice_page") or "")[:200] for m in meetings
                      if m.get("notice_error") or m.get("notice_page"))
        if why:
            problems.append(f"why the notices failed (transport error, or the start of the form page): {dict(why)}")
    closed = Counter(code for m in meetings for code in m["closes"].values())
    if closed:
        problems.append(f"websockets closed by the server during the peak: {dict(closed)}")
    if run.tracebacks:
        problems.append(f"the server log shows {run.tracebacks} tracebacks: " + "; ".join(run.log_errors))
    late = max(r["late"] for r in run.results)
    if late > 1:
        problems.append(f"a generator began {late:.1f} s late (its websockets took long to open)")
    loads = [s["load"] for s in run.samples if began <= s["t"] <= ended]
    return {
        "began": began, "seconds": seconds, "ballots": len(created), "expected": expected, "statuses": statuses,
        "failures": failures, "rate": len(created) / seconds if seconds else 0.0, "sustained": sustained,
        "most_at_once": most, "cast": cast, "screen": screen, "forms": forms,
        "close_to_results": close_to_results, "closes": closes, "announces": announces, "notices": notices,
        "op_status": op_status, "cpu": cpu, "generator_cpu": generator_cpu,
        "generator_rss_mb": max(r["maxrss_kb"] for r in run.results) / 1024,
        "sockets": sum(r["sockets"] for r in run.results), "connect": max(r["connect_seconds"] for r in run.results),
        "console_frames": sum(m["console"][0] for m in meetings), "screen_frames": sum(len(m["screen"]) for m in meetings),
        "load": (min(loads), max(loads)) if loads else (math.nan, math.nan), "problems": problems,
        "meetings": len(meetings), "intervals": [(a - began, b - began) for a, b in intervals],
        "wave_end": wave_end - began, "waves": waves,
    }


def cpu_between(samples: list[dict[str, float]], start: float, end: float) -> dict[str, float]:
    inside = [s for s in samples if start - 1.0 <= s["t"] <= end + 1.0]
    if len(inside) < 2:
        return {}
    a, b = inside[0], inside[-1]
    return {k: b[k] - a.get(k, 0.0) for k in ("server", "postgres", "redis", "machine") if k in b} | {
        "seconds": b["t"] - a["t"]}


# -- the plot -------------------------------------------------------------------------------------------


def buckets(points: list[tuple[float, float]], q: float) -> tuple[list[float], list[float]]:
    by: dict[int, list[float]] = {}
    for t, v in points:
        by.setdefault(int(t // BUCKET), []).append(v)
    keys = sorted(by)
    return [(k + 0.5) * BUCKET for k in keys], [pct(by[k], q) * 1000 for k in keys]


def plot(run: Run, f: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(11, 9), sharex=True,
                                              gridspec_kw={"height_ratios": [3, 3, 2]})
    for axis, points, goal, name in ((top, f["cast"], GOAL_CAST_P99_MS, "cast (due -> answer)"),
                                     (middle, [(t, v) for t, v in f["screen"] if math.isfinite(v)],
                                      GOAL_SCREEN_P99_MS, "screen (answer -> turnout on the screen)")):
        axis.scatter([t for t, _ in points], [max(v * 1000, 0.1) for _, v in points], s=1, alpha=0.15,
                     color="tab:blue", rasterized=True, label="each ballot")
        xs, p50 = buckets(points, 50)
        _, p99 = buckets(points, 99)
        axis.plot(xs, p50, color="tab:green", label=f"p50 per {BUCKET:.0f} s")
        axis.plot(xs, p99, color="tab:red", label=f"p99 per {BUCKET:.0f} s")
        axis.axhline(goal, color="black", linestyle="--", linewidth=1, label=f"goal p99 < {goal:.0f} ms")
        axis.set_yscale("log")
        axis.set_ylabel(f"{name.split(' ')[0]} latency, ms")
        axis.set_title(name, fontsize=10, loc="left")
        axis.legend(loc="upper right", fontsize=8)
        axis.grid(True, which="both", alpha=0.3)
    xs, rate = [], []
    by = Counter(int((due + latency) // BUCKET) for due, latency in f["cast"])  # by the answer's arrival
    for k in sorted(by):
        xs.append((k + 0.5) * BUCKET)
        rate.append(by[k] / BUCKET)
    bottom.plot(xs, rate, color="tab:blue", label="ballots/s answered 201")
    bottom.axhline(GOAL_RATE, color="black", linestyle="--", linewidth=1, label=f"{GOAL_RATE:.0f} ballots/s")
    bottom.set_ylabel("ballots/s")
    twin = bottom.twinx()
    grid = [k * 2.0 for k in range(int(f["seconds"] / 2) + 2)]
    twin.plot(grid, [_active(f["intervals"], t) for t in grid], color="tab:orange", label="meetings voting")
    twin.set_ylabel("meetings voting")
    bottom.set_xlabel("seconds since the peak began")
    lines = bottom.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    bottom.legend(lines[0] + more[0], lines[1] + more[1], loc="lower center", fontsize=8)
    bottom.grid(True, alpha=0.3)
    fig.suptitle(f"bench/peak.py, {run.started}: {f['meetings']} meetings in {run.counties} counties, "
                 f"{run.args['voters']} voters each", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# -- the profile ------------------------------------------------------------------------------------------


FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::\d+)?\)$")


def package_of(filename: str) -> str:
    for marker in ("site-packages/", "/platform/", "/tenants/"):
        if marker in filename:
            rest = filename.split(marker, 1)[1]
            head = rest.split("/", 1)[0]
            return ("tenants" if marker == "/tenants/" else head.removesuffix(".py"))
    if "/lib/python3" in filename:
        rest = filename.split("/lib/python3", 1)[1].split("/", 1)[-1]
        return "stdlib:" + rest.split("/", 1)[0].removesuffix(".py")
    return filename.rsplit("/", 1)[-1]


def profile_summary(texts: list[str], top: int = 14) -> list[str]:
    """Where the server workers' CPU samples went: inclusive share per package, and the hottest functions."""
    total = 0
    by_package: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for text in texts:
        for line in text.splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = []
            for raw in stack.split(";"):
                match = FRAME.match(raw.strip())
                if match:
                    frames.append((match["func"], match["file"]))
            if not frames:
                continue
            for pkg in {package_of(file) for _, file in frames}:
                by_package[pkg] += n
            for name in {f"{func} ({package_of(file)})" for func, file in frames}:
                inclusive[name] += n
            func, file = frames[-1]
            own[f"{func} ({package_of(file)})"] += n
    if not total:
        return ["(py-spy recorded no samples)"]
    lines = [f"{total:,} samples of running threads (py-spy, 100 Hz, both workers).", "",
             "| package (inclusive: on the stack) | share | | function (self: at the top of the stack) | share |",
             "|---|---:|---|---|---:|"]
    packages = by_package.most_common(top)
    selfs = own.most_common(top)
    for i in range(max(len(packages), len(selfs))):
        left = f"{packages[i][0]} | {packages[i][1] / total:.0%}" if i < len(packages) else " | "
        right = f"`{selfs[i][0]}` | {selfs[i][1] / total:.1%}" if i < len(selfs) else " | "
        lines.append(f"| {left} | | {right} |")
    lines += ["", "Hottest functions of the platform's own code, inclusive:", ""]
    ours = [(name, n) for name, n in inclusive.most_common() if re.search(
        r"\((events|meetings|live|followup|common|shuping|accounts|projections|tenants)\)$", name)][:top]
    lines += [f"- `{name}`: {n / total:.0%}" for name, n in ours]
    return lines


# -- the docs section -----------------------------------------------------------------------------------


def ms(values: list[float], q: float) -> str:
    value = pct(values, q)
    return "missed" if math.isinf(value) else f"{value * 1000:,.0f}"


def render(run: Run, f: dict[str, Any], plot_path: Path | None) -> str:
    a, m = run.args, run.machine
    lines: list[str] = []
    add = lines.append
    add("## Year-end peak (`bench/peak.py`)")
    add("")
    add(f"Run {run.started} with `{run.command}` in {run.total_seconds:.0f} s.  ")
    add(f"Machine: {machine_text(m)}, "
        f"uvicorn {m['uvicorn']}, Django {m['django']}, redis-server {m.get('redis', '?')}.  ")
    add(f"PostgreSQL: {m['postgres']}, embedded, on the same machine; {m['settings']}.  ")
    lo, hi = f["load"]
    add(f"Load average (1 min) during the peak: {lo:.1f} to {hi:.1f} on {m['nproc']} CPUs (the machine is shared "
        "with other benches: compare figures within one run).  ")
    add(f"Server: `{run.server_argv}` with REDIS_URL (channels_redis), as the hosted setup runs it; "
        "server, PostgreSQL, Redis and the load generator share the CPUs.")
    add("")
    add(f"Load: {f['meetings']} meetings in {run.counties} counties (meetings interleaved across the counties), "
        f"{a['voters']} voters each, one ballot grading 7 subjects (one criterion); every meeting has a hall screen and "
        f"a host console connected ({f['sockets']} websockets, opened in {f['connect']:.1f} s). {a['at_once']} halls "
        f"run their meetings one after another, starting within a short ramp; a meeting's voting window is "
        f"{run.window:.0f} s x U(0.8, 1.2) ({a['at_once']} x {a['voters']} / {a['rate']:g} ballots/s), its "
        f"phones {'open the form 5-30 s before they' if not a['no_forms'] else 'do not open the form first; they'} "
        f"cast at random times in the window, open loop, over {a['connections']} keep-alive connections per "
        f"generator; then the host closes the ballot, announces the results and ends the meeting, and the county publishes the notice "
        f"from its desk. Load generator: {a['generators']} process(es) of bench/peak_load.py (asyncio).")
    add("")
    add(f"Set-up before the peak (through the API, {a['setup_concurrency']} meetings at once; not part of the "
        f"peak's figures): {run.counties} counties in {run.county_seconds:.0f} s; {run.setup_requests:,} requests "
        f"in {run.setup_seconds:.0f} s ({run.setup_requests / run.setup_seconds:,.0f} req/s), among them "
        f"{len(run.checkins):,} check-ins, p50 {pct(run.checkins, 50) * 1000:.0f} ms, "
        f"p99 {pct(run.checkins, 99) * 1000:.0f} ms.")
    add("")
    s = f["sustained"]
    add("| figure | value |")
    add("|---|---:|")
    add(f"| ballots answered 201 / sent | {f['ballots']:,} / {f['expected']:,} |")
    add(f"| peak duration; ballots/s over all of it | {f['seconds']:.0f} s; {f['rate']:,.0f} |")
    add(f"| most meetings voting at once | {f['most_at_once']} |")
    if s:
        add(f"| sustained ballots/s (while >= {math.ceil(SUSTAINED_SHARE * a['at_once'])} meetings vote at once, "
            f"{s['start']:.0f}-{s['end']:.0f} s) | **{s['rate']:,.0f}** |")
    add(f"| cast latency p50 / p99 / max, ms (due -> answer) | {ms([c for _, c in f['cast']], 50)} / "
        f"**{ms([c for _, c in f['cast']], 99)}** / {ms([c for _, c in f['cast']], 100)} |")
    add(f"| screen update p50 / p99 / max, ms (answer -> turnout on that meeting's screen) | "
        f"{ms([v for _, v in f['screen']], 50)} / **{ms([v for _, v in f['screen']], 99)}** / "
        f"{ms([v for _, v in f['screen']], 100)} |")
    if s:
        add(f"| while sustained: cast p99 / screen p99, ms | {s['cast_p99']:,.0f} / {s['screen_p99']:,.0f} |")
    w, end = f["waves"], f["wave_end"]
    for name, label in (("opening", f"while the halls open (0-{end:.0f} s, until the last hall's ballot opened)"),
                        ("after", f"after the last hall opened ({end:.0f} s to the end)")):
        x = w[name]
        rate = x["requests"] / end if name == "opening" and end > 0 else x["requests"] / max(f["seconds"] - end, 1e-9)
        add(f"| {label}: forms and ballots sent a second; cast p99 / screen p99, ms | {rate:,.0f}; "
            f"{x['cast_p99']:,.0f} / {x['screen_p99']:,.0f} |")
    add(f"| ballot form p50 / p99, ms | {ms(f['forms'], 50)} / {ms(f['forms'], 99)} |")
    add(f"| close-to-results p50 / p99 / max, ms (close sent -> results on the screen; "
        f"{len(f['close_to_results'])} meetings) | {ms(f['close_to_results'], 50)} / "
        f"**{ms(f['close_to_results'], 99)}** / {ms(f['close_to_results'], 100)} |")
    add(f"| close / announce answered p50 / p99, ms | {ms(f['closes'], 50)} / {ms(f['closes'], 99)}; "
        f"{ms(f['announces'], 50)} / {ms(f['announces'], 99)} |")
    add(f"| notice published from the desk (form page + post) p50 / p99, ms | {ms(f['notices'], 50)} / "
        f"{ms(f['notices'], 99)} |")
    cpu, n = f["cpu"], max(f["ballots"], 1)
    if cpu:
        span = cpu["seconds"]
        for part, name in (("server", "server (2 workers)"), ("postgres", "PostgreSQL"), ("redis", "Redis")):
            if part in cpu:
                add(f"| CPU of {name}: per ballot; cores busy on average | {cpu[part] / n * 1000:.2f} ms; "
                    f"{cpu[part] / span:.2f} |")
        add(f"| CPU of the load generator (getrusage, its own process): per ballot; cores | "
            f"{f['generator_cpu'] / n * 1000:.2f} ms; {f['generator_cpu'] / f['seconds']:.2f} |")
        add(f"| whole machine: cores busy on average (of {m['nproc']}) | {cpu['machine'] / span:.2f} |")
    add(f"| load generator's memory (max RSS) | {f['generator_rss_mb']:.0f} MB |")
    add(f"| frames received: screens / consoles | {f['screen_frames']:,} / {f['console_frames']:,} |")
    add("")
    add("CPU per ballot is everything the process did during the peak divided by the ballots: the forms, the "
        "hosts' opens, closes and announcements, the notices and the websockets are in it.")
    add("")
    cast_p99 = pct([c for _, c in f["cast"]], 99) * 1000
    screen_p99 = pct([v for _, v in f["screen"]], 99) * 1000
    rate_ok = bool(s) and s["rate"] >= 0.95 * GOAL_RATE and f["most_at_once"] >= GOAL_AT_ONCE
    add(f"Goal: about {GOAL_RATE:.0f} ballots/s with {GOAL_AT_ONCE} meetings voting at once, cast p99 < "
        f"{GOAL_CAST_P99_MS:.0f} ms and screen p99 < {GOAL_SCREEN_P99_MS:.0f} ms."
        + (" (`--quick` offers far less than the goal's load: only its latencies mean something.)"
           if a.get("quick") else ""))
    add("")
    add(f"- load held: {s['rate'] if s else 0:,.0f} ballots/s sustained, {f['most_at_once']} meetings voting at "
        f"once: **{'met' if rate_ok else 'NOT met'}**")
    add(f"- cast p99 {cast_p99:,.0f} ms: **{'met' if cast_p99 < GOAL_CAST_P99_MS else 'NOT met'}**")
    add(f"- screen p99 {'missed' if math.isinf(screen_p99) else f'{screen_p99:,.0f} ms'}: "
        f"**{'met' if screen_p99 < GOAL_SCREEN_P99_MS else 'NOT met'}**")
    after = f["waves"]["after"]
    steady = after["cast_p99"] < GOAL_CAST_P99_MS and after["screen_p99"] < GOAL_SCREEN_P99_MS
    add(f"- the same two after the last hall opened ({f['wave_end']:.0f} s on; the halls' opening wave left out): "
        f"cast p99 {after['cast_p99']:,.0f} ms, screen p99 {after['screen_p99']:,.0f} ms: "
        f"**{'met' if steady else 'NOT met'}**")
    add("")
    if plot_path is not None:
        plot(run, f, plot_path)
        add(f"![cast and screen latency over the peak]({plot_path.name})")
        add("")
    if run.profiles:
        add("### Where the server's time goes (py-spy)")
        add("")
        add(f"py-spy recorded both workers for {a['profile']} s in the middle of the peak (`--profile "
            f"{a['profile']}`, non-blocking sampling: its own cost is in this run's figures).")
        add("")
        lines.extend(profile_summary(run.profiles))
        add("")
    if f["problems"]:
        add("### Problems seen in this run")
        add("")
        for problem in f["problems"]:
            add(f"- {problem}")
        add("")
    return "\n".join(lines)
