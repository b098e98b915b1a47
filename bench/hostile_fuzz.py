"""Hostile requests over every operation of the API, at any size, with the figures of the run.

Run from the repository root:

    .venv/bin/python bench/hostile_fuzz.py                 # 20,000+ requests, rewrites docs/benchmarks.md
    .venv/bin/python bench/hostile_fuzz.py --cases 300     # ~55,000 requests
    .venv/bin/python bench/hostile_fuzz.py --quick         # ~1,800 requests, prints only

The same run as tests/hostile/test_fuzz_api.py (tests.hostile.fuzz): one
embedded PostgreSQL started here, a county with an account for every role,
a closed meeting and one with its ballot open, and a real server process
(uvicorn, as production). Schemathesis draws positive and negative cases
for every operation of /api/schema/; each is sent as anonymous and as each
county role. The bar, checked and reported: 0 answers 5xx or without an
answer, every error in the documented format with an X-Request-ID, no
change in any county that a 2xx answer does not account for (the ledger,
tests.hostile.ledger), no traceback in the server's log, and a command
that still succeeds after the run.

Figures: requests, cases, operations, answers by status and by error code,
wall time and requests/s, CPU seconds of the fuzzer and of the server, and
the operations that took the longest. The load generator runs on the same
CPUs as the server and PostgreSQL; on a shared machine compare runs side
by side, never with figures of another day.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.* (the harness) from the repository

from _common import command_line, free_port, machine, machine_text, say, show_section  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=115, help="cases per operation (115: over 20,000 requests)")
    parser.add_argument("--threads", type=int, default=4, help="sending threads")
    parser.add_argument("--server-threads", type=int, default=8, help="the server's HTTP threads")
    parser.add_argument("--quick", action="store_true", help="10 cases per operation; implies --no-docs")
    parser.add_argument("--no-docs", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args(argv)
    if args.quick:
        args.cases, args.no_docs = 10, True

    started = dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    workdir = Path(tempfile.mkdtemp(prefix="shuping-bench-fuzz-"))
    from shuping.embedded_pg import EmbeddedPostgres

    pg = EmbeddedPostgres(workdir / "pg", port=free_port(), throwaway=False)
    server = None
    try:
        say(f"starting PostgreSQL in {workdir} …")
        url = pg.start(log=False)
        env = dict(os.environ, DATABASE_URL=url, SHUPING_SECRET_KEY=secrets.token_urlsafe(50),
                   DJANGO_SETTINGS_MODULE="shuping.settings")
        env.pop("SHUPING_DEBUG", None)
        subprocess.run([sys.executable, "-m", "shuping.cli", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
        os.environ.update({k: env[k] for k in ("DATABASE_URL", "SHUPING_SECRET_KEY", "DJANGO_SETTINGS_MODULE")})
        import django

        django.setup()
        import httpx
        from django.db import connection
        from django_tenants.utils import schema_context

        from tenants.models import Domain
        from tenants.provisioning import create_county
        from tests.hostile.fuzz import Sent, run_fuzz
        from tests.hostile.hall import set_up_hall
        from tests.hostile.ledger import Ledger
        from tests.live.server import LiveServer, county_host

        county = create_county(slug="fuzz", name="基准县（恶意输入）", domains=["fuzz.testserver"])
        Domain.objects.create(domain=county_host(county), tenant=county, is_primary=False)
        create_county(slug="bystander", name="旁观县", domains=["bystander.testserver"])  # must not change at all
        server = LiveServer(threads=args.server_threads)
        say(f"server: uvicorn, {args.server_threads} threads, port {server.port}")
        hall = set_up_hall(server, county)
        with schema_context("public"):
            ledger = Ledger.take(county.schema_name)
        connection.close()
        say(f"fuzzing {args.cases} cases per operation as {len(hall.identities)} identities …")
        result = run_fuzz(
            base_url=f"http://127.0.0.1:{server.port}", host=f"{county_host(county)}:{server.port}",
            identities=hall.identities, targets={"meeting_id": [hall.closed, hall.open], "question_id": hall.questions},
            cases_per_operation=args.cases, threads=args.threads, server_pid=server.proc.pid, say=say,
        )
        say(result.summary())

        # After the run: a command still succeeds, and the ledger accounts for it.
        admin = next(i for i in hall.identities if i.name == "county_admin")
        key = str(uuid.uuid4())
        after = httpx.post(server.url("127.0.0.1", "/api/rounds/"), timeout=60,
                           json={"name": "复评", "year": 2026, "variant": "zhi_ping_cun_guan"},
                           headers={"Host": f"{county_host(county)}:{server.port}", "Idempotency-Key": key,
                                    "Authorization": f"Token {admin.token}"})
        from common.api import keyed_command_id

        sent = [*result.sent, Sent("POST /api/rounds/", "county_admin", keyed_command_id(who=admin.who, key=key),
                                   after.status_code)]
        with schema_context("public"):
            violations = ledger.check(sent)
        connection.close()

        problems = [s.problem or "" for s in result.problems]
        if after.status_code != 201:
            problems.append(f"a command after the run answered {after.status_code}: {after.text[:200]}")
        problems += violations
        log = Path(server.log.name).read_text(errors="replace")
        if "Traceback" in log or "Internal Server Error" in log:
            problems.append("the server logged a traceback")
        codes = Counter(_error_code(s) for s in result.sent if s.status >= 400)
        section = render(started, args, result, codes, problems)
        show_section("hostile_fuzz", section, no_docs=args.no_docs)
        return 1 if problems else 0
    finally:
        if server is not None:
            server.stop()
        from django.db import connections

        connections.close_all()
        pg.destroy()
        shutil.rmtree(workdir, ignore_errors=True)


def _error_code(sent: object) -> str:
    return str(getattr(sent, "code", None) or "?")


def render(started: str, args: argparse.Namespace, result: object, codes: Counter[str], problems: list[str]) -> str:
    from tests.hostile.fuzz import FuzzResult

    assert isinstance(result, FuzzResult)
    info = machine()
    statuses = ", ".join(f"{status}: {count:,}" for status, count in sorted(result.statuses.items()))
    top = ", ".join(f"`{code}` {count:,}" for code, count in codes.most_common(12))
    slow = "\n".join(f"| `{label}` | {seconds:.1f} | {count:,} |" for label, seconds, count in result.slowest(5))
    verdict = "**bar held**" if not problems else f"**bar broken** ({len(problems)} problems)"
    lines = [
        "## Hostile input: Schemathesis over the whole API",
        "",
        f"`{command_line()}`, {started}; {machine_text(info, kernel=False)}.",
        "",
        f"- {len(result.sent):,} requests: {result.cases:,} cases drawn by Schemathesis (positive and negative, "
        f"{args.cases} per operation) x {len(set(s.identity for s in result.sent))} identities (anonymous and each "
        f"county role), over {len(result.operations)} operations",
        f"- {result.seconds:.0f} s wall, {len(result.sent) / max(result.seconds, 1e-9):.0f} requests/s; "
        f"CPU: fuzzer {result.client_cpu:.0f} s, server {result.server_cpu or 0:.0f} s",
        f"- answers by status: {statuses}",
        f"- most frequent error codes: {top}",
        f"- {verdict}: {len(result.problems)} answers 5xx, unanswered or outside the error format; "
        f"{len(problems) - len(result.problems)} other problems (unaccounted changes, tracebacks, a command "
        "failing after the run)",
        "",
        "| slowest operations | seconds, all requests | requests |",
        "|---|---|---|",
        slow,
    ]
    if problems:
        lines += ["", "Problems (first 10):", "", *[f"- {json.dumps(p, ensure_ascii=False)[:300]}" for p in problems[:10]]]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
