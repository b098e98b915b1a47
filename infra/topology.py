"""The hosted topology on one machine: nginx in front of N uvicorn workers, Redis, the job queue's worker.

    infra/up [--workers 2] [--port 8080] [--host 127.0.0.1] [--data .shuping]

PostgreSQL is DATABASE_URL's, or the embedded one (shuping.embedded_pg) in
`--data` when DATABASE_URL is not set; Redis is REDIS_URL's, or a
redis-server (Debian package `redis-server`) started here on a unix socket.
`main` migrates, starts everything, prints the address and stops it all on
Ctrl-C or SIGTERM. `start` is the same without the database and migration
steps: tests/live/test_hosted_topology.py starts the topology through it
against the test database, so what the test runs is what `infra/up` runs.

Each process is what a machine of a larger installation runs (infra/README.md):
the workers are `python -m uvicorn shuping.asgi:application` with the flags of
shuping.server_options, nginx runs infra/nginx.conf.template as rendered by
`render_nginx_conf`, the job queue's worker is `shuping worker`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import httpx

from infra.ports import listening_port
from shuping.server_options import APP, server_flags

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = Path(__file__).with_name("nginx.conf.template")
START_CEILING = 120.0  # seconds: a hung start fails, a slow machine does not


class TopologyError(RuntimeError):
    """A process of the topology could not be started."""


def render_nginx_conf(*, prefix: Path, listen: str, servers: Sequence[str], template: str | None = None) -> str:
    """infra/nginx.conf.template with its @NAME@ placeholders filled in (comments are kept as written).

    Refuses a placeholder it does not know, so a template and this function cannot drift apart silently.
    """
    text = TEMPLATE.read_text() if template is None else template
    values = {
        "PREFIX": str(prefix),
        "LISTEN": listen,
        "SERVERS": "\n".join(f"        server {address} max_fails=1 fail_timeout=10s;" for address in servers),
    }

    def fill(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise TopologyError(f"unknown placeholder {match.group(0)} in the nginx template")
        return values[match.group(1)]

    return "\n".join(line if line.lstrip().startswith("#") else re.sub(r"@([A-Z_]+)@", fill, line)
                     for line in text.split("\n"))


def nginx_binary() -> str:
    """nginx from the PATH or Debian's /usr/sbin (not on a normal user's PATH)."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise FileNotFoundError("nginx (Debian package `nginx`; .ci/run installs it)")
    return found


class _Process:
    """A child process whose output goes to a file of its own."""

    proc: subprocess.Popen[bytes]
    log_path: Path

    def _open_log(self, path: Path) -> IO[bytes]:
        self.log_path = path
        return path.open("wb")

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the process dies at once, as in a crash."""
        if self.alive():
            self.proc.kill()
        self.proc.wait(10)

    def stop(self, timeout: float = 10) -> None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class Worker(_Process):
    """One ASGI worker: `python -m uvicorn APP` on 127.0.0.1, on a port the kernel picks (infra.ports)."""

    def __init__(self, *, env: Mapping[str, str], log_path: Path, host: str = "127.0.0.1") -> None:
        with self._open_log(log_path) as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", APP, "--host", host, "--port", "0", *server_flags()],
                cwd=REPO, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            self.port = listening_port(self.proc, timeout=START_CEILING, output=self.output)
        except BaseException:
            self.stop()
            raise
        self.address = f"{host}:{self.port}"

    def wait_ready(self, timeout: float = START_CEILING) -> None:
        """Return once /healthz answers; raise if the worker exits or hangs first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise TopologyError(f"worker {self.address} exited: {self.output()}")
            try:
                httpx.get(f"http://{self.address}/healthz", timeout=5)
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise TopologyError(f"worker {self.address} not ready in {timeout} s: {self.output()}")


