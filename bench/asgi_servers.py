"""ASGI server: uvicorn against Granian, side by side in one run, and whether each holds the live contract.

Run from the repository root (Granian: `pip install granian` into .venv; the
`bench` extra installs it):

    .venv/bin/python bench/asgi_servers.py            # 3 rounds, rewrites docs/benchmarks.md
    .venv/bin/python bench/asgi_servers.py --quick    # 1 small round, prints only

One embedded PostgreSQL (durable settings), one county, meetings set up
through the API as in bench/ballots_http.py (whose load generator and setup
this reuses). Each round starts each server in turn with 2 worker processes
(the order alternates from round to round), warms it up, then measures with
the same closed-loop clients: `GET /healthz` req/s (the HTTP stack) and
ballots/s (`POST /api/v/<m>/ballot/`, fresh codes for every server and round).
The ratios Granian / uvicorn are taken round by round, so both figures of a
ratio were measured minutes apart on the same machine.

uvicorn runs as the workers run (shuping.server_options: no permessage-deflate,
64 KiB frames); Granian with `--interface asgi`, websockets on, its defaults
otherwise (it has no frame-size or deflate switch).

The contract (tests/live/test_floods.py, docs/live.md "Floods"): a hall
screen's socket that sends garbage is closed with 4400, binary frames 1003,
oversized frames 1009, a ping flood 4429; under a flood of 30 such sockets
(tests/live/flood_client.py) every close carries its kind's code. A server
that closes with another code (e.g. 1006, no close frame) breaks it: the
hall screen's script tells "bad client" from "network gone" by that code.
The verdict keeps the server that holds the contract, the faster on ballots if both do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import secrets
import select
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent))

import ballots_http as bh  # noqa: E402
from _common import (  # noqa: E402
    REPO,
    close_django,
    command_line,
    free_port,
    machine,
    say,
    show_section,
)

SERVERS = ("uvicorn", "granian")
WORKERS = 2


def server_command(kind: str, port: int) -> list[str]:
    from shuping.server_options import APP, server_flags

    if kind == "uvicorn":
        return [sys.executable, "-m", "uvicorn", APP, "--host", "127.0.0.1", "--port", str(port),
                "--workers", str(WORKERS), "--no-access-log", *server_flags()]
    granian = shutil.which("granian", path=str(Path(sys.executable).parent)) or shutil.which("granian")
    if granian is None:
        raise SystemExit("granian is not installed: .venv/bin/pip install granian")
    return [granian, "--interface", "asgi", "--host", "127.0.0.1", "--port", str(port), "--workers", str(WORKERS),
            "--ws", "--no-access-log", "--log-level", "warning", APP]


class Server:
    def __init__(self, kind: str, env: dict[str, str], log: Path) -> None:
        self.kind = kind
        self.port = free_port()  # bench only: Granian cannot be asked which port 0 became
        self.log_path = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(server_command(kind, self.port), cwd=REPO, env=env, stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        import httpx

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{kind} exited: {log.read_text(errors='replace')[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", headers={"Host": bh.HOST}, timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{kind}: no /healthz answer in 120 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(10)


# -- the contract ------------------------------------------------------------------------------

FRAMES = {  # frame -> close code, as tests/live/test_floods.py::test_a_bad_frame_closes_the_socket_with_its_code
    "not-json": ("not json", 4400),
    "unknown-type": ('{"type": "subscribe"}', 4400),
    "deep": ("[" * 4000, 4400),
    "binary": (b"\x00\x01", 1003),
    "oversized": ('{"type": "ping", "pad": "' + "x" * 5000 + '"}', 1009),
}


def _close_code_after(port: int, path: str, frames: list[str | bytes]) -> int | None:
    """Open a screen, wait for its snapshot, send `frames`, return the close code the client saw (1006: none)."""
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    with connect(f"ws://{bh.HOST}:{port}{path}", sock=sock, open_timeout=30) as conn:
        json.loads(conn.recv(timeout=30))  # the snapshot
        try:
            for frame in frames:
                conn.send(frame)
            while True:
                conn.recv(timeout=30)
        except ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else 1006
        except TimeoutError:
            return None  # not closed in 30 s


def contract(port: int, county: str, meeting_id: str) -> dict[str, Any]:
    """Close codes per bad frame and under the flood, beside what the contract wants."""
    from common import tokens
    from tests.live.test_floods import EXPECTED_CLOSE

    path = f"/ws/m/{meeting_id}/screen/?t={tokens.issue(county=county, meeting_id=meeting_id, kind='screen')}"
    frames = {name: (_close_code_after(port, path, [frame]), want) for name, (frame, want) in FRAMES.items()}
    frames["ping-flood"] = (_close_code_after(port, path, ['{"type": "ping"}'] * 60), 4429)
    flood = subprocess.Popen([sys.executable, str(REPO / "tests/live/flood_client.py"), str(port), bh.HOST, path],
                             cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert flood.stdout is not None
    ready, _, _ = select.select([flood.stdout], [], [], 60)
    if ready and flood.stdout.readline().strip() == "flooding":
        time.sleep(3)
        out, _ = flood.communicate("stop\n", timeout=90)
        report = json.loads(out.strip().splitlines()[-1])
        closes = {kind: {c: n for c, n in report[kind]["closes"].items() if c != "closed_by_client"} for kind in report}
    else:
        flood.kill()
        flood.communicate()
        closes = {"error": {"the server did not close every flooding socket in 60 s": 1}}
    held = all(got == want for got, want in frames.values()) and all(
        set(closes.get(kind, {})) == {code} for kind, code in EXPECTED_CLOSE.items()
    )
    return {"frames": frames, "flood": closes, "held": held}


# -- the run -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 round, 2 meetings x 60 voters; implies --no-docs")
    parser.add_argument("--no-docs", action="store_true")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--meetings", type=int, default=4, help="meetings per server and round")
    parser.add_argument("--voters", type=int, default=150, help="ballots per meeting per server and round")
    parser.add_argument("--clients", type=int, default=64)
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.meetings, args.voters, args.clients, args.no_docs = 1, 2, 60, 32, True
    started = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    workdir = Path(tempfile.mkdtemp(prefix="shuping-bench-asgi-"))
    from shuping.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(workdir / "pg", port=free_port(), throwaway=False)
    running: Server | None = None
    try:
        say(f"starting PostgreSQL (durable) in {workdir} …")
        url = pg.start(log=False)
        env = dict(os.environ, DATABASE_URL=url, SHUPING_HOME=str(workdir),
                   SHUPING_SECRET_KEY=secrets.token_urlsafe(50), DJANGO_SETTINGS_MODULE="shuping.settings")
        env.pop("SHUPING_DEBUG", None)
        subprocess.run([sys.executable, "-m", "shuping.cli", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        os.environ.update(DATABASE_URL=url, DJANGO_SETTINGS_MODULE="shuping.settings",
                          SHUPING_SECRET_KEY=env["SHUPING_SECRET_KEY"])
        import django

        django.setup()
        from django.db import connection
        from django_tenants.utils import schema_context

        from accounts.api_tokens import issue_token
        from accounts.models import User
        from tenants.provisioning import create_county

        county = create_county(slug=bh.COUNTY, name="基准县（ASGI）", domains=[bh.HOST])
        keys = {}
        with schema_context(county.schema_name):
            for role in ("county_admin", "host"):
                user = User.objects.create_user(username=f"bench_{role}", password=secrets.token_urlsafe(12), role=role)
                keys[role] = issue_token(user).key
        connection.close()

        # Every ballot batch of the run, set up once through uvicorn (not measured).
        log = workdir / "servers.log"
        running = Server("uvicorn", env, log)
        t0 = time.perf_counter()
        needed = (args.rounds * len(SERVERS) * args.meetings + 1) // 2  # two batches of codes a meeting
        made = bh.setup_meetings(bh.Api(running.port, keys["county_admin"]), bh.Api(running.port, keys["host"]),
                                 needed, args.voters)
        running.stop()
        running = None
        say(f"set up {len(made)} meetings x 2 x {args.voters} codes in {time.perf_counter() - t0:.1f} s")
        batches = [(mid, codes) for mid, a, b in made for codes in (a, b)]
        rng = random.Random(20261203)
        figures: dict[str, list[dict[str, float]]] = {kind: [] for kind in SERVERS}
        for r in range(args.rounds):
            order = SERVERS if r % 2 == 0 else SERVERS[::-1]
            for kind in order:
                mine = [batches.pop() for _ in range(args.meetings)]
                rows = bh.interleave(mine, rng)
                running = Server(kind, env, log)
                asyncio.run(bh.ceiling_loop(running.port, max(400, 4 * args.clients), args.clients))  # warm-up
                ceiling = asyncio.run(bh.ceiling_loop(running.port, 3 * len(rows), args.clients))
                peak = asyncio.run(bh.closed_loop(running.port, rows, args.clients))
                running.stop()
                running = None
                ok = ceiling.statuses[200] == 3 * len(rows) and peak.statuses[201] == len(rows)
                figures[kind].append({"healthz": ceiling.rate, "ballots": peak.rate, "p99": peak.ms(99), "ok": ok})
                say(f"round {r + 1} {kind}: /healthz {ceiling.rate:,.0f} req/s; ballots {peak.rate:,.0f}/s "
                    f"(p50 {peak.ms(50):.1f} ms, p99 {peak.ms(99):.1f} ms){'' if ok else ' ERRORS ' + str(dict(peak.statuses))}")

        contracts = {}
        for kind in SERVERS:
            running = Server(kind, env, log)
            contracts[kind] = contract(running.port, county.schema_name, made[0][0])
            running.stop()
            running = None
            say(f"contract {kind}: {'held' if contracts[kind]['held'] else 'BROKEN'} "
                f"{json.dumps(contracts[kind]['frames'])} flood {json.dumps(contracts[kind]['flood'])}")

        section = render(started, args, figures, contracts)
        show_section("asgi_servers", section, no_docs=args.no_docs)
        return 0 if all(f["ok"] for runs in figures.values() for f in runs) else 1
    finally:
        if running is not None:
            running.stop()
        close_django()
        pg.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


def render(started: str, args: Any, figures: dict[str, list[dict[str, float]]], contracts: dict[str, Any]) -> str:
    from importlib.metadata import version

    info = machine()
    ratios = {what: [g[what] / u[what] for u, g in zip(figures["uvicorn"], figures["granian"], strict=True)]
              for what in ("healthz", "ballots")}
    held = [kind for kind in SERVERS if contracts[kind]["held"]]
    faster = max(held, key=lambda k: statistics.median(f["ballots"] for f in figures[k])) if held else "none"
    lines = [
        "## ASGI server: uvicorn vs Granian",
        "",
        f"`{command_line()}`, {started}; uvicorn {version('uvicorn')}, Granian {version('granian')}, "
        f"{WORKERS} worker processes each, {args.clients} closed-loop clients, {args.meetings} meetings x "
        f"{args.voters} ballots per server and round; {info['nproc']} CPUs ({info['cpu']}), shared.",
        "",
        "| round | uvicorn /healthz req/s | Granian /healthz req/s | ratio | uvicorn ballots/s | Granian ballots/s | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, (u, g) in enumerate(zip(figures["uvicorn"], figures["granian"], strict=True), start=1):
        lines.append(f"| {n} | {u['healthz']:,.0f} | {g['healthz']:,.0f} | {g['healthz'] / u['healthz']:.2f}x | "
                     f"{u['ballots']:,.0f} | {g['ballots']:,.0f} | {g['ballots'] / u['ballots']:.2f}x |")
    lines += [
        "",
        f"Granian / uvicorn, median of the rounds: /healthz {statistics.median(ratios['healthz']):.2f}x "
        f"(range {min(ratios['healthz']):.2f}-{max(ratios['healthz']):.2f}), ballots "
        f"{statistics.median(ratios['ballots']):.2f}x (range {min(ratios['ballots']):.2f}-{max(ratios['ballots']):.2f}).",
        "",
        "| contract (close code) | wanted | uvicorn | Granian |",
        "|---|---|---|---|",
    ]
    for name, (_, want) in contracts["uvicorn"]["frames"].items():
        lines.append(f"| {name} | {want} | {contracts['uvicorn']['frames'][name][0]} | "
                     f"{contracts['granian']['frames'][name][0]} |")
    for kind in SERVERS:
        lines.append(f"| flood of 30 sockets ({kind}) | 4400 / 1009 / 1003 / 4429 by kind | "
                     + " | ".join(json.dumps(contracts[k]["flood"]) if k == kind else "" for k in SERVERS) + " |")
    lines += [
        "",
        f"Holds the contract: {', '.join(held) or 'neither'}. Kept: **{faster}** "
        "(the server that holds the contract; the faster on ballots if both do).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
