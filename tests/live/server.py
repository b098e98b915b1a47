"""Real server processes for live tests: uvicorn on the test database (Redis: infra.topology.RedisServer).

`LiveServer` starts `uvicorn shuping.asgi:application` as its own process
(as production does), on a port the kernel picks (tests.ports), against the
DATABASE_URL of the test run. `HttpApi` drives the meeting API of a county on that server with a
role's token, so that commands are published by the server itself, as in a
hall. `demo_meeting` sets up a 直评村官 meeting ready for check-in.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from django_tenants.utils import schema_context

from accounts.api_tokens import issue_token
from accounts.models import User
from shuping.server_options import APP, server_flags
from tests.ports import listening_port

REPO = Path(__file__).resolve().parents[2]


class LiveServer:
    def __init__(
        self, *, redis_url: str | None = None, threads: int = 8, env_extra: dict[str, str] | None = None,
    ) -> None:
        env = dict(os.environ, **(env_extra or {}))
        env["SHUPING_HTTP_THREADS"] = str(threads)
        env["PYTHONUNBUFFERED"] = "1"
        if redis_url:
            env["REDIS_URL"] = redis_url
        else:
            env.pop("REDIS_URL", None)
        self.log = tempfile.NamedTemporaryFile(prefix="shuping-live-", suffix=".log", delete=False)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", APP, "--host", "127.0.0.1", "--port", "0", *server_flags()],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        try:
            self.port = listening_port(self.proc, output=self.output)
            self._wait()
        except BaseException:
            self.stop()
            raise

    def _wait(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.output()}")
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=5)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(f"server not ready in {timeout} s: {self.output()}")

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-4000:]

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def ws_url(self, host: str, path: str) -> str:
        return f"ws://{host}:{self.port}{path}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        Path(self.log.name).unlink(missing_ok=True)


def county_host(county: Any) -> str:
    """The county's `.localhost` host name (browsers resolve *.localhost to loopback)."""
    return f"{county.schema_name.replace('_', '-')}.localhost"


def make_live_county(make_county: Any) -> Any:
    """A county with a `.localhost` domain besides its `.testserver` one."""
    from tenants.models import Domain

    county = make_county("lv")
    Domain.objects.create(domain=county_host(county), tenant=county, is_primary=False)
    return county


def user_with_role(county: Any, role: str, *, password: str | None = None) -> tuple[str, str, str]:
    """(username, password, API token) of a new user of `county` with `role`."""
    name = f"{role}_{uuid.uuid4().hex[:6]}"
    password = password or "pw-" + name
    with schema_context(county.schema_name):
        user = User.objects.create_user(username=name, password=password, role=role)
        token = issue_token(user)
    return name, password, token.key


class HttpApi:
    """The county's API on a live server (or infra.topology's proxy), as one role, on one of its host names."""

    def __init__(self, server: LiveServer, county: Any, role: str | None, *, host: str | None = None) -> None:
        self.server = server
        self.host = host or county_host(county)
        headers = {"Host": f"{self.host}:{server.port}"}
        if role is not None:
            _, _, key = user_with_role(county, role)
            headers["Authorization"] = f"Token {key}"
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{server.port}/api/", headers=headers, timeout=30)

    def post(self, path: str, body: Any = None, *, expect: int | None = None) -> Any:
        response = self.client.post(path, json=body if body is not None else {},
                                    headers={"Idempotency-Key": str(uuid.uuid4())})
        if expect is not None:
            assert response.status_code == expect, (response.status_code, response.text[:2000])
        return response.json()

    def get(self, path: str) -> Any:
        response = self.client.get(path)
        assert response.status_code == 200, (response.status_code, response.text[:2000])
        return response.json()


SUBJECTS = [("shuji", "王建国（村党支部书记）"), ("zhuren", "李秀英（村委会主任）")]


def demo_meeting(
    admin: HttpApi, host: HttpApi, *, party_members: int = 5, representatives: int = 30,
    meeting_id: str | None = None, title: str = "柳林村2026年度直评村官大会",
) -> dict[str, Any]:
    """A 直评村官 meeting, announced, with its roster; returns ids and the roster."""
    from datetime import UTC, datetime, timedelta

    round_id = admin.post("rounds/", {"name": "2026年度直评村官", "year": 2026, "variant": "zhi_ping_cun_guan"},
                          expect=201)["round_id"]
    roster = [{"member_id": f"pm{i}", "name": f"党员{i}", "category": "party_member"} for i in range(party_members)]
    roster += [{"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(representatives)]
    starts = (datetime.now(UTC) + timedelta(days=4)).isoformat()
    meeting = admin.post("meetings/", {
        **({"meeting_id": meeting_id} if meeting_id else {}),
        "round_id": round_id, "title": title, "township": "柳林乡", "village": "柳林村",
        "starts_at": starts, "place": "柳林村村委会会议室",
        "subjects": [{"subject_id": sid, "name": name, "level": "village"} for sid, name in SUBJECTS],
        "roster": roster,
    }, expect=201)
    mid = meeting["meeting_id"]
    host.post(f"meetings/{mid}/announce/", {"starts_at": starts, "place": "柳林村村委会会议室",
                                            "agenda": ["述职", "提问", "测评"], "channels": ["公开栏", "微信群"]}, expect=200)
    return {"meeting_id": mid, "round_id": round_id, "roster": roster}


def to_ballot_open(host: HttpApi, meeting: dict[str, Any], *, codes_per_category: int = 3) -> dict[str, list[str]]:
    """Check everyone in, hold the reports, issue codes, open the ballot; returns plain codes per category."""
    mid = meeting["meeting_id"]
    for member in meeting["roster"]:
        host.post(f"meetings/{mid}/check-in/", {"member_id": member["member_id"]}, expect=200)
    host.post(f"meetings/{mid}/open/", expect=200)
    for sid, _name in SUBJECTS:
        host.post(f"meetings/{mid}/reports/start/", {"subject_id": sid}, expect=200)
        host.post(f"meetings/{mid}/reports/end/", {"subject_id": sid}, expect=200)
    codes = {}
    for category in ("party_member", "representative"):
        codes[category] = host.post(f"meetings/{mid}/codes/", {"category": category, "count": codes_per_category},
                                    expect=200)["codes"]
    host.post(f"meetings/{mid}/ballot/open/", expect=200)
    return codes


def marks_for(grade: str = "chenzhi") -> dict[str, dict[str, str]]:
    return {sid: {"zongti": grade} for sid, _ in SUBJECTS}


def results_as_shown(results: dict[str, Any]) -> dict[str, Any]:
    """The results API's body as a snapshot carries it: the recorded announcement reduced to its scores (docs/live.md)."""
    announced = results["announced"]
    return {**results, "announced": {
        "at": announced["at"], "subjects": [{"subject_id": s["subject_id"], "score": s["score"]} for s in announced["subjects"]],
    }}