class Nginx(_Process):
    """nginx in the foreground under a prefix of its own, listening where it is told.

    The listening socket is bound here and handed to nginx (its NGINX
    environment variable names inherited listening sockets: the mechanism of
    its binary upgrade). nginx cannot bind port 0, and choosing a free port,
    closing it and letting nginx bind it races every other process on the
    machine (the reasoning of infra.ports); with the socket already bound,
    port 0 means a port the kernel picked and nobody else can take. Started as
    root (CI), nginx's workers run as `nobody`: the prefix is made readable.
    """

    def __init__(self, *, prefix: Path, servers: Sequence[str], host: str = "127.0.0.1", port: int = 0) -> None:
        binary = nginx_binary()
        prefix.mkdir(parents=True, exist_ok=True)
        prefix.chmod(0o755)
        listener = socket.create_server((host, port), backlog=4096, reuse_port=False)
        try:
            self.host, self.port = host, listener.getsockname()[1]
            conf = prefix / "nginx.conf"
            conf.write_text(render_nginx_conf(prefix=prefix, listen=f"{host}:{self.port}", servers=servers))
            fd = listener.fileno()
            os.set_inheritable(fd, True)
            with self._open_log(prefix / "nginx.out") as log:
                self.proc = subprocess.Popen(
                    [binary, "-p", str(prefix), "-c", str(conf), "-e", "stderr"],
                    env=dict(os.environ, NGINX=f"{fd};"), pass_fds=[fd], stdout=log, stderr=subprocess.STDOUT,
                )
        finally:
            listener.close()  # nginx holds its own copy
        self.error_log = prefix / "error.log"
        try:
            self._wait()
        except BaseException:
            self.stop()
            raise

    def _wait(self, timeout: float = START_CEILING) -> None:
        # The kernel queues connections on the socket before nginx runs: wait for an answer, not a connect.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                raise TopologyError(f"nginx exited: {self.output()}")
            try:
                httpx.get(f"http://{self.host}:{self.port}/healthz", timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise TopologyError(f"nginx did not answer in {timeout} s: {self.output()}")

    def output(self) -> str:
        errors = self.error_log.read_text(errors="replace")[-4000:] if hasattr(self, "error_log") and \
            self.error_log.exists() else ""
        return super().output() + errors

    def stop(self, timeout: float = 10) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGQUIT)  # graceful: answers in flight are finished
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


class RedisServer:
    """redis-server on a unix socket in a folder of its own (Debian's package; CI installs it).

    A socket file in a folder of our own, not a TCP port: no other process
    on the machine can take it between choosing and binding (redis-server
    cannot be handed a listening socket, and its port 0 means "no TCP").
    Outage tests kill it (`kill`), start a new one on the same socket
    (`start`: it remembers nothing, as after a crash without persistence),
    or freeze it (`pause`, `resume`).
    """

    def __init__(self, timeout: float = 60, folder: Path | None = None) -> None:
        self.dir = str(folder) if folder else tempfile.mkdtemp(prefix="shuping-redis-")
        Path(self.dir).mkdir(parents=True, exist_ok=True)
        self.socket = str(Path(self.dir) / "redis.sock")
        self.start(timeout)

    def start(self, timeout: float = 60) -> None:
        """Start redis-server on this socket; return once it answers PING."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise FileNotFoundError("redis-server")
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--unixsocket", self.socket, "--unixsocketperm", "700", "--save", "",
             "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if self.answers():
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not start (exit code {self.proc.returncode})")

    def answers(self) -> bool:
        """True if the server on the socket answers PING now."""
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.settimeout(5)
                sock.connect(self.socket)
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: the server dies at once, with every key (nothing is saved)."""
        self.proc.kill()
        self.proc.wait(10)

    def pause(self) -> None:
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        os.kill(self.proc.pid, signal.SIGCONT)

    @property
    def url(self) -> str:
        return f"unix://{self.socket}?db=0"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.resume()  # a paused server cannot act on SIGTERM
            self.proc.terminate()
            self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


class JobWorker(_Process):
    """`shuping worker`: the job queue's worker (notice periods, deadlines; infra/shuping-worker.service)."""

    def __init__(self, *, env: Mapping[str, str], log_path: Path) -> None:
        with self._open_log(log_path) as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "shuping.cli", "worker"], cwd=REPO, env=dict(env),
                                         stdout=log, stderr=subprocess.STDOUT)

    def stop(self, timeout: float = 60) -> None:
        super().stop(timeout)  # SIGTERM: it finishes the job in hand first


class Topology:
    """The running processes; `url` and `ws_url` address a county's host through the proxy."""

    def __init__(self, *, run_dir: Path, own_run_dir: bool) -> None:
        self.run_dir = run_dir
        self._own_run_dir = own_run_dir
        self.workers: list[Worker] = []
        self.redis: RedisServer | None = None
        self.job_worker: JobWorker | None = None
        self.nginx: Nginx | None = None

    @property
    def port(self) -> int:
        assert self.nginx is not None
        return self.nginx.port

    def url(self, host: str, path: str = "/") -> str:
        return f"http://{host}:{self.port}{path}"

    def ws_url(self, host: str, path: str) -> str:
        return f"ws://{host}:{self.port}{path}"

    def worker_at(self, address: str) -> Worker:
        """The worker whose address nginx names (X-Shuping-Upstream)."""
        return next(w for w in self.workers if w.address == address)

    def exited(self) -> list[str]:
        """What has died since the start (for the launcher's watch)."""
        named: list[tuple[str, Any]] = [(f"worker {w.address}", w) for w in self.workers]
        named += [("nginx", self.nginx), ("job worker", self.job_worker)]
        return [name for name, process in named if process is not None and not process.alive()]

    def stop(self) -> None:
        """Stop everything: first the proxy (no new requests), then the workers, the job worker, Redis."""
        for process in [self.nginx, *self.workers, self.job_worker]:
            if process is not None:
                try:
                    process.stop()
                except Exception as error:  # noqa: BLE001 - stop the others all the same
                    print(f"stopping {process}: {error}", file=sys.stderr)
        if self.redis is not None:
            self.redis.stop()
        if self._own_run_dir:
            shutil.rmtree(self.run_dir, ignore_errors=True)


