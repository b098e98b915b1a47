"""Hostile requests over every operation of the OpenAPI schema, against a real server, and what they changed.

The shape of a run (`run_fuzz`):

1. Schemathesis turns the schema (`/api/schema/?format=json`, read from the
   server) into Hypothesis strategies; for every operation it draws cases
   that fit the schema (positive) and cases that break it (negative: wrong
   types, missing fields, ids no route takes, odd headers, cookies and
   Authorization values).
2. Each case is sent once as every identity: anonymous (with whatever
   Authorization or cookie the case made up) and each county role with its
   token. A case with a meeting id is aimed, identity by identity, at the id
   it was drawn with, at a closed meeting (where every write refuses) and at
   a meeting with its ballot open (so the voters' endpoints reach the code
   check, and a host's write may even succeed). Every request carries a
   fresh Idempotency-Key, so every command it could start has an id known
   here (common.api.keyed_command_id).
3. Every answer is checked: no 5xx, no dropped connection, every error
   (4xx) in the documented format {"error": {"code", "message",
   "message_en", "details"?}} as JSON, and an X-Request-ID on each.

What the run changed is checked by `Ledger` (tables counted in every county
before and after): every event and every command record that appeared must
belong to a request that was answered 2xx; nothing a refused request sent
may have left a trace; the ballot box, the roster and the tokens of the
fuzzed county change only as the successful requests say, and no other
county changes at all. `Ledger.check` returns the violations, and the tests
prove it finds one when there is one.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import psutil
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from common.api import keyed_command_id

ROLES = ("county_admin", "host", "teller", "auditor", "observer")
# Operations whose every well-formed request costs the server a password
# hash on purpose (Django hashes even for an unknown user, ~0.5 s of CPU):
# at the common size they alone would take longer than all the rest.
CASES_AT_MOST = {"POST /api/token/": 24}
# Operations not fuzzed, and why: a logout revokes the very token the fuzzer
# sends as that role, and every later case of the role would meet a 401
# (tests/integration/test_logins.py covers it).
LEFT_OUT = {"POST /api/logout/": "revokes the fuzzer's own tokens"}
SNAKE = re.compile(r"[a-z][a-z0-9_]*\Z")
ERROR_KEYS = {"code", "message", "message_en", "details"}


@dataclass(frozen=True)
class Identity:
    name: str  # "anonymous" or a role
    who: str  # as common.api.command_id names the sender: "role:username" or "anonymous"
    token: str | None


@dataclass
class Sent:
    """One request and its answer, as far as the checks need them."""

    label: str  # the operation, e.g. "POST /api/meetings/{meeting_id}/open/"
    identity: str
    command_id: str  # what the request's Idempotency-Key names for its sender
    status: int  # 0: no answer (the connection failed)
    problem: str | None = None  # why the answer breaks the bar, if it does
    body: Any = None  # the JSON of a 2xx answer (the ledger reads a roster import's counts)
    seconds: float = 0.0  # from sending to the whole answer (figures only, never a verdict)
    code: str | None = None  # the error's code, for an error in the documented format


@dataclass
class FuzzResult:
    sent: list[Sent] = field(default_factory=list)
    cases: int = 0
    seconds: float = 0.0
    generation_seconds: float = 0.0
    skipped: list[str] = field(default_factory=list)  # (operation, mode) without cases to draw
    client_cpu: float = 0.0  # CPU seconds of this process (drawing and sending)
    server_cpu: float | None = None  # CPU seconds of the server process, when its pid was given

    @property
    def statuses(self) -> Counter[int]:
        return Counter(s.status for s in self.sent)

    @property
    def problems(self) -> list[Sent]:
        return [s for s in self.sent if s.problem]

    @property
    def operations(self) -> set[str]:
        return {s.label for s in self.sent}

    def slowest(self, count: int = 5) -> list[tuple[str, float, int]]:
        """The operations that took the most time in all: (operation, seconds, requests)."""
        seconds: Counter[str] = Counter()
        requests_: Counter[str] = Counter()
        for s in self.sent:
            seconds[s.label] += s.seconds
            requests_[s.label] += 1
        return [(label, round(total, 1), requests_[label]) for label, total in seconds.most_common(count)]

    def summary(self) -> str:
        by_class = Counter(f"{s.status // 100}xx" if s.status else "no answer" for s in self.sent)
        rate = len(self.sent) / self.seconds if self.seconds else 0.0
        return (
            f"{len(self.sent)} requests ({self.cases} generated cases x identities) over "
            f"{len(self.operations)} operations in {self.seconds:.1f} s ({rate:.0f} requests/s; "
            f"drawing cases {self.generation_seconds:.1f} s; CPU: fuzzer {self.client_cpu:.0f} s, server "
            f"{'?' if self.server_cpu is None else f'{self.server_cpu:.0f}'} s): {dict(sorted(by_class.items()))}, "
            f"{len(self.problems)} answers break the bar"
        )


def error_format_problem(status: int, headers: Any, text: str) -> str | None:
    """Why an answer breaks the bar (None if it keeps it): no 5xx; every 4xx in the documented JSON format."""
    if status >= 500:
        return f"server error {status}: {text[:300]!r}"
    if not headers.get("X-Request-ID"):
        return "no X-Request-ID header"
    if status < 400:
        return None
    content_type = headers.get("Content-Type", "")
    if content_type.split(";", 1)[0].strip() != "application/json":
        return f"error {status} is {content_type!r}, not JSON: {text[:200]!r}"
    try:
        body = json.loads(text)
    except ValueError:
        return f"error {status} is not valid JSON: {text[:200]!r}"
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(error, dict):
        return f"error {status} is not {{'error': {{...}}}}: {text[:200]!r}"
    if not {"code", "message", "message_en"} <= set(error) or not set(error) <= ERROR_KEYS:
        return f"error {status} has the fields {sorted(error)}: {text[:200]!r}"
    if not isinstance(error["code"], str) or not SNAKE.match(error["code"]):
        return f"error {status} has the code {error['code']!r}"
    if not all(isinstance(error[k], str) and error[k] for k in ("message", "message_en")):
        return f"error {status} has an empty or non-text message: {text[:200]!r}"
    return None


class Sender:
    """Threads that send prepared requests and record their answers."""

    def __init__(self, *, threads: int, timeout: float, record: Callable[[Sent], None]) -> None:
        self.queue: queue.Queue[tuple[str, str, str, dict[str, Any]] | None] = queue.Queue(maxsize=threads * 64)
        self.timeout = timeout
        self.record = record
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]
        for thread in self.threads:
            thread.start()

    def put(self, label: str, identity: str, command: str, kwargs: dict[str, Any]) -> None:
        self.queue.put((label, identity, command, kwargs))

    def close(self) -> None:
        for _ in self.threads:
            self.queue.put(None)
        for thread in self.threads:
            thread.join()

    def _work(self) -> None:
        session = requests.Session()
        while (item := self.queue.get()) is not None:
            label, identity, command, kwargs = item
            t0 = time.monotonic()
            try:
                response = session.request(**kwargs, timeout=self.timeout, allow_redirects=False)
            except requests.RequestException as exc:
                self.record(Sent(label, identity, command, 0, f"no answer: {type(exc).__name__}: {exc}"[:300]))
                session = requests.Session()  # a fresh connection after a broken one
                continue
            text = response.content.decode("utf-8", "replace")
            problem = error_format_problem(response.status_code, response.headers, text)
            body, code = None, None
            if problem:
                problem = f"{kwargs['method']} {kwargs['url'][:200]} as {identity}: {problem}"
            elif response.status_code >= 400:
                code = json.loads(text)["error"]["code"]  # the format was checked just above
            elif 200 <= response.status_code < 300 and "json" in response.headers.get("Content-Type", ""):
                try:
                    body = json.loads(text)
                except ValueError:
                    body = None
            self.record(Sent(label, identity, command, response.status_code, problem, body,
                             time.monotonic() - t0, code))


def _operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def _takes_input(operation: Any) -> bool:
    """Whether a negative case can be drawn at all (an operation without parameters or body has none)."""
    definition = operation.definition.raw
    return bool(definition.get("parameters") or definition.get("requestBody"))


def draw_cases(operation: Any, mode: GenerationMode, count: int, on_case: Callable[[Any], None]) -> bool:
    """Draw up to `count` cases of `operation` in `mode` and hand each to `on_case`; False if none can be drawn.

    Hypothesis runs only its generate phase (nothing fails here, so nothing
    shrinks) and stops early when the operation has fewer distinct cases.
    """

    @settings(max_examples=count, database=None, deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck), phases=[Phase.generate])
    @given(operation.as_strategy(generation_mode=mode))
    def draw(case: Any) -> None:
        on_case(case)

    try:
        draw()
    except Unsatisfiable:
        return False
    return True


def run_fuzz(
    *,
    base_url: str,
    host: str,
    identities: Iterable[Identity],
    targets: dict[str, list[str]],
    cases_per_operation: int,
    threads: int = 4,
    timeout: float = 120.0,
    schema_document: dict[str, Any] | None = None,
    server_pid: int | None = None,
    say: Callable[[str], None] = lambda text: None,
) -> FuzzResult:
    """Send every operation's drawn cases as every identity (module docstring); return what came back.

    `targets` maps a path parameter to real values to aim at besides the
    drawn one (e.g. {"meeting_id": [closed, open]}); `cases_per_operation`
    is split between the positive and the negative mode.
    """
    identities = list(identities)
    headers = {"Host": host}
    if schema_document is None:
        response = requests.get(f"{base_url}/api/schema/", params={"format": "json"}, headers=headers, timeout=timeout)
        response.raise_for_status()
        schema_document = response.json()
    schema = schemathesis.openapi.from_dict(schema_document)
    result = FuzzResult()
    lock = threading.Lock()

    def record(sent: Sent) -> None:
        with lock:
            result.sent.append(sent)

    server = psutil.Process(server_pid) if server_pid else None
    server_cpu = sum(server.cpu_times()[:2]) if server else 0.0
    client_cpu = time.process_time()
    started = time.monotonic()
    sender = Sender(threads=threads, timeout=timeout, record=record)
    drawing = 0.0
    try:
        for operation in _operations(schema):
            if operation.label in LEFT_OUT:
                result.skipped.append(f"{operation.label} (left out: {LEFT_OUT[operation.label]})")
                continue
            for mode in GenerationMode:
                if mode.is_negative and not _takes_input(operation):
                    result.skipped.append(f"{operation.label} ({mode.value}: nothing to break)")
                    continue
                cases = min(cases_per_operation, CASES_AT_MOST.get(operation.label, cases_per_operation))
                count = cases // 2 if mode.is_positive else cases - cases // 2

                def send(case: Any, operation: Any = operation) -> None:
                    result.cases += 1
                    _send_as_everyone(case, operation.label, identities, targets, base_url, host, sender, result.cases)

                t0 = time.monotonic()
                if not draw_cases(operation, mode, count, send):
                    result.skipped.append(f"{operation.label} ({mode.value}: unsatisfiable)")
                drawing += time.monotonic() - t0
            say(f"  {operation.label}: {result.cases} cases so far, {len(result.sent)} answers")
    finally:
        sender.close()
    result.seconds = time.monotonic() - started
    result.client_cpu = time.process_time() - client_cpu
    if server is not None:
        result.server_cpu = sum(server.cpu_times()[:2]) - server_cpu
    # Drawing includes waiting for a full queue; what the senders did meanwhile is not counted twice.
    result.generation_seconds = drawing
    return result


def _send_as_everyone(
    case: Any, label: str, identities: list[Identity], targets: dict[str, list[str]], base_url: str, host: str,
    sender: Sender, serial: int,
) -> None:
    drawn = dict(case.path_parameters or {})
    aims = [drawn]
    for name, values in targets.items():
        if name in drawn:
            aims += [{**drawn, name: value} for value in values]
    for index, identity in enumerate(identities):
        # Rotate the aims over the identities, shifted per case, so every identity meets every aim.
        case.path_parameters = aims[(index + serial) % len(aims)]
        key = str(uuid.uuid4())
        extra = {"Host": host, "Idempotency-Key": key}
        kwargs = case.as_transport_kwargs(base_url=base_url, headers=extra)
        if identity.token is not None:
            kwargs["headers"]["Authorization"] = f"Token {identity.token}"
        sender.put(label, identity.name, keyed_command_id(who=identity.who, key=key), kwargs)
    case.path_parameters = drawn
