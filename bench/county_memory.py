"""PostgreSQL memory when one ASGI worker's connections serve every county, before and after recycling.

Run from the repository root:

    .venv/bin/python bench/county_memory.py                  # 1,000 counties; rewrites its docs section
    .venv/bin/python bench/county_memory.py --counties 2800
    .venv/bin/python bench/county_memory.py --quick          # 200 counties, prints only

One embedded PostgreSQL (durable), migrated by `shuping migrate`, N counties
created with `tenants.provisioning.create_county`. Then, for each setting of
SHUPING_CONN_MAX_SCHEMAS (how many counties a worker thread's connection may
serve before it is closed and opened afresh; a value above N means never):

* one uvicorn worker (the options of `shuping.server_options`) with 16 HTTP
  threads, each keeping its database connection (CONN_MAX_AGE 300 s);
* a load that touches every county: 16 clients at once, `GET /zhenggai/`
  (no login, reads a projection) of every county twice, in shuffled order;
* then, while the worker's connections are still open, the private memory
  (RssAnon: catalog and relation caches, plans) of each PostgreSQL backend the
  worker holds, its sum and its largest, and the PSS of all of them.

A PostgreSQL backend keeps a cache entry for each relation it has opened;
a county has about fifty relations, so a connection that has served every
county keeps every county's entries (issue 17 measured about 70 KB a county).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "platform"), str(REPO)]
os.environ.setdefault("SHUPING_DEBUG", "1")

from _common import command_line, free_port, machine, say, write_section  # noqa: E402

THREADS = 16
CLIENTS = 16


def slug(index: int) -> str:
    return f"m{index:05d}"


def rss_anon(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024
    return 0


def worker_backends(admin_url: str, since: float) -> list[int]:
    """Client backends connected after `since` (the worker's), as pids."""
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
            " AND backend_start >= to_timestamp(%s)",
            [since],
        ).fetchall()
    return [int(pid) for (pid,) in rows]


async def touch_all(port: int, hosts: list[str], clients: int = CLIENTS) -> tuple[list[float], int]:
    import httpx

    queue: asyncio.Queue[str] = asyncio.Queue()
    for host in hosts:
        queue.put_nowait(host)
    latencies: list[float] = []
    failures = 0

    async def client() -> None:
        nonlocal failures
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            while not queue.empty():
                host = queue.get_nowait()
                started = time.perf_counter()
                answer = await http.get("/zhenggai/", headers={"Host": host})
                latencies.append(time.perf_counter() - started)
                if answer.status_code != 200:
                    failures += 1

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, failures


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the worker did not answer /healthz")


def measure(env: dict[str, str], admin_url: str, hosts: list[str], max_schemas: int, threads: int) -> dict[str, float]:
    from shuping.server_options import APP, server_flags

    port = free_port()
    worker_env = dict(env, SHUPING_HTTP_THREADS=str(threads), SHUPING_CONN_MAX_AGE="300",
                      SHUPING_CONN_MAX_SCHEMAS=str(max_schemas), PYTHONPATH=f"{REPO / 'platform'}:{REPO}")
    since = time.time() - 1
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", APP, "--host", "127.0.0.1", "--port", str(port), *server_flags()],
        cwd=REPO, env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(port, proc)
        asyncio.run(touch_all(port, hosts[:1] * threads * 4))  # every thread's connection open
        import psutil

        baseline = [rss_anon(pid) for pid in worker_backends(admin_url, since)]
        order = hosts * 2
        random.Random(max_schemas).shuffle(order)
        started = time.perf_counter()
        latencies, failures = asyncio.run(touch_all(port, order, clients=threads))
        took = time.perf_counter() - started

        pids = worker_backends(admin_url, since)
        anon = [rss_anon(pid) for pid in pids]
        pss = sum(psutil.Process(pid).memory_full_info().pss for pid in pids)
    finally:
        proc.terminate()
        proc.wait(30)
    return {
        "threads": threads, "connections": len(pids),
        "baseline_max": max(baseline, default=0) / 2**20, "anon_sum": sum(anon) / 2**20, "anon_max": max(anon, default=0) / 2**20,
        "pss_sum": pss / 2**20, "p50": statistics.median(latencies) * 1000,
        "p99": sorted(latencies)[int(len(latencies) * 0.99) - 1] * 1000, "requests": len(latencies),
        "failures": failures, "seconds": took,
    }