def start(
    *, env: Mapping[str, str], workers: int = 2, host: str = "127.0.0.1", port: int = 0,
    redis_url: str | None = None, job_worker: bool = True, run_dir: Path | None = None,
) -> Topology:
    """Start the topology on this machine against `env`'s DATABASE_URL (already migrated).

    Without `redis_url`, a redis-server is started on a unix socket in the run
    folder. `port` 0: a port the kernel picks (Topology.port says which).
    Workers start side by side; nginx starts once every worker answers.
    """
    if not env.get("DATABASE_URL"):
        raise TopologyError("DATABASE_URL is not set")
    nginx_binary()  # before starting anything: a missing nginx is said first
    own = run_dir is None
    topology = Topology(run_dir=run_dir or Path(tempfile.mkdtemp(prefix="shuping-topology-")), own_run_dir=own)
    try:
        topology.run_dir.mkdir(parents=True, exist_ok=True)
        worker_env = dict(env, PYTHONUNBUFFERED="1")
        worker_env.setdefault("SHUPING_LOGIN_PROXY_COUNT", "1")  # nginx is the one proxy in front
        if redis_url is None:
            topology.redis = RedisServer(folder=topology.run_dir / "redis")
            redis_url = topology.redis.url
        worker_env["REDIS_URL"] = redis_url
        for n in range(workers):
            topology.workers.append(Worker(env=worker_env, log_path=topology.run_dir / f"worker-{n}.log"))
        for worker in topology.workers:
            worker.wait_ready()
        if job_worker:
            topology.job_worker = JobWorker(env=worker_env, log_path=topology.run_dir / "job-worker.log")
        topology.nginx = Nginx(prefix=topology.run_dir / "nginx", servers=[w.address for w in topology.workers],
                               host=host, port=port)
    except BaseException:
        topology.stop()
        raise
    return topology


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="infra/up", description="述评托管拓扑（单机） / the hosted topology on one machine")
    parser.add_argument("--workers", type=int, default=2, help="ASGI worker processes (default 2)")
    parser.add_argument("--host", default="127.0.0.1", help="address nginx listens on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port nginx listens on (default 8080; 0: any free)")
    parser.add_argument("--data", default=None, help="the embedded PostgreSQL's folder when DATABASE_URL is not set")
    parser.add_argument("--no-job-worker", action="store_true", help="do not start `shuping worker`")
    args = parser.parse_args(argv)

    from shuping import cli

    signal.signal(signal.SIGTERM, _raise_interrupt)
    home = Path(args.data or os.environ.get("SHUPING_HOME") or cli.DEFAULT_HOME).resolve()
    embedded = not os.environ.get("DATABASE_URL")
    topology: Topology | None = None
    try:
        with cli.database(home) as url:
            env = dict(os.environ, DATABASE_URL=url)
            if embedded and "SHUPING_SECRET_KEY" not in env:
                env["SHUPING_SECRET_KEY"] = cli.embedded_secret_key(home)
            cli._say("迁移数据库结构", "migrating the database schemas")
            subprocess.run([sys.executable, "-m", "shuping.cli", "migrate"], cwd=REPO, env=env, check=True)
            topology = start(env=env, workers=args.workers, host=args.host, port=args.port,
                             redis_url=os.environ.get("REDIS_URL") or None, job_worker=not args.no_job_worker,
                             run_dir=home / "topology")
            cli._say("述评托管拓扑已启动", "Shuping's hosted topology is running")
            print(f"  nginx:   http://{args.host}:{topology.port}/  (a county: http://<county host>:{topology.port}/)")
            for worker in topology.workers:
                print(f"  worker:  {worker.address}  log {worker.log_path}")
            print(f"  redis:   {topology.redis.url if topology.redis else os.environ['REDIS_URL']}")
            if topology.job_worker:
                print(f"  job queue worker: pid {topology.job_worker.proc.pid}")
            cli._say("按 Ctrl-C 停止", "press Ctrl-C to stop")
            said: set[str] = set()
            while True:
                for name in set(topology.exited()) - said:
                    cli._say(f"进程已退出：{name}", f"process exited: {name}")
                    said.add(name)
                time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        if topology is not None:
            topology.stop()
    cli._say("已退出", "stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
