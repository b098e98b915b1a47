"""Benchmark of results on the spot: from the host's "close ballot" to the results on the last hall screen.

Run from the repository root:

    .venv/bin/python bench/spot.py                 # 1 warm-up + 5 measured rounds, rewrites its docs section
    .venv/bin/python bench/spot.py --quick         # 1 warm-up + 2 rounds, prints only
    .venv/bin/python bench/spot.py --profile DIR   # also py-spy records the server during each close
    .venv/bin/python bench/spot.py --against REV   # a second server on git revision REV, rounds alternated

What runs (one embedded PostgreSQL with durable settings, destroyed at the end):

1. one uvicorn process (`shuping.asgi:application` with the flags of
   `shuping.server_options`, as `shuping run`, the live tests and infra/ start
   it), in-memory channel layer, on a county with a `.localhost` host;
2. per round, a fresh meeting of 400 voters (200 party members, 200
   representatives, all checked in) on the 双述双评 preset: 10 subjects x 5
   criteria, taken to an open ballot through the API as a hall does;
3. 300 phone ballots cast over HTTP through the real casting path
   (`POST /api/v/<meeting>/ballot/`, sealed in the ballot box), 16 clients at
   a time, after the phones opened their forms; 100 paper ballots in 4
   numbered batches of 25, each entered by two tellers (`POST
   .../paper-batches/`), so every batch is reconciled;
4. 200 hall screens (`/ws/m/<meeting>/screen/`) and the host's console
   (`/ws/m/<meeting>/console/`) connect and get their snapshot; a quiet second;
5. measured: the host's console sends two requests, as the console page
   does (frontend/static/js/console.js: "ballot-close" then, on its own
   button, "announce-results"): `POST .../ballot/close/`, and as soon as its
   answer arrives `POST .../results/announce/`. The time runs from sending
   the close to the first frame carrying the announced results on each
   screen; per round the LAST screen is the figure (and the median screen).

The limit, measured in the same run right after each round on the same
database: psycopg (no Django), one connection opened beforehand, ONE
statement that reads the meeting's 400 ballots from the log (the 300
BallotCast events and one entry of each of the 4 paper batches), looks up
each ballot's voter category from the issued codes, and aggregates all
20,000 marks (subject x criterion x grade x category counts), inserting the
tally as one row; then one durable commit (synchronous_commit on).

Goal: the last screen within 3x the limit; at the least under 150 ms.
Timing never decides a test; this prints and writes docs/benchmarks.md (its
own section between `<!-- bench:spot:start -->` and `<!-- bench:spot:end -->`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (  # noqa: E402
    REPO,
    ServerProcess,
    bench_arguments,
    close_django,
    command_line,
    free_port,
    say,
    show_section,
)
from ballots_http import machine_info  # noqa: E402
from live_fanout import CpuProbe, code_version, log_errors  # noqa: E402
from spot_clients import (  # noqa: E402
    HOST,
    PAPER_BATCHES,
    SUBJECTS,
    Meeting,
    Round,
    cast_phones,
    close_and_announce,
    close_screens,
    marks,
    open_screens,
)
from spot_report import Results, render  # noqa: E402

COUNTY = "benchspot"
CATEGORIES = (("party_member", "pm", "党员"), ("representative", "rep", "代表"))
PER_CATEGORY = 200  # voters of each category (400 in all)
PHONE_PER_CATEGORY = 150  # 300 phone ballots; the other 100 on paper


# -- processes -------------------------------------------------------------------------------------


class Server(ServerProcess):
    """One uvicorn worker started with the flags every deployment of the platform uses."""

    def __init__(self, env: dict[str, str], log: Path, *, label: str = "this tree", source: Path = REPO) -> None:
        from shuping.server_options import APP, server_flags

        self.label = label
        port = free_port()
        if source != REPO:
            # Another revision's code: its source roots go before the editable install's.
            env = dict(env, PYTHONPATH=os.pathsep.join([str(source / "platform"), str(source)]))
        argv = ["uvicorn", APP, "--host", "127.0.0.1", "--port", str(port), *server_flags()]
        super().__init__(argv, port=port, env=env, log=log, cwd=source)


class Profiler:
    """py-spy recording the server while one close runs (started before, stopped after the results)."""

    def __init__(self, folder: Path, pid: int) -> None:
        self.folder = folder
        self.pid = pid
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, name: str) -> None:
        binary = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self.folder.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [binary, "record", "--pid", str(self.pid), "--rate", "1000", "--format", "raw", "--nonblocking",
             "--output", str(self.folder / f"{name}.txt")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        time.sleep(1.0)  # attached before the close is sent

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


# -- the meeting, through the API ----------------------------------------------------------------


class Api:
    def __init__(self, port: int, token: str) -> None:
        import httpx

        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}/api/", timeout=60, trust_env=False,
            headers={"Host": HOST, "Authorization": f"Token {token}"},
        )

    def post(self, path: str, body: Any = None, expect: int = 200) -> dict[str, Any]:
        response = self.client.post(path, json=body if body is not None else {})
        if response.status_code != expect:
            raise RuntimeError(f"POST {path}: {response.status_code} {response.text[:1000]}")
        return response.json()


def setup_meeting(admin: Api, host: Api, round_id: str, n: int) -> Meeting:
    """A 400-voter meeting at an open ballot, every voter checked in, codes issued per category."""
    starts = (datetime.now(UTC) + timedelta(days=4)).isoformat()
    roster = [{"member_id": f"{prefix}{i}", "name": f"{name}{i}", "category": category}
              for category, prefix, name in CATEGORIES for i in range(PER_CATEGORY)]
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": f"基准测试会（当场公布）{n}", "township": "柳林乡", "village": f"第{n}村",
        "starts_at": starts, "place": "村部",
        "subjects": [{"subject_id": sid, "name": name, "level": "village", "kind": "person"} for sid, name in SUBJECTS],
        "roster": roster,
    }, 201)["meeting_id"]
    m = f"meetings/{mid}/"
    host.post(m + "announce/", {"starts_at": starts, "place": "村部", "agenda": ["述职", "测评"], "channels": ["广播"]})
    for member in roster:
        host.post(m + "check-in/", {"member_id": member["member_id"]})
    host.post(m + "open/")
    for sid, _name in SUBJECTS:
        host.post(m + "reports/start/", {"subject_id": sid})
        host.post(m + "reports/end/", {"subject_id": sid})
    phone, paper = [], []
    for category, _prefix, _name in CATEGORIES:
        codes = host.post(m + "codes/", {"category": category, "count": PER_CATEGORY})["codes"]
        phone += [(c, category) for c in codes[:PHONE_PER_CATEGORY]]
        paper += [(c, category) for c in codes[PHONE_PER_CATEGORY:]]
    host.post(m + "ballot/open/")
    rules = host.client.get("presets/").json()["shuang_shu_shuang_ping"]
    grades = {kind: [g["id"] for g in scale["grades"]] for kind, scale in rules["scales"].items()}
    return Meeting(mid, phone, paper, grades, [c["id"] for c in rules["criteria"]])


def enter_paper(tellers: list[Api], meeting: Meeting, rng: random.Random) -> None:
    """4 numbered batches of the paper ballots, each entered alike by two tellers (reconciled)."""
    size = -(-len(meeting.paper) // PAPER_BATCHES)
    for batch_no in range(1, PAPER_BATCHES + 1):
        part = meeting.paper[(batch_no - 1) * size:batch_no * size]
        ballots = [{"code": code, "marks": marks(meeting, rng)} for code, _category in part]
        for teller in tellers:
            teller.post(f"meetings/{meeting.mid}/paper-batches/", {"batch_no": batch_no, "ballots": ballots})


# -- the limit: PostgreSQL alone ------------------------------------------------------------------

LIMIT_SQL = """
INSERT INTO bench_spot.tallies (meeting_id, marks, tally)
WITH issued AS (
    SELECT code.value AS code_hash, e.data->>'category' AS category
      FROM {schema}.events e, jsonb_array_elements_text(e.data->'code_hashes') AS code(value)
     WHERE e.stream_id = %(stream)s AND e.type = 'BallotCodesIssued'
), paper AS (
    SELECT DISTINCT ON (e.data->>'batch_no') e.data->'ballots' AS ballots
      FROM {schema}.events e
     WHERE e.stream_id = %(stream)s AND e.type = 'PaperBatchEntered'
     ORDER BY e.data->>'batch_no', e.stream_version
), ballots AS (
    SELECT e.data->>'code_hash' AS code_hash, e.data->'marks' AS marks
      FROM {schema}.events e
     WHERE e.stream_id = %(stream)s AND e.type = 'BallotCast'
    UNION ALL
    SELECT b.value->>'code_hash', b.value->'marks' FROM paper, jsonb_array_elements(paper.ballots) AS b(value)
), counted AS (
    SELECT i.category, s.key AS subject, c.key AS criterion, c.value AS grade, count(*) AS n
      FROM ballots JOIN issued i USING (code_hash),
           jsonb_each(ballots.marks) AS s(key, value), jsonb_each_text(s.value) AS c(key, value)
     GROUP BY 1, 2, 3, 4
)
SELECT %(mid)s, sum(n), jsonb_agg(jsonb_build_array(category, subject, criterion, grade, n)) FROM counted
RETURNING marks
"""


class Limit:
    """One psycopg connection (no Django) on the same database, opened before the rounds."""

    def __init__(self, url: str, schema: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url)
        self.sql = LIMIT_SQL.replace("{schema}", schema)
        with self.conn.transaction():
            self.conn.execute("CREATE SCHEMA IF NOT EXISTS bench_spot")
            self.conn.execute("CREATE TABLE IF NOT EXISTS bench_spot.tallies"
                              " (meeting_id text, marks bigint, tally jsonb)")

    def measure(self, mid: str, repeat: int = 3) -> tuple[float, int]:
        """Milliseconds for the statement and its commit (median of `repeat`), and the marks it aggregated."""
        times, counted = [], 0
        for _ in range(repeat):
            t0 = time.perf_counter()
            row = self.conn.execute(self.sql, {"stream": f"meeting-{mid}", "mid": mid}).fetchone()
            self.conn.commit()
            times.append((time.perf_counter() - t0) * 1000)
            counted = int(row[0]) if row and row[0] is not None else 0
        return statistics.median(times), counted

    def close(self) -> None:
        self.conn.close()


# -- main ------------------------------------------------------------------------------------------


def run_round(args: argparse.Namespace, server: Server, keys: dict[str, str], round_id: str, schema: str, n: int,
              count: int, limit: Limit, probe: CpuProbe, rng: random.Random, results: Results) -> None:
    """One meeting set up on `server`, voted, closed and announced while its screens watch."""
    from common import tokens

    t = time.perf_counter()
    admin, host = Api(server.port, keys["admin"]), Api(server.port, keys["host"])
    tellers = [Api(server.port, keys["teller1"]), Api(server.port, keys["teller2"])]
    meeting = setup_meeting(admin, host, round_id, count)
    asyncio.run(cast_phones(server.port, meeting, rng))
    enter_paper(tellers, meeting, rng)
    page_tokens = {kind: tokens.issue(county=schema, meeting_id=meeting.mid, kind=kind) for kind in ("screen", "console")}
    rnd = Round(n, warmup=n == 0, mid=meeting.mid, label=server.label)
    profiler = Profiler(Path(args.profile), server.proc.pid) if args.profile else None

    async def measure() -> None:
        screens = await open_screens(server.port, meeting.mid, page_tokens, args.screens)
        try:
            if profiler is not None:
                profiler.start(f"round{count}")
            try:
                await close_and_announce(server.port, keys["host"], screens, rnd, probe)
            finally:
                if profiler is not None:
                    profiler.stop()
        finally:
            await close_screens(screens)

    asyncio.run(measure())
    rnd.limit_ms, counted = limit.measure(meeting.mid)
    expected = 2 * PER_CATEGORY * len(SUBJECTS) * len(meeting.criteria)
    if counted != expected:
        rnd.problems.append(f"the limit aggregated {counted} marks, not {expected}")
    results.rounds.append(rnd)
    server_cpu = sum(v for k, v in rnd.cpu.items() if k.startswith("server"))
    say(f"round {n}{' (warm-up)' if rnd.warmup else ''} on {server.label}: close answered "
        f"{rnd.close_answer_ms:.0f} ms, announce answered {rnd.announce_answer_ms:.0f} ms, ballot_closed on the "
        f"last screen {rnd.closed_last_ms:.0f} ms, results on the median screen {rnd.median_ms:.0f} ms, LAST "
        f"{rnd.last_ms:.0f} ms (console {rnd.console_ms:.0f} ms; missing {rnd.missing}); limit {rnd.limit_ms:.1f} ms "
        f"({counted} marks); {rnd.last_ms / rnd.limit_ms:.1f}x; CPU s server {server_cpu:.2f}, PostgreSQL "
        f"{rnd.cpu.get('PostgreSQL', 0):.2f} [{time.perf_counter() - t:.0f} s]")
    for problem in rnd.problems:
        results.problems.append(f"round {n} ({server.label}): {problem}")
    if rnd.missing:
        results.problems.append(f"round {n} ({server.label}): {rnd.missing} screens never showed the results")



def main(argv: list[str] | None = None) -> int:
    parser = bench_arguments(__doc__, quick="2 measured rounds; implies --no-docs")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (after one warm-up)")
    parser.add_argument("--screens", type=int, default=200)
    parser.add_argument("--profile", metavar="DIR", help="py-spy record the server during each close into DIR")
    parser.add_argument("--against", metavar="REV",
                        help="also run a server on git revision REV (same database); rounds alternate between them")
    parser.add_argument("--profile-text", metavar="FILE",
                        help="a Markdown paragraph (where the time goes) to put in the docs section")
    args = parser.parse_args(argv)
    if args.quick:
        args.rounds, args.no_docs = 2, True
    if args.profile:
        args.no_docs = True  # a profiled run is slower: its figures are not the record

    results = Results(started=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"), command=command_line(),
                      screens=args.screens)
    if args.profile_text:
        results.profile = Path(args.profile_text).read_text(encoding="utf-8").strip()
    began = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="shuping-bench-spot-"))
    from shuping.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(workdir / "pg", port=free_port(), throwaway=False)
    servers: list[Server] = []
    limit: Limit | None = None
    try:
        say(f"starting PostgreSQL (durable) in {workdir} …")
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
        from tenants.provisioning import create_county

        county = create_county(slug=COUNTY, name="基准县（当场公布）", domains=[HOST])
        keys = {}
        with schema_context(county.schema_name):
            for username, role in (("admin", "county_admin"), ("host", "host"), ("teller1", "teller"),
                                   ("teller2", "teller")):
                user = User.objects.create_user(username=f"bench_{username}", password=secrets.token_urlsafe(12),
                                                role=role)
                keys[username] = issue_token(user).key
        connection.close()
        results.machine = machine_info(url)
        results.machine["code"] = code_version()
        say(f"PostgreSQL: {results.machine['postgres']}\n  {results.machine['settings']}")

        server = Server(env, workdir / "uvicorn.log")
        servers = [server]
        if args.against:
            tree = workdir / "against"
            tree.mkdir()
            archive = subprocess.run(["git", "archive", args.against], cwd=REPO, check=True, capture_output=True)
            subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
            sha = subprocess.run(["git", "rev-parse", "--short", args.against], cwd=REPO, check=True,
                                 capture_output=True, text=True).stdout.strip()
            servers.append(Server(env, workdir / "uvicorn-against.log", label=f"`{sha}` ({args.against})",
                                  source=tree))
        for each in servers:
            each.wait_ready(HOST)
            say(f"server ({each.label}): {' '.join(each.argv)}")
        admin = Api(server.port, keys["admin"])
        round_id = admin.post("rounds/", {"name": "基准测试（当场公布）", "year": 2026,
                                          "variant": "shuang_shu_shuang_ping"}, 201)["round_id"]
        limit = Limit(url, county.schema_name)
        roots = {f"server {i}": each.proc.pid for i, each in enumerate(servers)}
        postmaster = pg.running_server()
        if postmaster is not None:
            roots["PostgreSQL"] = postmaster.pid
        probe = CpuProbe(roots)
        rng = random.Random(20261203)
        count = 0
        for n in range(args.rounds + 1):
            # Alternate which server goes first, so neither always follows the other.
            for each in servers if n % 2 == 0 else servers[::-1]:
                run_round(args, each, keys, round_id, county.schema_name, n, count, limit, probe, rng, results)
                count += 1
        for each in servers:
            errors = log_errors(each.output())
            if errors:
                results.problems.append(f"the log of the server on {each.label} shows: " + "; ".join(
                    f"`{line[:160]}` x {k}" for line, k in errors.most_common(5)))
        results.total_seconds = time.perf_counter() - began
        results.machine["load"] = " ".join(f"{x:.1f}" for x in os.getloadavg())
        section = render(results)
        show_section("spot", section, no_docs=args.no_docs)
        return 1 if results.problems else 0
    finally:
        if limit is not None:
            limit.close()
        for each in servers:
            each.stop()
        close_django()
        pg.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
