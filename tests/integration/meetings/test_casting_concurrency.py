"""Ballot casting under real concurrency, against a real ASGI server in its own processes.

The server (uvicorn, two worker processes) runs beside the test on the test's
database, so everything set up here is committed: the county comes from
`make_county`, users and tokens are created with the ORM outside any test
transaction, and the meeting is driven through the HTTP API.

Then 300 codes are cast in one burst: each code is submitted 25 times with
the same ballot and, for every 20th code, 3 more times with different marks.
300 requests are outstanding at every moment (one keep-alive connection per
voter's phone), and the queue is ordered in batches of 10 codes so that all
submissions of a code, its first cast included, are in flight together. One
ballot per code must be sealed, exactly one submission per code answers 201,
identical retries get 200 with the winner's receipt, different ballots with a
used code get 409 `code_already_used`, and the server never answers 5xx.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from django_tenants.utils import schema_context

from tests.conftest import host_of
from tests.ports import listening_port

VOTERS = 300
DUPLICATES = 25  # identical submissions per code, all racing
RACING_CODES_EVERY = 20  # every 20th code also gets submissions with different marks
RACERS = 3  # differing submissions per racing code
WORKERS = 2
IN_FLIGHT = 300  # requests outstanding at every moment of the burst (one per voter's phone)
PER_CLIENT = 10
KEEP_ALIVE = 60
BATCH_CODES = 10  # codes whose submissions are queued together, so that all of them race
GRADES = ("chenzhi", "jiben_chenzhi", "bu_chenzhi")
SUBJECTS = [
    ("cun_shuji", "村党支部书记 王建国"),
    ("cun_zhuren", "村委会主任 李秀英"),
    ("kuaiji", "村会计 吴建华"),
]


class Server:
    """`uvicorn shuping.asgi:application` with WORKERS processes on a port the kernel picks (tests.ports)."""

    def __init__(self, log: Path) -> None:
        self.log_path = log
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="shuping.settings")
        env.pop("SHUPING_DEBUG", None)
        assert env.get("DATABASE_URL"), "the test database URL must reach the server"
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "shuping.asgi:application",
                "--host", "127.0.0.1", "--port", "0", "--workers", str(WORKERS),
                "--lifespan", "off", "--log-level", "info", "--no-access-log",
                # Longer than any answer takes under this load: uvicorn's default of 5 s
                # closes idle keep-alive connections while a client sends on them.
                "--timeout-keep-alive", str(KEEP_ALIVE),
            ],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        try:
            # The supervisor binds the socket (and hands it to the workers).
            self.port = listening_port(self.proc, output=lambda: self.output()[-4000:])
        except BaseException:
            self.stop()
            raise

    def output(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_ready(self, host: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"uvicorn exited with {self.proc.returncode}:\n{self.output()[-4000:]}")
            try:
                response = httpx.get(f"http://127.0.0.1:{self.port}/healthz", headers={"Host": host}, timeout=2)
                if response.status_code == 200 and response.json().get("schema"):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the server did not answer /healthz within {timeout} s:\n{self.output()[-4000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)  # the workers are in the server's own session
                self.proc.wait(timeout=10)
        self._log.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "uvicorn.log")
    try:
        yield running
    finally:
        running.stop()


class Http:
    """JSON over HTTP to the server, as one role (a token) of one county."""

    def __init__(self, port: int, host: str, token: str | None) -> None:
        headers = {"Host": host}
        if token:
            headers["Authorization"] = f"Token {token}"
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{port}/api/", headers=headers, timeout=60)

    def post(self, path: str, body: Any = None, *, expect: int = 200) -> dict[str, Any]:
        response = self.client.post(path, json=body if body is not None else {})
        assert response.status_code == expect, (path, response.status_code, response.text[:2000])
        return response.json()

    def get(self, path: str, *, expect: int = 200) -> dict[str, Any]:
        response = self.client.get(path)
        assert response.status_code == expect, (path, response.status_code, response.text[:2000])
        return response.json()


def _tokens(county: Any, django_db_blocker: Any, *roles: str) -> dict[str, str]:
    """Committed users with tokens (the server is another process: it must see them)."""
    from django.db import connection

    from accounts.api_tokens import issue_token
    from accounts.models import User

    tokens = {}
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        for role in roles:
            name = f"{role}_cc_{os.urandom(3).hex()}"
            user = User.objects.create_user(username=name, password="pw-" + name, role=role)
            tokens[role] = issue_token(user).key
        connection.close()
    return tokens


@dataclass(frozen=True)
class Submission:
    index: int  # the voter
    code: str
    marks: dict[str, dict[str, str]]
    identical: bool  # the voter's own ballot (True) or a different one racing for the same code


@dataclass
class Answer:
    submission: Submission
    status: int
    body: dict[str, Any]


async def _burst(port: int, host: str, mid: str, queue: list[Submission]) -> tuple[list[Answer], list[str]]:
    """Send `queue` in order with IN_FLIGHT requests outstanding at every moment.

    Each worker owns one keep-alive connection (a phone); workers share a few
    clients of PER_CLIENT connections, since httpx's pool grows slow with
    thousands of queued requests on one client.
    """
    pending = deque(queue)
    answers: list[Answer] = []
    failures: list[str] = []
    clients = [
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}/api/", headers={"Host": host}, timeout=httpx.Timeout(120),
            limits=httpx.Limits(max_connections=PER_CLIENT, max_keepalive_connections=PER_CLIENT),
        )
        for _ in range(IN_FLIGHT // PER_CLIENT)
    ]

    async def worker(client: httpx.AsyncClient) -> None:
        while pending:
            sub = pending.popleft()
            try:
                response = await client.post(f"v/{mid}/ballot/", json={"code": sub.code, "marks": sub.marks})
            except httpx.HTTPError as exc:  # a dropped connection is a failure as much as a 5xx
                failures.append(f"{type(exc).__name__}: {exc!r} {exc.__context__!r}")
                continue
            try:
                body = response.json()
            except ValueError:
                body = {"raw": response.text[:500]}
            answers.append(Answer(sub, response.status_code, body))

    try:
        await asyncio.gather(*(worker(clients[n // PER_CLIENT]) for n in range(IN_FLIGHT)))
    finally:
        for client in clients:
            await client.aclose()
    return answers, failures


def _ballot(rng: random.Random) -> dict[str, dict[str, str]]:
    return {sid: {"zongti": rng.choice(GRADES)} for sid, _ in SUBJECTS}


def _different(marks: dict[str, dict[str, str]], k: int) -> dict[str, dict[str, str]]:
    """A ballot that differs from `marks` (the k-th such variant)."""
    changed = {sid: dict(m) for sid, m in marks.items()}
    sid = SUBJECTS[k % len(SUBJECTS)][0]
    grade = changed[sid]["zongti"]
    changed[sid]["zongti"] = GRADES[(GRADES.index(grade) + 1 + k // len(SUBJECTS)) % len(GRADES)]
    return changed


def test_concurrent_casting_seals_one_ballot_per_code_without_server_errors(
    make_county: Callable[..., Any], django_db_blocker: Any, server: Server
) -> None:
    county = make_county("cc", name="并发县")
    host = host_of(county)
    server.wait_ready(host)
    tokens = _tokens(county, django_db_blocker, "county_admin", "host", "auditor")
    admin = Http(server.port, host, tokens["county_admin"])
    chair = Http(server.port, host, tokens["host"])
    auditor = Http(server.port, host, tokens["auditor"])

    # The meeting, up to an open ballot, through the API of the running server.
    round_id = admin.post("rounds/", {"name": "并发投票测试", "year": 2026, "variant": "zhi_ping_cun_guan"}, expect=201)["round_id"]
    starts = (datetime.now(UTC) + timedelta(days=4)).isoformat()
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": "并发投票测试会", "township": "柳林乡", "village": "杨庄村",
        "starts_at": starts, "place": "村部",
        "subjects": [{"subject_id": sid, "name": name, "level": "village"} for sid, name in SUBJECTS],
        "roster": [{"member_id": f"pm{i}", "name": f"党员{i}", "category": "party_member"} for i in range(10)]
        # As many representatives on the roster as codes: codes stop at the roster (meetings.domain.counts).
        + [{"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(VOTERS)],
    }, expect=201)["meeting_id"]
    m = f"meetings/{mid}/"
    chair.post(m + "announce/", {"starts_at": starts, "place": "村部", "agenda": ["述职", "测评"], "channels": ["广播"]})
    for i in range(10):
        chair.post(m + "check-in/", {"member_id": f"pm{i}"})
    for i in range(30):
        chair.post(m + "check-in/", {"member_id": f"rep{i}"})
    chair.post(m + "open/")
    for sid, _name in SUBJECTS:
        chair.post(m + "reports/start/", {"subject_id": sid})
        chair.post(m + "reports/end/", {"subject_id": sid})
    plain = chair.post(m + "codes/", {"category": "representative", "count": VOTERS})["codes"]
    assert len(set(plain)) == VOTERS
    chair.post(m + "ballot/open/")

    # One burst: every voter's ballot DUPLICATES times, plus differing ballots for some codes.
    rng = random.Random(20261201)
    own = [_ballot(rng) for _ in range(VOTERS)]
    racing = [i for i in range(VOTERS) if i % RACING_CODES_EVERY == 0]
    order = list(range(VOTERS))
    rng.shuffle(order)
    submissions: list[Submission] = []
    for start in range(0, VOTERS, BATCH_CODES):
        # All submissions of BATCH_CODES codes, shuffled together: with IN_FLIGHT
        # outstanding, every code's first cast races its duplicates and racers.
        batch = [Submission(i, plain[i], own[i], True) for i in order[start:start + BATCH_CODES] for _ in range(DUPLICATES)]
        batch += [
            Submission(i, plain[i], _different(own[i], k), False)
            for i in order[start:start + BATCH_CODES] if i in racing for k in range(RACERS)
        ]
        rng.shuffle(batch)
        submissions += batch
    started = time.monotonic()
    answers, failures = asyncio.run(_burst(server.port, host, mid, submissions))
    elapsed = time.monotonic() - started

    statuses = Counter(a.status for a in answers)
    server_errors = [a for a in answers if a.status >= 500]
    assert not failures, (
        f"{len(failures)} requests failed at the transport level in {elapsed:.1f} s, e.g. {failures[:3]}; "
        f"answers: {dict(statuses)}\nserver log:\n{server.output()[-6000:]}"
    )
    assert len(server_errors) == 0, (
        f"{len(server_errors)} server errors of {len(answers)} answers ({dict(statuses)}); "
        f"first: {server_errors[0].body}\nserver log:\n{server.output()[-6000:]}"
    )
    assert len(answers) == len(submissions)
    assert set(statuses) <= {200, 201, 409}, dict(statuses)

    by_voter: dict[int, list[Answer]] = defaultdict(list)
    for answer in answers:
        by_voter[answer.submission.index].append(answer)
    winners: dict[int, tuple[str, dict[str, dict[str, str]]]] = {}  # voter -> (receipt, marks)
    for i in range(VOTERS):
        firsts = [a for a in by_voter[i] if a.status == 201]
        assert len(firsts) == 1, (i, Counter(a.status for a in by_voter[i]))
        winner = firsts[0]
        assert winner.body["repeated"] is False and winner.body["receipt"]
        winners[i] = (winner.body["receipt"], winner.submission.marks)
        for answer in by_voter[i]:
            if answer is winner:
                continue
            if answer.submission.marks == winner.submission.marks:
                # The same ballot again: the same receipt, marked as a repeat.
                assert answer.status == 200, (i, answer.status, answer.body)
                assert answer.body == {"receipt": winner.body["receipt"], "repeated": True}
            else:
                # A different ballot with a code already used.
                assert answer.status == 409, (i, answer.status, answer.body)
                assert answer.body["error"]["code"] == "code_already_used", answer.body
    assert statuses[201] == VOTERS
    assert len({receipt for receipt, _ in winners.values()}) == VOTERS
    # Most codes had no differing racer, so their winner is the voter's own ballot.
    assert all(winners[i][1] == own[i] for i in range(VOTERS) if i not in racing)

    # Exactly one sealed ballot per code, the winner's.
    from django.db import connection

    from events.reading import read_stream
    from meetings.codes import code_hash
    from tests.integration.meetings.sealed_box import opened

    hashes = {code_hash(county.schema_name, mid, plain[i]): i for i in range(VOTERS)}
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        sealed = [(b.code_hash, b.receipt, b.marks) for b in opened(mid)]
        connection.close()
    assert len(sealed) == VOTERS
    assert {row[0] for row in sealed} == set(hashes)
    for digest, receipt, marks in sealed:
        assert (receipt, marks) == winners[hashes[digest]], hashes[digest]
    assert chair.get(m)["ballots_cast"] == VOTERS

    # Close: the box goes into the log, exactly one BallotCast per code.
    chair.post(m + "ballot/close/")
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        logged = [e for e in read_stream(f"meeting-{mid}") if e.type == "BallotCast"]
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM meetings_ballot_box WHERE meeting_id = %s", [mid])
            left_in_box = cursor.fetchone()[0]
        connection.close()
    assert len(logged) == VOTERS and left_in_box == 0
    assert {e.data["code_hash"]: e.data["receipt"] for e in logged} == {d: winners[i][0] for d, i in hashes.items()}

    # Only the quorum (30 representatives) checked in, 300 voted: the host records why before announcing.
    chair.post(m + "results/accept-count/", {"reason": "压力测试：只签到了法定人数"})
    chair.post(m + "results/announce/")
    results = auditor.get(m + "results/")
    assert results["ballots_counted"] == VOTERS and results["phone_ballots"] == VOTERS
    by_subject = {s["subject_id"]: s for s in results["subjects"]}
    for sid, _name in SUBJECTS:
        counts = Counter(marks[sid]["zongti"] for _receipt, marks in winners.values())
        assert by_subject[sid]["counts"] == {"zongti": {g: counts[g] for g in GRADES}}

    assert "Traceback" not in server.output(), server.output()[-6000:]
    print(f"{len(submissions)} submissions in {elapsed:.1f} s with {WORKERS} workers: {dict(statuses)}")
