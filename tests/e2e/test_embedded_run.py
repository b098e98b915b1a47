"""`shuping run` on its embedded PostgreSQL, as a new user would start it.

Cold start, warm start, Ctrl-C, SIGTERM, and a crash that leaves PostgreSQL
behind: each ends with no postgres process of the data folder left running.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.ports import listening_port

# A ceiling for a hung start, not a speed requirement (speed is bench/'s business):
# on a CI machine at a load average of 30 a healthy start took over 60 s.
READY_CEILING = 180.0


def _postgres_of(data: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if proc.info.get("name") == "postgres" and any(str(data) in part for part in cmdline):
            found.append(proc)
    return found


def _get(port: int, host: str, path: str = "/") -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": f"{host}:{port}"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


class Run:
    """`shuping run --port 0`: the server binds a port the kernel picks; `wait_ready` learns which."""

    def __init__(self, data: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shuping.cli", "--data", str(data), "run", "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )
        self.port = 0
        self.output = ""

    def wait_ready(self) -> float:
        """Seconds until /healthz answers; fails only past READY_CEILING (a hung start)."""
        timeout = READY_CEILING
        deadline = self.started + timeout
        try:
            self.port = listening_port(self.proc, timeout=max(0.0, deadline - time.monotonic()))
        except RuntimeError as exc:
            if self.proc.poll() is None:
                self.stop(signal.SIGKILL)
            else:
                self.output += self.proc.stdout.read()  # type: ignore[union-attr]
            raise AssertionError(f"shuping run did not start: {exc}\n{self.output}") from None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.output += self.proc.stdout.read()  # type: ignore[union-attr]
                raise AssertionError(f"shuping run exited early:\n{self.output}")
            try:
                status, _ = _get(self.port, "demo.localhost", "/healthz")
                if status == 200:
                    return time.monotonic() - self.started
            except OSError:
                pass
            time.sleep(0.1)
        self.stop(signal.SIGKILL)
        raise AssertionError(f"not ready within {timeout} s:\n{self.output}")

    def stop(self, sig: int = signal.SIGINT) -> int:
        self.proc.send_signal(sig)
        out, _ = self.proc.communicate(timeout=60)
        self.output += out
        return self.proc.returncode


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    data = tmp_path / "shuping-data"
    yield data
    for proc in _postgres_of(data):  # never leave a server behind, even on failure
        proc.kill()


def test_cold_start_serves_the_demo_county_and_ctrl_c_stops_everything(data_dir: Path) -> None:
    run = Run(data_dir)
    elapsed = run.wait_ready()
    port = run.port
    status, body = _get(port, "demo.localhost")
    assert status == 200
    assert "演示县" in body and "述职评议" in body and "城关镇" in body
    public_status, public_body = _get(port, "localhost")
    assert public_status == 200 and "述评" in public_body
    # The API and its docs are served, and the rehearsal meeting exists (its
    # state needs a login: the error is the API's, in Chinese).
    docs_status, docs = _get(port, "demo.localhost", "/api/docs/")
    assert docs_status == 200 and "swagger" in docs.lower()
    api_status, api_body = _get(port, "demo.localhost", "/api/meetings/demo_rehearsal/")
    assert api_status in (401, 403) and '"not_authenticated"' in api_body and "请先登录" in api_body
    assert _postgres_of(data_dir), "the embedded server should be running"
    [worker] = [p for p in psutil.Process(run.proc.pid).children() if "worker" in p.cmdline()]
    assert run.stop(signal.SIGINT) == 0
    assert "demo.localhost" in run.output and "shuping-demo" in run.output
    assert "/api/meetings/demo_rehearsal/" in run.output
    # The county's demo logins point at each role's own page, never at the admin (only the operators' does).
    assert "/workspace/   zuzhibu / shuping-demo" in run.output and "/my/batches/   teller / shuping-demo" in run.output
    assert not re.search(r"demo\.localhost:\d+/admin/", run.output)
    # The job queue's worker ran beside the server, and stopped with it.
    assert re.search(rf"job queue:   worker pid {worker.pid}\b", run.output)
    assert not worker.is_running() or worker.status() == psutil.STATUS_ZOMBIE
    assert _postgres_of(data_dir) == []
    print(f"cold start ready in {elapsed:.1f} s")


def test_warm_start_keeps_data_and_sigterm_stops_everything(data_dir: Path) -> None:
    first = Run(data_dir)
    first.wait_ready()
    port = first.port
    # Something a person entered must survive a restart.
    import psycopg

    pg_port = int((data_dir / "pg.port").read_text())
    password = (data_dir / "pg.password").read_text().strip()
    url = f"postgresql://postgres:{password}@127.0.0.1:{pg_port}/shuping"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO demo.meetings_township (name, kind) VALUES ('重启保留乡', 'township')")
        # The server's connections are the application role's, not the superuser's.
        sessions = conn.execute(
            "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = 'shuping'"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchall()
        assert sessions == [("shuping",)]
    assert first.stop(signal.SIGTERM) == 0
    assert _postgres_of(data_dir) == []

    second = Run(data_dir)
    warm = second.wait_ready()
    port = second.port
    status, body = _get(port, "demo.localhost")
    assert status == 200 and "重启保留乡" in body
    # The output is read when the process stops: checked before that, it was always empty.
    assert second.stop(signal.SIGINT) == 0
    assert "正在创建演示县区" not in second.output and "shuping-demo" in second.output
    assert _postgres_of(data_dir) == []
    print(f"warm start ready in {warm:.1f} s")  # not creating the demo again is the check above


def test_postgres_left_by_a_crash_is_detected_and_stopped(data_dir: Path) -> None:
    crashed = Run(data_dir)
    crashed.wait_ready()
    crashed.stop(signal.SIGKILL)  # no chance to clean up
    orphans = _postgres_of(data_dir)
    assert orphans, "a SIGKILLed run leaves its PostgreSQL running"

    again = Run(data_dir)
    again.wait_ready()
    for proc in orphans:
        assert not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    assert again.stop(signal.SIGINT) == 0
    assert "Found PostgreSQL left behind by a crashed run" in again.output
    assert _postgres_of(data_dir) == []
