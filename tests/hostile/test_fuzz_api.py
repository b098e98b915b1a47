"""Schemathesis over the whole API of a real server: no 5xx, every error in our format, refusals change nothing.

One run (module fixture `fuzz`, tests.hostile.fuzz.run_fuzz) sends every
operation of /api/schema/ the cases Schemathesis draws, positive and
negative, as anonymous and as each county role, aimed at drawn ids, at a
closed meeting and at one with its ballot open. The tests below read its
answers and the ledger (tests.hostile.ledger) of what it changed.

Size: SHUPING_FUZZ_CASES cases per operation (default 115: about 3,500
cases, each sent as 6 identities, over 20,000 requests). The bar is the
same at any size; bench/hostile_fuzz.py runs bigger ones and prints figures.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from django_tenants.utils import schema_context

from common.api import keyed_command_id
from tests.hostile.fuzz import LEFT_OUT, FuzzResult, Sent, run_fuzz
from tests.hostile.hall import Hall, set_up_hall
from tests.hostile.ledger import Ledger
from tests.live.server import LiveServer, county_host, make_live_county, marks_for

CASES_PER_OPERATION = int(os.environ.get("SHUPING_FUZZ_CASES", "115"))
# The bar: with the default size, at least this many requests over every operation.
MIN_REQUESTS = 20_000 * CASES_PER_OPERATION // 115


@pytest.fixture(scope="module")
def fuzz_server() -> Iterator[LiveServer]:
    server = LiveServer(threads=8)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def fuzz(fuzz_server: LiveServer, make_county: Any, django_db_blocker: Any) -> tuple[Hall, FuzzResult, Ledger]:
    with django_db_blocker.unblock():
        county = make_live_county(make_county)
        hall = set_up_hall(fuzz_server, county)
        ledger = Ledger.take(county.schema_name)
    result = run_fuzz(
        base_url=f"http://127.0.0.1:{fuzz_server.port}", host=f"{county_host(county)}:{fuzz_server.port}",
        identities=hall.identities, targets={"meeting_id": [hall.closed, hall.open], "question_id": hall.questions},
        cases_per_operation=CASES_PER_OPERATION, server_pid=fuzz_server.proc.pid, say=print,
    )
    print(result.summary())
    print('slowest operations (seconds, requests):', result.slowest())
    return hall, result, ledger


def _schema_operations(server: LiveServer, county: Any) -> set[str]:
    document = httpx.get(server.url("127.0.0.1", "/api/schema/?format=json"),
                         headers={"Host": f"{county_host(county)}:{server.port}"}, timeout=60).json()
    return {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}


def test_every_operation_was_fuzzed_as_every_identity(fuzz) -> None:
    hall, result, _ = fuzz
    operations = _schema_operations(hall.server, hall.county)
    assert len(operations) == 48, sorted(operations)
    assert set(LEFT_OUT) <= operations
    operations -= set(LEFT_OUT)  # not fuzzed, for the reason LEFT_OUT gives
    assert result.operations == operations, operations ^ result.operations
    assert len(result.sent) >= MIN_REQUESTS, result.summary()
    for identity in hall.identities:
        reached = {s.label for s in result.sent if s.identity == identity.name}
        assert reached == operations, (identity.name, operations - reached)
    # Every operation was reached past the guards (login, role, route), not only refused at the door.
    guards = {"not_authenticated", "authentication_failed", "forbidden", "not_found", "invalid_idempotency_key"}
    reached = {s.label for s in result.sent if 200 <= s.status < 300 or (s.code and s.code not in guards)}
    assert reached == operations, operations - reached
    assert {200, 400, 401, 403, 404, 409} <= {s.status for s in result.sent}, result.summary()


def test_no_server_error_and_every_error_in_the_documented_format(fuzz) -> None:
    _, result, _ = fuzz
    problems = result.problems
    assert not problems, f"{len(problems)} of {len(result.sent)} answers break the bar:\n" + "\n".join(
        s.problem or "" for s in problems[:20]
    )
    assert not any(s.status >= 500 or s.status == 0 for s in result.sent)


def test_the_server_logged_no_traceback(fuzz) -> None:
    hall, _, _ = fuzz
    log = Path(hall.server.log.name).read_text(errors="replace")
    assert "Traceback" not in log and "Internal Server Error" not in log, log[-3000:]


def test_refused_requests_changed_nothing(fuzz, django_db_blocker) -> None:
    hall, result, ledger = fuzz
    refused = sum(1 for s in result.sent if s.status >= 400)
    assert refused > 0.9 * len(result.sent), result.summary()
    with django_db_blocker.unblock(), schema_context("public"):
        violations = ledger.check(result.sent)
        events, commands = ledger.appended()
    assert not violations, "\n".join(violations)
    # Not vacuous: some of the fuzz's own requests succeeded and appended, and each was accounted for.
    writes = [s for s in result.sent if 200 <= s.status < 300 and s.label.startswith("POST /api/meetings")]
    assert writes and events > 0 and commands > 0, (len(writes), events, commands)


def test_commands_still_work_after_the_fuzz_and_the_ledger_sees_them(fuzz, django_db_blocker) -> None:
    """A real command after the run succeeds and is accounted for; called refused, the ledger catches it."""
    hall, result, _ = fuzz
    with django_db_blocker.unblock(), schema_context("public"):
        ledger = Ledger.take(hall.county.schema_name)
    admin = next(i for i in hall.identities if i.name == "county_admin")
    client = httpx.Client(base_url=f"http://127.0.0.1:{hall.server.port}/api/", timeout=60,
                          headers={"Host": f"{county_host(hall.county)}:{hall.server.port}",
                                   "Authorization": f"Token {admin.token}"})
    key = str(uuid.uuid4())
    answer = client.post("rounds/", json={"name": "复评", "year": 2026, "variant": "zhi_ping_cun_guan"},
                         headers={"Idempotency-Key": key})
    assert answer.status_code == 201, answer.text
    ballot = httpx.post(hall.server.url("127.0.0.1", f"/api/v/{hall.open}/ballot/"), timeout=60,
                        headers={"Host": f"{county_host(hall.county)}:{hall.server.port}"},
                        json={"code": hall.codes["representative"][0], "marks": marks_for()})
    still_open = ballot.status_code == 201  # the fuzz may have closed this ballot (a host's valid request)
    assert ballot.status_code in (201, 409), ballot.text
    sent = [Sent("POST /api/rounds/", "county_admin", keyed_command_id(who=admin.who, key=key), 201)]
    if still_open:
        sent.append(Sent("POST /api/v/{meeting_id}/ballot/", "anonymous", "-", 201))
    with django_db_blocker.unblock(), schema_context("public"):
        assert ledger.check(sent) == []
        # The same changes, told as refusals: the ledger must not accept them.
        as_refused = [replace(s, status=400) for s in sent]
        found = ledger.check(as_refused)
    assert any("command records of refused requests" in v for v in found), found
    assert any("events of no successful request" in v for v in found), found
    if still_open:
        assert any("ballot box" in v for v in found), found
    assert len(result.sent) > 0
