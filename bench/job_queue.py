"""What the job queue costs: the every-minute sweep over many counties, an idle worker, a trigger's deferral.

    .venv/bin/python bench/job_queue.py [--counties 100] [--idle-seconds 60]

One embedded PostgreSQL, started here and destroyed at the end. Prints:

1. the every-minute job (`followup.jobs.sweep_all_counties`, called directly
   and through the queue) over N counties when no sweeper has anything due:
   with the sweepers registered today, and with a stand-in sweeper that asks
   the database one indexed question per county (what a sweeper that finds
   nothing due costs at least);
2. an idle `shuping worker` process: its CPU (and PostgreSQL's) over a quiet
   spell that includes the every-minute sweeps;
3. the after-commit hook on an append: a non-trigger event (a set lookup)
   and a trigger event (one job inserted).

The figures are printed and, unless --no-docs, written to the script's own
section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import close_django, command_line, free_port, machine, machine_text, write_section  # noqa: E402
from _common import say as _print  # noqa: E402

LINES: list[str] = []


def say(text: str) -> None:
    _print(text)
    LINES.append(text)


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def postgres_processes(port: int) -> list[psutil.Process]:
    """The postmaster listening on `port` and every process it started."""
    for proc in psutil.process_iter(["name", "cmdline"]):
        try:
            if proc.info["name"] == "postgres" and f"-p {port}" in " ".join(proc.info["cmdline"] or []):
                return [proc, *proc.children()]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return []


def pg_cpu(port: int) -> float:
    total = 0.0
    for proc in postgres_processes(port):
        try:
            total += cpu_seconds(proc)
        except psutil.NoSuchProcess:
            continue
    return total


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counties", type=int, default=100)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    began = time.perf_counter()
    when = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")

    workdir = Path(tempfile.mkdtemp(prefix="shuping-bench-jobs-"))
    from shuping.embedded_pg import EmbeddedPostgres

    port = free_port()
    server = EmbeddedPostgres(workdir / "pg", port=port, throwaway=False)
    try:
        say(f"starting PostgreSQL in {workdir} …")
        url = server.start(log=False)
        env = dict(os.environ, DATABASE_URL=url, SHUPING_HOME=str(workdir),
                   SHUPING_SECRET_KEY=secrets.token_urlsafe(50), DJANGO_SETTINGS_MODULE="shuping.settings")
        subprocess.run([sys.executable, "-m", "shuping.cli", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="shuping.settings",
                          SHUPING_SECRET_KEY=env["SHUPING_SECRET_KEY"])
        import django

        django.setup()
        from django.db import connection
        from django_tenants.utils import schema_context

        from events import reading
        from events.records import Committed
        from followup import jobs, sweeps
        from tenants.provisioning import create_county

        started = time.perf_counter()
        for n in range(args.counties):
            create_county(slug=f"b{n:04d}", name=f"基准县{n}", domains=[f"b{n:04d}.localhost"])
            if n % 10 == 9:
                # A connection that creates counties grows with each (architecture.md): a fresh one every ten.
                connection.close()
                say(f"  {n + 1} counties, {time.perf_counter() - started:.0f} s")
        say(f"{args.counties} counties created in {time.perf_counter() - started:.1f} s")
        connection.close()

        me = psutil.Process()

        def timed_sweep() -> tuple[float, float]:
            wall, cpu = time.perf_counter(), cpu_seconds(me)
            result = jobs.sweep_all_counties.func(timestamp=int(time.time()))
            assert result["counties"] == args.counties, result
            return time.perf_counter() - wall, cpu_seconds(me) - cpu

        def report(label: str) -> None:
            timed_sweep()  # warm: imports, first connection
            runs = [timed_sweep() for _ in range(args.repeats)]
            walls, cpus = [r[0] for r in runs], [r[1] for r in runs]
            say(f"  {label}: wall {statistics.median(walls) * 1000:.0f} ms (min {min(walls) * 1000:.0f}), "
                f"CPU of this process {statistics.median(cpus) * 1000:.0f} ms; per county {statistics.median(walls) / args.counties * 1000:.2f} ms")

        say(f"1. the every-minute sweep over {args.counties} counties, nothing due (median of {args.repeats})")
        say(f"  sweepers registered today: {sorted(sweeps.SWEEPERS) or 'none'}")
        report("registered sweepers")

        def nothing_due(now: datetime) -> int:
            reading.stream_version("followup-none")  # one indexed question, finds nothing
            return 0

        sweeps.sweeper("bench_nothing_due")(nothing_due)
        report("+ one sweeper asking one indexed question")
        sweeps.SWEEPERS.pop("bench_nothing_due")

        wall = time.perf_counter()
        jobs.sweep_all_counties.defer(timestamp=int(time.time()))  # type: ignore[call-arg]
        jobs.run_worker(queues=[jobs.CLOCK_QUEUE], wait=False, install_signal_handlers=False, listen_notify=False)
        say(f"  through the queue (defer, a worker starts, runs it, stops): {(time.perf_counter() - wall) * 1000:.0f} ms")

        say("3. the after-commit hook")
        plain = Committed(county="b0000", stream_id="meeting-x", positions=[1], first_version=1, last_version=1, types=["BallotCast"])
        n = 100_000
        t = time.perf_counter()
        for _ in range(n):
            jobs.defer_after_commit(plain)
        say(f"  a non-trigger append: {(time.perf_counter() - t) / n * 1e6:.2f} µs")
        times = []
        for i in range(min(50, args.counties)):
            trigger = Committed(county=f"b{i:04d}", stream_id="meeting-x", positions=[1], first_version=1, last_version=1,
                                types=["ResultsAnnounced"])
            with schema_context(f"b{i:04d}"):
                t = time.perf_counter()
                jobs.defer_after_commit(trigger)
                times.append(time.perf_counter() - t)
        say(f"  a trigger append (defers one job): median {statistics.median(times) * 1000:.2f} ms, max {max(times) * 1000:.2f} ms")
        connection.close()

        say(f"2. an idle `shuping worker` over {args.idle_seconds:.0f} s ({args.counties} counties, nothing due)")
        worker = subprocess.Popen([sys.executable, "-m", "shuping.cli", "worker"], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            time.sleep(10)  # started, caught up (its start-up sweep)
            proc = psutil.Process(worker.pid)
            w0, p0, t0 = cpu_seconds(proc), pg_cpu(port), time.perf_counter()
            time.sleep(args.idle_seconds)
            w1, p1, t1 = cpu_seconds(proc), pg_cpu(port), time.perf_counter()
            rss = proc.memory_info().rss / 2**20
            span = t1 - t0
            say(f"  worker process: {(w1 - w0) / span * 100:.2f} % of one CPU ({(w1 - w0) * 1000:.0f} ms CPU in {span:.0f} s), RSS {rss:.0f} MiB")
            say(f"  PostgreSQL (all its processes, incl. background): {(p1 - p0) / span * 100:.2f} % of one CPU")
        finally:
            worker.terminate()
            worker.wait(30)
        if not args.no_docs:
            facts = machine()
            progress = re.compile(r"^(starting PostgreSQL|\s+\d+ counties, \d+ s$)")
            body = "\n".join(line for line in LINES if not progress.match(line))
            write_section("job_queue", (
                "## Job queue (`bench/job_queue.py`)\n\n"
                f"Command: `{command_line()}`  \nDate: {when}  \n"
                f"Machine: {machine_text(facts)}; PostgreSQL embedded on the same machine  \n"
                f"Whole run: {time.perf_counter() - began:.0f} s (creating the counties is most of it)\n\n"
                "```\n" + body + "\n```\n\n"
                "The sweep enters every county's schema in turn; with no sweeper registered it sends no "
                "query to a county (django-tenants sets the search_path lazily), so the second line is the "
                "one that grows with what sweepers ask. The idle worker's CPU includes its every-minute sweeps."
            ))
        return 0
    finally:
        close_django()
        server.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
