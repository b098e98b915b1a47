"""Benchmark: thousands of open hall-screen websockets on one machine, and one update to all of them.

Run from the repository root:

    .venv/bin/python bench/sockets.py                       # 10,000 on 1 worker, 20,000 on 2; docs section
    .venv/bin/python bench/sockets.py --runs 2000x1 --no-docs --updates 5   # a quick look
    .venv/bin/python bench/sockets.py --runs 10000x1:websockets 10000x1:wsproto --no-docs   # ws implementations

A run `NxW[:ws]` opens N screens on W uvicorn workers (each its own process on
its own port, started with `shuping.server_options.server_flags()`, the flags
production uses; W > 1 adds a redis-server started here and REDIS_URL, so a
command through worker 0 reaches the screens of every worker), optionally
with another of uvicorn's websocket implementations (`--ws`).

What runs (one embedded PostgreSQL, destroyed at the end):

1. a county with a `.localhost` host and one meeting taken to an open ballot
   through the API, with a ballot code per update;
2. the load generator: child processes (bench/socket_clients.py), each
   opening up to `--per-child` screens with the county's Host header, at most
   50 handshakes in flight per child, with a bare asyncio websocket client
   (`--client raw`, the default: the least CPU taken from the server on a
   2-core machine) or the `websockets` library's (no compression). A screen
   counts as open once its first snapshot arrived. Their CPU time during the
   updates is reported;
3. the server's RSS (/proc/PID/status VmRSS) before the screens, once all are
   open, and after the updates; per socket = the growth over the screens;
4. U updates (a ballot cast over HTTP through worker 0, one at a time, the
   next once every screen showed the count or after 30 s): for each screen,
   the time its first frame showing the new count arrived, minus the time the
   ballot's POST was sent (so the command's own validation, append and commit
   are inside the figure; the HTTP answer's latency is shown beside it). The
   clock is CLOCK_MONOTONIC (`time.monotonic_ns`), one clock for every
   process of the machine. p50/p99/max over all screens and updates; a screen
   that never showed the count counts as missed.

File descriptors: this script raises RLIMIT_NOFILE to `--nofile` (default:
the hard limit; as root it may also raise the hard limit) before it starts
the servers and children, which inherit it. Each open screen costs the server
one descriptor; the run says how many screens opened and what the clients saw
when some did not (what breaks first).

The section between `<!-- bench:sockets:start -->` and `<!-- bench:sockets:end -->`
of docs/benchmarks.md is rewritten with the figures (not with --no-docs).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, close_django, command_line, free_port, say, write_section  # noqa: E402
from socket_clients import Child, raise_nofile  # noqa: E402

HOST = "benchsock.localhost"
COUNTY = "benchsock"
GOAL_P99_MS = 150.0
GOAL_KIB = 40_000 / 1024  # 40 KB a socket


# -- servers ---------------------------------------------------------------------------------------------


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Worker:
    """One uvicorn process with the production flags, on its own port."""

    def __init__(self, env: dict[str, str], log: Path, ws: str | None) -> None:
        from shuping.server_options import APP, server_flags

        self.port = free_port()
        self.log_path = log
        self._log = log.open("wb")
        argv = [sys.executable, "-m", "uvicorn", APP, "--host", "127.0.0.1", "--port", str(self.port),
                "--backlog", "4096", *server_flags()]
        if ws:
            argv += ["--ws", ws]
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=REPO)

    def wait_ready(self) -> None:
        import httpx

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"uvicorn exited: {self.log_path.read_text(errors='replace')[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", headers={"Host": HOST}, timeout=2,
                             trust_env=False).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError("no /healthz answer")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()


# -- one run ---------------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    sockets: int
    workers: int
    ws: str
    opened: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)
    connect_seconds: float = 0.0
    rss_before: list[int] = field(default_factory=list)  # KiB per worker
    rss_open: list[int] = field(default_factory=list)
    rss_after: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # ms, from the POST sent
    from_answer: list[float] = field(default_factory=list)  # ms, from the 201 answer
    http_ms: list[float] = field(default_factory=list)
    missed: int = 0
    updates: int = 0
    server_cpu: float = 0.0  # seconds during the updates, all workers
    update_cpu: list[float] = field(default_factory=list)  # ms, all workers, from the POST to the last screen
    update_p99: list[float] = field(default_factory=list)  # ms, each update's own p99
    client_cpu: dict[str, float] = field(default_factory=dict)
    log_errors: list[str] = field(default_factory=list)
    load: tuple[float, ...] = ()  # the machine's 1-minute load average before and after the updates

    @property
    def kib_per_socket(self) -> float:
        return (sum(self.rss_open) - sum(self.rss_before)) / max(self.opened, 1)

    def p(self, q: float) -> float:
        return pct(self.latencies, q, missing=self.missed)


def pct(values: list[float], q: float, *, missing: int = 0) -> float:
    """The q-th percentile; `missing` values count as infinitely late."""
    ordered = sorted(values) + [float("inf")] * missing
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def one_run(spec: str, *, base: int, env: dict[str, str], token: str, mid: str, codes: list[str], args: argparse.Namespace,
            workdir: Path) -> Run:
    import httpx

    count_text, _, ws = spec.partition(":")
    sockets, _, workers_text = count_text.partition("x")
    run = Run(spec, int(sockets), int(workers_text or 1), ws or "auto")
    redis = None
    workers: list[Worker] = []
    children: list[Child] = []
    try:
        wenv = dict(env)
        if run.workers > 1:
            from live_fanout import Redis

            binary = shutil.which("redis-server")
            if binary is None:
                raise SystemExit("several workers need redis-server")
            redis = Redis(binary, workdir / f"redis-{spec.replace(':', '-')}")
            wenv["REDIS_URL"] = redis.url
        workers = [Worker(wenv, workdir / f"uvicorn-{spec.replace(':', '-')}-{n}.log", ws or None)
                   for n in range(run.workers)]
        for worker in workers:
            worker.wait_ready()
        api = httpx.Client(base_url=f"http://127.0.0.1:{workers[0].port}/api/", headers={"Host": HOST}, timeout=60,
                           trust_env=False)
        api.post(f"v/{mid}/form/", json={"code": codes[0]})  # warm the HTTP path once
        time.sleep(1.0)
        run.rss_before = [rss_kib(w.proc.pid) for w in workers]
        say(f"[{spec}] {run.workers} worker(s) ready; RSS {[r // 1024 for r in run.rss_before]} MiB; opening "
            f"{run.sockets:,} screens …")
        per_worker = [run.sockets // run.workers + (1 if n < run.sockets % run.workers else 0)
                      for n in range(run.workers)]
        t0 = time.monotonic()
        for n, worker in enumerate(workers):
            uri = f"ws://{HOST}:{worker.port}/ws/m/{mid}/screen/?t={token}"
            left = per_worker[n]
            while left > 0:
                take = min(left, args.per_child)
                children.append(Child([uri] * take, worker.port, args.nofile, args.client))
                left -= take
        cpu_open = []
        for c in children:
            ready = c.read()
            cpu_open.append(ready["cpu"])
            run.opened += ready["open"]
            for name, k in ready["failed"].items():
                run.failed[name] = run.failed.get(name, 0) + k
        run.connect_seconds = time.monotonic() - t0
        time.sleep(1.0)
        run.rss_open = [rss_kib(w.proc.pid) for w in workers]
        say(f"[{spec}] {run.opened:,} of {run.sockets:,} open in {run.connect_seconds:.1f} s "
            f"(failed: {run.failed or 0}); RSS {[r // 1024 for r in run.rss_open]} MiB, "
            f"{run.kib_per_socket:.1f} KiB a socket")
        cpu0 = sum(cpu_seconds(w.proc.pid) for w in workers)
        profiler = None
        if args.profile:
            profiler = subprocess.Popen(
                [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(workers[0].proc.pid),
                 "--duration", str(args.profile), "--rate", "250", "--format", "raw", "--output", str(args.profile_out)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        if args.perf:  # CPU samples of worker 0, kernel included (where py-spy sees only Python lines)
            profiler = subprocess.Popen(
                ["perf", "record", "-F", "499", "-g", "-p", str(workers[0].proc.pid), "-o",
                 str(args.perf_out.with_suffix(f".{spec.replace(':', '-')}.data")),
                 "--", "sleep", str(args.perf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.0)
        import random

        run.load = (os.getloadavg()[0],)
        rng = random.Random(7)
        for k in range(args.updates):
            code = codes[k]
            target = base + k + 1  # the count every screen must reach
            for c in children:
                c.send(f"watch {target}")
            time.sleep(0.05)  # the watch lines reach the children before the ballot
            before = sum(cpu_seconds(w.proc.pid) for w in workers)
            sent = time.monotonic_ns()
            response = api.post(f"v/{mid}/ballot/", json={"code": code, "marks": marks(rng)})
            answered = time.monotonic_ns()
            if response.status_code != 201:
                raise RuntimeError(f"ballot: {response.status_code} {response.text[:300]}")
            run.http_ms.append((answered - sent) / 1e6)
            for c in children:
                c.send(f"collect {target}")
            mine: list[float] = []
            for c in children:
                report = c.read()
                for t in report["times"]:
                    if t is None:
                        run.missed += 1
                    elif t == 0:  # had it already: its snapshot came after the commit
                        mine.append(0.0)
                        run.from_answer.append(0.0)
                    else:
                        mine.append((t - sent) / 1e6)
                        run.from_answer.append((t - answered) / 1e6)
                run.closed = report["closed"]
            run.update_cpu.append((sum(cpu_seconds(w.proc.pid) for w in workers) - before) * 1000)
            run.update_p99.append(pct(mine, 99))
            run.latencies += mine
            run.updates += 1
            time.sleep(args.gap)
        run.server_cpu = sum(cpu_seconds(w.proc.pid) for w in workers) - cpu0
        run.load += (os.getloadavg()[0],)
        if profiler is not None:
            profiler.wait(timeout=max(args.profile, args.perf) + 60)
        run.rss_after = [rss_kib(w.proc.pid) for w in workers]
        for c in children:
            c.send("collect -1")  # nothing to wait for: only the CPU figure
        user = system = 0.0  # during the updates only
        for c, at_open in zip(children, cpu_open, strict=True):
            cpu = c.read()["cpu"]
            user, system = user + cpu["user"] - at_open["user"], system + cpu["sys"] - at_open["sys"]
        run.client_cpu = {"user": user, "sys": system, "processes": len(children)}
        say(f"[{spec}] {run.updates} updates: p50 {run.p(50):.0f} ms, p99 {run.p(99):.0f} ms, max {run.p(100):.0f} ms"
            f" (from the answer: p99 {pct(run.from_answer, 99):.0f} ms); missed {run.missed}; HTTP p50 "
            f"{pct(run.http_ms, 50):.0f} ms; per-update p99 {min(run.update_p99):.0f}-{max(run.update_p99):.0f} ms; "
            f"server CPU per update {pct(run.update_cpu, 50):.0f} ms (median); load generator CPU "
            f"{user:.1f} s user + {system:.1f} s sys in {len(children)} processes")
    finally:
        for c in children:
            c.stop()
        for worker in workers:
            worker.stop()
            text = worker.log_path.read_text(errors="replace")
            run.log_errors += sorted({line.strip()[:160] for line in text.splitlines()
                                      if "Error" in line or "error" in line.lower()})[:5]
        if redis is not None:
            redis.stop()
    return run


def marks(rng: Any) -> dict[str, dict[str, str]]:
    from live_fanout import GRADES, SUBJECTS

    return {sid: {"zongti": rng.choice(GRADES)} for sid, _ in SUBJECTS}


def send_floor(count: int) -> dict[str, float]:
    """CPU and wall time a socket of one small frame written by a plain loop of send() calls (no asyncio)."""
    import socket
    import statistics

    frame = b"\x81\x50" + json.dumps({"type": "turnout", "version": 12, "cast": 123, "eligible": 400,
                                        "paper": 0}).encode().ljust(0x50)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4096)
        pairs = []
        try:
            for _ in range(count):
                near = socket.create_connection(listener.getsockname())
                far, _ = listener.accept()
                far.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                pairs.append((far, near))
            rounds = []
            for _ in range(5):
                before, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
                for far, _near in pairs:
                    far.send(frame)
                wall, after = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_SELF)
                for _far, near in pairs:
                    near.recv(4096)
                rounds.append((wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime))
        finally:
            for far, near in pairs:
                far.close()
                near.close()
    per = 1e6 / count
    return {"sockets": count, "wall": statistics.median(r[0] for r in rounds) * per,
            "user": statistics.median(r[1] for r in rounds) * per, "sys": statistics.median(r[2] for r in rounds) * per,
            "cpu": statistics.median(r[1] + r[2] for r in rounds) * per}


# -- report ----------------------------------------------------------------------------------------------


def ms(value: float) -> str:
    return "missed" if value == float("inf") else f"{value:,.0f}"


def render(runs: list[Run], info: dict[str, Any]) -> str:
    lines = [
        "## Twenty thousand websockets (`bench/sockets.py`)",
        "",
        f"Run {info['started']}: `{info['command']}` (code: {info['code']}). Machine: {info['machine']}. "
        f"Load generator: {info['per_child']:,} screens per child process, client `{info['client']}` "
        f"(bench/socket_clients.py; `websockets` {info['websockets']}). RLIMIT_NOFILE set by the bench (inherited by servers and clients): "
        f"soft {info['nofile'][0]:,}, hard {info['nofile'][1]:,} (before: {info['nofile_before'][0]:,} / "
        f"{info['nofile_before'][1]:,}); `fs.file-max` {info['file_max']}; ephemeral ports {info['ports']}.",
        "",
        "Latency: from the moment the ballot's POST was sent (through worker 0) to the arrival on each screen of "
        "the first frame showing the new count, CLOCK_MONOTONIC in every process; p50/p99/max over all screens "
        "and updates, a screen that never showed the count counted as missed. \"From answer\": the same, from the "
        "201 answer. RSS per socket: the worker's VmRSS growth from before the screens to all open, over the "
        "screens opened.",
        "",
        "| run | ws | screens open | failed | KiB/socket | RSS open (MiB) | p50 ms | p99 ms | max ms | p99 from answer | "
        "each update's p99 (min-max) | HTTP p50 ms | missed | server CPU / update (median) | load gen CPU (user+sys) | "
        "load average |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        per_update = pct(r.update_cpu, 50)
        failed = ", ".join(f"{k} x {v}" for k, v in r.failed.items()) or "0"
        lines.append(
            f"| {r.sockets:,} on {r.workers} worker{'s' if r.workers > 1 else ''} | {r.ws} | {r.opened:,} | {failed} | "
            f"{r.kib_per_socket:.1f} | {' + '.join(str(x // 1024) for x in r.rss_open)} | {ms(r.p(50))} | "
            f"{ms(r.p(99))} | {ms(r.p(100))} | {ms(pct(r.from_answer, 99))} | "
            f"{ms(min(r.update_p99, default=float('nan')))}-{ms(max(r.update_p99, default=float('nan')))} | "
            f"{pct(r.http_ms, 50):.0f} | {r.missed} | "
            f"{per_update:.0f} ms ({per_update * 1000 / max(r.opened, 1):.1f} µs a socket) | {r.client_cpu.get('user', 0):.1f} + {r.client_cpu.get('sys', 0):.1f} s "
            f"({r.client_cpu.get('processes', 0)} procs) | {'-'.join(f'{x:.0f}' for x in r.load)} |")
    floor = info.get("floor")
    if floor:
        lines += ["", f"The floor, same run: a plain Python loop `sock.send(frame)` over {floor['sockets']:,} loopback TCP "
                  f"connections (an 82-byte text frame each; the receiving ends read afterwards): median of 5 rounds "
                  f"{floor['cpu']:.1f} µs CPU ({floor['user']:.1f} user + {floor['sys']:.1f} sys) and {floor['wall']:.1f} µs "
                  f"wall a socket."]
    lines += ["", f"Goal: 10,000 screens with fan-out p99 < {GOAL_P99_MS:.0f} ms and < 40 KB (39.1 KiB) a socket; "
              "20,000 across workers, none dropped.", ""]
    for r in runs:
        if r.sockets == 10_000 and r.workers == 1:
            ok_p = r.p(99) < GOAL_P99_MS and r.opened == r.sockets
            ok_m = r.kib_per_socket < GOAL_KIB
            lines.append(f"- {r.label}: p99 {ms(r.p(99))} ms ({'met' if ok_p else 'NOT met'}), "
                         f"{r.kib_per_socket:.1f} KiB a socket ({'met' if ok_m else 'NOT met'})")
        if r.sockets == 20_000 and r.workers > 1:
            ok = r.opened == r.sockets and not r.missed and not r.closed
            lines.append(f"- {r.label}: {r.opened:,} open, {r.missed} missed, closed {r.closed or 0}: "
                         f"{'met' if ok else 'NOT met'}")
        if r.log_errors:
            lines.append(f"- {r.label} server log: " + "; ".join(f"`{e}`" for e in r.log_errors[:3]))
    return "\n".join(lines)


# -- main ------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="+", default=["10000x1", "20000x2"],
                        help="runs as SOCKETSxWORKERS[:ws], e.g. 10000x1 20000x2 10000x1:wsproto")
    parser.add_argument("--updates", type=int, default=20, help="ballots cast one at a time per run")
    parser.add_argument("--gap", type=float, default=0.5, help="seconds between updates")
    parser.add_argument("--per-child", type=int, default=2500, help="screens per load-generator process")
    parser.add_argument("--nofile", type=int, default=0, help="RLIMIT_NOFILE to set (0: the hard limit)")
    parser.add_argument("--profile", type=int, default=0, help="py-spy record worker 0 for this many seconds")
    parser.add_argument("--profile-out", type=Path, default=Path("/tmp/sockets-profile.txt"))
    parser.add_argument("--perf", type=int, default=0, help="perf record worker 0 for this many seconds")
    parser.add_argument("--perf-out", type=Path, default=Path("/tmp/sockets-perf.data"))
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--client", choices=("raw", "websockets"), default="raw",
                        help="load generator's client (bench/socket_clients.py)")
    args = parser.parse_args(argv)

    nofile_before = resource.getrlimit(resource.RLIMIT_NOFILE)
    nofile = raise_nofile(args.nofile or None)
    args.nofile = nofile[0]
    from importlib.metadata import version

    from _common import machine

    m = machine()
    info: dict[str, Any] = {
        "started": dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"), "command": command_line(),
        "machine": ", ".join(f"{k} {v}" for k, v in m.items()), "websockets": version("websockets"),
        "per_child": args.per_child, "client": args.client, "nofile": nofile, "nofile_before": nofile_before,
        "file_max": Path("/proc/sys/fs/file-max").read_text().strip(),
        "ports": "-".join(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()),
    }
    from live_fanout import Api, code_version, setup_meeting

    info["code"] = code_version()
    info["floor"] = send_floor(min(5000, nofile[0] // 2 - 100))
    say(f"floor: {info['floor']}")
    workdir = Path(tempfile.mkdtemp(prefix="shuping-bench-sockets-"))
    from shuping.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(workdir / "pg", port=free_port(), throwaway=False)
    runs: list[Run] = []
    try:
        url = pg.start(log=False)
        key = secrets.token_urlsafe(50)
        env = dict(os.environ, DATABASE_URL=url, SHUPING_HOME=str(workdir), SHUPING_SECRET_KEY=key,
                   DJANGO_SETTINGS_MODULE="shuping.settings", PYTHONUNBUFFERED="1")
        for name in ("SHUPING_DEBUG", "REDIS_URL"):
            env.pop(name, None)
        subprocess.run([sys.executable, "-m", "shuping.cli", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="shuping.settings", SHUPING_SECRET_KEY=key)
        os.environ.pop("REDIS_URL", None)
        import django

        django.setup()
        from django.db import connection
        from django_tenants.utils import schema_context

        from accounts.api_tokens import issue_token
        from accounts.models import User
        from common import tokens
        from tenants.provisioning import create_county

        county = create_county(slug=COUNTY, name="基准县（万屏）", domains=[HOST])
        keys = {}
        with schema_context(county.schema_name):
            for role in ("county_admin", "host"):
                user = User.objects.create_user(username=f"bench_{role}", password=secrets.token_urlsafe(12), role=role)
                keys[role] = issue_token(user).key
        connection.close()
        setup = Worker(env, workdir / "setup.log", None)
        try:
            setup.wait_ready()
            import live_fanout

            live_fanout.HOST = HOST
            mid, codes = setup_meeting(Api(setup.port, keys["county_admin"]), Api(setup.port, keys["host"]),
                                       [("representative", args.updates * len(args.runs) + 1)])
        finally:
            setup.stop()
        all_codes = codes[0]
        token = tokens.issue(county=county.schema_name, meeting_id=mid, kind="screen")
        say(f"meeting {mid} at ballot_open; RLIMIT_NOFILE {nofile}")
        base = 0
        for n, spec in enumerate(args.runs):
            run = one_run(spec, base=base, env=env, token=token, mid=mid,
                          codes=all_codes[n * args.updates:(n + 1) * args.updates], args=args, workdir=workdir)
            base += run.updates
            runs.append(run)
        section = render(runs, info)
        print()
        print(section)
        if not args.no_docs:
            write_section("sockets", section)
        return 0
    finally:
        close_django()
        pg.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