def run(args: argparse.Namespace) -> str:
    from shuping.embedded_pg import EmbeddedPostgres

    workdir = Path(tempfile.mkdtemp(prefix="shuping-bench-memory-"))
    server = EmbeddedPostgres(workdir / "pg", port=free_port(), throwaway=False)
    began = time.perf_counter()
    started_at = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    load = [os.getloadavg()[0]]
    results: dict[str, dict[str, float]] = {}
    try:
        say(f"starting PostgreSQL (durable) in {workdir} …")
        url = server.start(log=False)
        env = dict(os.environ, DATABASE_URL=url, SHUPING_HOME=str(workdir),
                   SHUPING_SECRET_KEY=secrets.token_urlsafe(50), DJANGO_SETTINGS_MODULE="shuping.settings")
        subprocess.run([sys.executable, "-m", "shuping.cli", "migrate"], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="shuping.settings",
                          SHUPING_SECRET_KEY=env["SHUPING_SECRET_KEY"])
        import django

        django.setup()
        from django.db import connection

        from tenants.provisioning import create_county

        hosts = []
        for index in range(1, args.counties + 1):
            create_county(slug=slug(index), name=f"内存县{index}", domains=[f"{slug(index)}.localhost"])
            hosts.append(f"{slug(index)}.localhost")
            if index % 200 == 0:
                say(f"  {index} counties")
        connection.close()
        settings = {"never recycled": args.counties * 10, f"recycled after {args.recycle} counties": args.recycle}
        for label, value in settings.items():
            for threads in (1, THREADS):
                load.append(os.getloadavg()[0])
                key = f"{label}, {threads} thread{'s' if threads > 1 else ''}"
                say(f"  worker, connections {key} …")
                results[key] = measure(env, server.admin_url(), hosts, value, threads)
                say(f"    {results[key]}")
    finally:
        server.destroy()
    return render(args, started_at, results, load, time.perf_counter() - began)


def render(args: argparse.Namespace, started_at: str, results: dict[str, dict[str, float]], load: list[float],
           total: float) -> str:
    m = machine()
    lines = [
        "## PostgreSQL memory of a worker's connections across every county (`bench/county_memory.py`)",
        "",
        f"Run {started_at} ({args.counties:,} counties, {total:.0f} s in all): `{command_line()}` on {m['nproc']} CPUs "
        f"({m['cpu']}), {m['memory']}, PostgreSQL embedded (durable), Python {m['python']}; load average "
        f"{min(load):.1f} to {max(load):.1f}.",
        "",
        f"One uvicorn worker with 1 HTTP thread (so one connection serves every county) and with {THREADS} "
        "threads, each thread keeping its connection; as many clients as threads read `GET /zhenggai/` of "
        "every county twice in shuffled order; then the private memory (RssAnon) of each PostgreSQL backend "
        "the worker holds. Baseline: the largest backend after every connection served one county.",
        "",
        "| connections | backends | largest RssAnon: baseline -> after | sum of RssAnon | sum of PSS "
        "| requests (failed) | p50 / p99 ms |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, x in results.items():
        lines.append(
            f"| {label} | {x['connections']:.0f} | {x['baseline_max']:.1f} -> {x['anon_max']:.1f} MB | "
            f"{x['anon_sum']:.1f} MB | {x['pss_sum']:.1f} MB | {x['requests']:.0f} ({x['failures']:.0f}) | "
            f"{x['p50']:.1f} / {x['p99']:.1f} |"
        )
    single = [x for x in results.values() if x["threads"] == 1]
    many = [x for x in results.values() if x["threads"] == THREADS]
    if len(single) == 2 and len(many) == 2:
        before, after = single
        per = (before["anon_max"] - before["baseline_max"]) * 2**10 / args.counties
        lines += [
            "",
            f"One connection that served all {args.counties:,} counties grew by "
            f"{before['anon_max'] - before['baseline_max']:.1f} MB, about {per:.0f} KB a county: at 2,800 counties "
            f"about {per * 2800 / 2**10:.0f} MB per connection, {per * 2800 * THREADS / 2**20:.1f} GB for a worker "
            f"of {THREADS} threads. Recycled after {args.recycle} counties it grew by "
            f"{after['anon_max'] - after['baseline_max']:.1f} MB. With {THREADS} threads the sum of the worker's "
            f"backends went {many[0]['anon_sum']:.1f} -> {many[1]['anon_sum']:.1f} MB.",
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--counties", type=int, default=1000)
    parser.add_argument("--recycle", type=int, default=100, help="SHUPING_CONN_MAX_SCHEMAS of the second run")
    parser.add_argument("--quick", action="store_true", help="200 counties; implies --no-docs")
    parser.add_argument("--no-docs", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.counties, args.no_docs = 200, True
    section = run(args)
    print()
    print(section)
    if not args.no_docs:
        write_section("county_memory", section)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
