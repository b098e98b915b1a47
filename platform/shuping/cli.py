"""The `shuping` command line.

    shuping run                      start the platform (embedded PostgreSQL unless DATABASE_URL)
                                     and, beside it, the job queue's worker
    shuping worker                   run the job queue's worker (hosted: its own service)
    shuping jobs tick [--county X] [--now ISO] [--wait]   sweep through the queue at a given time
    shuping migrate [--jobs N]       migrate the public schema, the template and every county
                                     (N counties at a time, one transaction each; resumable)
    shuping county create SLUG --name 新野县 --domain xinye.localhost
    shuping county list
    shuping county export SLUG -o FILE   one county (schema dump + manifest of heads) in one file
    shuping county import FILE [--slug NEW] [--domain HOST]   restore it here and verify every log
    shuping backup all DIR           every county, one file each (skips those up to date), and public
    shuping operator create USERNAME
    shuping test [PYTEST ARGS]       run the test suite against a throwaway PostgreSQL
    shuping log export --county X --stream S [-o FILE]
    shuping log export --county X --year Y -o FILE.tar   every stream of the county's year, one archive
    shuping log verify FILE|ARCHIVE [--head HASH]   verify an exported log or archive offline (no database)
    shuping projections rebuild [--county X] [--projection P]
    shuping manage ARGS              any Django management command

Commands that need the database use DATABASE_URL when it is set, otherwise the
embedded server in ./.shuping (started for the command and stopped after it,
or shared with a running `shuping run`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

DEFAULT_HOME = ".shuping"


def _home(args: argparse.Namespace) -> Path:
    return Path(getattr(args, "data", None) or os.environ.get("SHUPING_HOME") or DEFAULT_HOME).resolve()


def _say(zh: str, en: str) -> None:
    print(f"{zh} / {en}", flush=True)


@contextlib.contextmanager
def database(home: Path, *, log: bool = True) -> Iterator[str]:
    """Yield a DATABASE_URL: the given one, or the embedded server's.

    An embedded server started here is stopped on the way out, whatever
    happened (Ctrl-C, SIGTERM, an exception). A server already run by another
    live shuping process (e.g. `shuping run` in another terminal) is shared.
    """
    url = os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    from shuping.embedded_pg import EmbeddedPostgres

    server = EmbeddedPostgres(home)
    shared = server.running_server() is not None and server._owner_alive() is not None
    if shared:
        server.init()
        yield server.url()
        return
    if log:
        first = not server.initialised()
        _say(
            "正在初始化内置 PostgreSQL…" if first else "正在启动内置 PostgreSQL…",
            "initialising embedded PostgreSQL…" if first else "starting embedded PostgreSQL…",
        )
    try:
        yield server.start(log=log)
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001 - Django may not be set up yet
            pass
        server.stop()
        if log:
            _say("内置 PostgreSQL 已停止", "embedded PostgreSQL stopped")


def embedded_secret_key(home: Path) -> str:
    """The embedded default's signing key: generated once, kept in `home/secret_key` (mode 600)."""
    keyfile = home / "secret_key"
    if not keyfile.exists():
        home.mkdir(parents=True, exist_ok=True)
        keyfile.write_text(secrets.token_urlsafe(50))
        keyfile.chmod(0o600)
    return keyfile.read_text().strip()


def _setup_django(url: str, home: Path | None = None) -> None:
    # The embedded default keeps its own generated key next to its data. With
    # a DATABASE_URL of its own (hosted) the key must come from the
    # environment like the workers' (settings refuse to start without it):
    # a key made up here would sign what no worker accepts.
    embedded = "DATABASE_URL" not in os.environ
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shuping.settings")
    if embedded and home is not None and "SHUPING_SECRET_KEY" not in os.environ:
        os.environ["SHUPING_SECRET_KEY"] = embedded_secret_key(home)
    import django

    django.setup()


def _progress(index: int, total: int, schema: str, state: str) -> None:
    if total:
        width = 24
        done = int(width * index / total)
        bar = "█" * done + "·" * (width - done)
        print(f"\r  [{bar}] {index}/{total} {schema}: {state}\033[K", end="", flush=True)
        if index == total:
            print()
    else:
        print(f"  {schema}: {state}", flush=True)


def _counties_behind_warning() -> None:
    from tenants.provisioning import counties_behind

    behind = counties_behind()
    if behind:
        _say(
            f"注意：{len(behind)} 个县区落后于模板（如 {behind[0]}），请运行 shuping migrate",
            f"note: {len(behind)} counties are behind the template (e.g. {behind[0]}): run `shuping migrate`",
        )


def _migrate_all(**options: Any) -> dict[str, int]:
    """Migrate every schema; in each one migrated, rebuild the projections its migrations marked stale."""
    from projections.runtime import rebuild_stale
    from tenants.migrating import migrate_all

    return migrate_all(after_migrate=rebuild_stale, **options)


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


# -- commands ------------------------------------------------------------------------


def cmd_migrate(args: argparse.Namespace) -> int:
    home = _home(args)
    # SIGTERM stops like Ctrl-C: the workers are ended, counties in hand roll back.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    with database(home) as url:
        _setup_django(url, home)
        from shuping import migrate_cli

        return migrate_cli.run(jobs=args.jobs or migrate_cli.default_jobs(), verbosity=args.verbosity)


def cmd_county_create(args: argparse.Namespace) -> int:
    home = _home(args)
    with database(home) as url:
        _setup_django(url, home)
        from django.conf import settings

        from tenants.provisioning import ProvisioningError, create_county, migrate_platform

        # Only what a new county is made from (public schema, template); the
        # other counties are `shuping migrate`'s business.
        migrate_platform()
        started = time.monotonic()
        try:
            county = create_county(slug=args.slug, name=args.name, domains=args.domain)
        except ProvisioningError as exc:
            print(f"错误 [{exc.code}]: {exc.message}", file=sys.stderr)
            return 2
        _say(
            f"已创建县区 {county.name}（{county.schema_name}），用时 {time.monotonic() - started:.1f} 秒",
            f"created county {county.schema_name} in {time.monotonic() - started:.1f} s",
        )
        for host in args.domain:
            print(f"  https://{host}/" if settings.SHUPING_HTTPS else f"  http://{host}:8000/")
    return 0


def cmd_county_list(args: argparse.Namespace) -> int:
    home = _home(args)
    with database(home, log=False) as url:
        _setup_django(url, home)
        from tenants.provisioning import list_counties

        rows = list_counties()
        if not rows:
            _say("还没有县区", "no counties yet")
        for row in rows:
            print(f"{row.slug}\t{row.name}\t{', '.join(row.domains)}")
    return 0


def cmd_county_admin(args: argparse.Namespace) -> int:
    """A county's first administrator: the platform grants the role (no second person exists yet)."""
    home = _home(args)
    with database(home, log=False) as url:
        _setup_django(url, home)
        from django.db import transaction
        from django_tenants.utils import schema_context

        from accounts.models import User
        from shuping.demo import create_county_account
        from tenants.models import County

        if not County.objects.filter(schema_name=args.slug).exclude(schema_name="public").exists():
            print(f"错误：没有县区 {args.slug} / no county {args.slug}", file=sys.stderr)
            return 2
        password = args.password or secrets.token_urlsafe(12)
        with schema_context(args.slug), transaction.atomic():
            if User.objects.filter(username=args.username).exists():
                print(f"错误：账号 {args.username} 已存在 / the account exists", file=sys.stderr)
                return 2
            create_county_account(username=args.username, password=password, role="county_admin", by="cli")
        _say(f"县区管理员 {args.username} 密码 {password}", f"county administrator {args.username} password {password}")
    return 0


def cmd_operator_create(args: argparse.Namespace) -> int:
    home = _home(args)
    with database(home, log=False) as url:
        _setup_django(url, home)
        from shuping.demo import ensure_operator
        from tenants.provisioning import migrate_platform

        migrate_platform()
        from django.core.exceptions import ValidationError

        password = args.password or secrets.token_urlsafe(12)
        try:
            ensure_operator(args.username, password)
        except ValidationError as refused:
            _say("密码不符合要求：" + "；".join(refused.messages), "the password was refused (see above)")
            return 2
        _say(f"运营账号 {args.username} 密码 {password}", f"operator {args.username} password {password}")
    return 0


def cmd_manage(args: argparse.Namespace) -> int:
    home = _home(args)
    with database(home, log=False) as url:
        _setup_django(url, home)
        from django.core.management import execute_from_command_line

        execute_from_command_line(["shuping manage", *args.rest])
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    home = _home(args)
    started = time.monotonic()
    # SIGTERM must unwind like Ctrl-C so that the finally blocks stop PostgreSQL.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        with database(home) as url:
            _setup_django(url, home)
            from shuping.demo import DEMO_SLUG, ensure_demo

            _say("检查数据库结构", "checking database schemas")
            # The platform's schemas and the demo county; other counties are
            # `shuping migrate`'s business (at 2,800 counties a migration does
            # not belong in a server's start).
            _migrate_all(progress=_progress, only=[] if args.no_demo else [DEMO_SLUG])
            _counties_behind_warning()
            logins = ensure_demo(port=args.port) if not args.no_demo else []
            _serve(args, logins, started)
    except KeyboardInterrupt:
        pass
    _say("已退出", "stopped")
    return 0


def _serve(args: argparse.Namespace, logins: Sequence[tuple[str, str, str, str]], started: float) -> None:
    import uvicorn

    from shuping import jobs_cli
    from shuping.server_options import APP, SERVER_OPTIONS

    config = uvicorn.Config(APP, host=args.host, port=args.port, proxy_headers=False, **SERVER_OPTIONS)
    server = uvicorn.Server(config)
    print()
    _say(f"述评已启动（用时 {time.monotonic() - started:.1f} 秒）", "Shuping is running")
    print(f"  平台运营 / operators:   http://localhost:{args.port}/")
    for url, role, username, password in logins:
        print(f"  {role}: {url}" + (f"   {username} / {password}" if username else ""))
    # The job queue's worker (deadlines, notice periods): a process of its own, stopped with the server.
    worker = jobs_cli.start_worker(getattr(args, "data", None))
    print(f"  任务队列 / job queue:   worker pid {worker.pid}")
    _say("按 Ctrl-C 停止", "press Ctrl-C to stop")
    print(flush=True)
    try:
        server.run()
    finally:
        jobs_cli.stop_worker(worker)


def cmd_test(args: argparse.Namespace) -> int:
    """Start a throwaway PostgreSQL (or use DATABASE_URL), migrate, run pytest."""
    from shuping.embedded_pg import EmbeddedPostgres

    given = os.environ.get("DATABASE_URL")
    env = dict(os.environ)
    server: EmbeddedPostgres | None = None
    test_db = None
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        if given:
            import psycopg

            test_db = f"shuping_test_{os.getpid()}"
            with psycopg.connect(given, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{test_db}"')
            url = _replace_db(given, test_db)
        else:
            root = Path(tempfile.mkdtemp(prefix="shuping-test-pg-"))
            server = EmbeddedPostgres(root, throwaway=True)
            t0 = time.monotonic()
            url = server.start(log=False)
            print(f"throwaway PostgreSQL on {url.split('@')[1]} ready in {time.monotonic() - t0:.1f} s", flush=True)
            # Tests that inspect the server (its files, its superuser) find it here; the app's URL is not a superuser's.
            env["SHUPING_TEST_PG_HOME"] = str(root)
        env["DATABASE_URL"] = url
        env["SHUPING_TEST_DATABASE"] = "1"
        # One key for the run, shared by pytest and every server it starts;
        # settings refuse to start without one.
        env.setdefault("SHUPING_SECRET_KEY", secrets.token_urlsafe(50))
        subprocess.run([sys.executable, "-m", "shuping.cli", "migrate"], env=env, check=True)
        result = subprocess.run([sys.executable, "-m", "pytest", *args.pytest_args], env=env)
        return result.returncode
    except KeyboardInterrupt:
        return 130
    finally:
        if server is not None:
            server.destroy()
        if given and test_db:
            import psycopg

            with psycopg.connect(given, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{test_db}" WITH (FORCE)')


def _replace_db(url: str, name: str) -> str:
    from urllib.parse import urlparse, urlunparse

    parsed = urlparse(url)
    return urlunparse(parsed._replace(path=f"/{name}"))


def cmd_log_verify(args: argparse.Namespace) -> int:
    # Offline on purpose: no Django, no database. An auditor can run this on
    # an exported file on a machine that has never seen the platform.
    # The same module as the downloadable shuping-verify program: one implementation.
    from events.shuping_verify import main as verify_main

    argv = [args.file]
    for head in args.head or []:
        argv += ["--head", head]
    if args.full:
        argv += ["--full", args.full]
    if args.json:
        argv.append("--json")
    return verify_main(argv, prog="shuping log verify")


def cmd_log_export(args: argparse.Namespace) -> int:
    home = _home(args)
    with database(home, log=False) as url:
        _setup_django(url, home)
        from shuping import log_cli

        return log_cli.export(args)


def cmd_county_backup(args: argparse.Namespace) -> int:
    home = _home(args)
    with database(home, log=False) as url:
        _setup_django(url, home)
        from shuping import county_cli

        return int(getattr(county_cli, args.backup_command)(args))


def cmd_projections_rebuild(args: argparse.Namespace) -> int:
    home = _home(args)
    with database(home, log=False) as url:
        _setup_django(url, home)
        from django_tenants.utils import schema_context

        from projections.runtime import catch_up, get, projections, rebuild
        from shuping import log_cli

        names = [args.projection] if args.projection else sorted(projections())
        chosen = [get(name) for name in names]
        differences = 0
        for county in log_cli.county_names(args.county):
            with schema_context(county):
                for projection in chosen:
                    if not projection.inline:
                        catch_up(projection)  # compare against a caught-up live state
                    label = f"{county}/{projection.name}"

                    def bar(done: int, total: int, label: str = label) -> None:
                        _progress(done, total, label, "rebuilding")

                    started = time.monotonic()
                    report = rebuild(projection, progress=bar)
                    took = time.monotonic() - started
                    if report.identical:
                        print(f"  {label}: {report.events} events, {took:.1f} s, 与现状一致 / identical to live")
                    else:
                        differences += len(report.only_live) + len(report.only_rebuilt)
                        print(f"  {label}: {report.events} events, 与现状不同 / DIFFERS from live:")
                        for table, row in report.only_live[:20]:
                            print(f"    - live only    {table}: {row}")
                        for table, row in report.only_rebuilt[:20]:
                            print(f"    + rebuilt only {table}: {row}")
    return 1 if differences else 0


def cmd_projections_catchup(args: argparse.Namespace) -> int:
    home = _home(args)
    with database(home, log=False) as url:
        _setup_django(url, home)
        from django_tenants.utils import schema_context

        from projections.runtime import catch_up, projections
        from shuping import log_cli

        for county in log_cli.county_names(args.county):
            with schema_context(county):
                for projection in projections().values():
                    if not projection.inline:
                        print(f"  {county}/{projection.name}: {catch_up(projection)} events")
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    home = _home(args)
    # Until the worker takes over SIGINT and SIGTERM (it finishes the job in
    # hand first), they unwind like Ctrl-C, so an embedded PostgreSQL is stopped.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        with database(home) as url:
            _setup_django(url, home)
            from shuping import jobs_cli

            return jobs_cli.work(args)
    except KeyboardInterrupt:
        return 0


def cmd_jobs_tick(args: argparse.Namespace) -> int:
    home = _home(args)
    with database(home, log=False) as url:
        _setup_django(url, home)
        from shuping import jobs_cli

        return jobs_cli.tick(args)


def cmd_region(args: argparse.Namespace) -> int:
    home = _home(args)
    with database(home, log=False) as url:
        _setup_django(url, home)
        from shuping import region_cli

        return region_cli.run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shuping", description="述评 Shuping")
    parser.add_argument("--data", help="folder of the embedded database (default ./.shuping)")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="启动平台 / start the platform")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8000)
    run.add_argument("--no-demo", action="store_true", help="do not provision the demo county")
    run.set_defaults(func=cmd_run)

    migrate = sub.add_parser("migrate", help="迁移所有模式 / migrate all schemas")
    migrate.add_argument("-v", "--verbosity", type=int, default=0)
    migrate.add_argument("-j", "--jobs", type=int, default=0,
                         help="counties migrated at a time, each in a process of its own (default min(4, CPUs))")
    migrate.set_defaults(func=cmd_migrate)

    county = sub.add_parser("county", help="县区 / counties").add_subparsers(dest="county_command", required=True)
    create = county.add_parser("create", help="创建县区 / create a county")
    create.add_argument("slug")
    create.add_argument("--name", required=True)
    create.add_argument("--domain", action="append", required=True)
    create.set_defaults(func=cmd_county_create)
    county.add_parser("list", help="列出县区 / list counties").set_defaults(func=cmd_county_list)
    county_admin = county.add_parser("admin", help="县区首位管理员 / a county's first administrator")
    county_admin.add_argument("slug")
    county_admin.add_argument("username")
    county_admin.add_argument("--password")
    county_admin.set_defaults(func=cmd_county_admin)
    c_export = county.add_parser("export", help="导出一个县区到一个文件 / export a county to one file")
    c_export.add_argument("slug")
    c_export.add_argument("-o", "--output", required=True)
    c_export.set_defaults(func=cmd_county_backup, backup_command="export")
    c_import = county.add_parser("import", help="从备份导入县区并校验 / import a county and verify its logs")
    c_import.add_argument("file")
    c_import.add_argument("--slug")
    c_import.add_argument("--domain", action="append")
    c_import.set_defaults(func=cmd_county_backup, backup_command="import_")
    backup = sub.add_parser("backup", help="备份 / backups").add_subparsers(dest="backup_what", required=True)
    b_all = backup.add_parser("all", help="逐县备份整个实例（可续传） / dump every county, one file each (resumable)")
    b_all.add_argument("folder")
    b_all.set_defaults(func=cmd_county_backup, backup_command="backup_all")

    operator = sub.add_parser("operator", help="运营账号 / operator accounts").add_subparsers(
        dest="operator_command", required=True
    )
    op_create = operator.add_parser("create")
    op_create.add_argument("username")
    op_create.add_argument("--password")
    op_create.set_defaults(func=cmd_operator_create)

    test = sub.add_parser("test", help="运行测试 / run the tests")
    test.add_argument("pytest_args", nargs=argparse.REMAINDER)
    test.set_defaults(func=cmd_test)

    log = sub.add_parser("log", help="事件日志 / event log").add_subparsers(dest="log_command", required=True)
    verify = log.add_parser("verify", help="离线校验导出的日志 / verify an exported log offline")
    verify.add_argument("file")
    verify.add_argument("--head", action="append", help="a head hash recorded outside the platform")
    verify.add_argument("--full", help="the full log a public log was made from (auditors: compare the two)")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(func=cmd_log_verify)

    export = log.add_parser("export", help="导出一个记录流或一县一年 / export one stream, or a county's year as one archive")
    export.add_argument("--county", required=True)
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("--stream")
    which.add_argument("--year", type=int, help="every stream with an event in that year (China time), as a tar archive")
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    export.set_defaults(func=cmd_log_export)

    proj = sub.add_parser("projections", help="读模型 / projections").add_subparsers(dest="proj_command", required=True)
    rebuild = proj.add_parser("rebuild", help="从头重建并与现状比较 / rebuild from position 0 and compare")
    rebuild.add_argument("--county")
    rebuild.add_argument("--projection")
    rebuild.set_defaults(func=cmd_projections_rebuild)
    catchup = proj.add_parser("catchup", help="追赶读模型 / run catch-up projections")
    catchup.add_argument("--county")
    catchup.set_defaults(func=cmd_projections_catchup)

    worker = sub.add_parser("worker", help="任务队列工作进程 / the job queue's worker")
    worker.add_argument("--parent-pid", type=int, help=argparse.SUPPRESS)  # stop when `shuping run` is gone
    worker.set_defaults(func=cmd_worker)
    jobs = sub.add_parser("jobs", help="任务队列 / job queue").add_subparsers(dest="jobs_command", required=True)
    tick = jobs.add_parser("tick", help="经任务队列按给定时间清扫 / sweep through the queue at a given time")
    tick.add_argument("--county", help="one county (default: every county)")
    tick.add_argument("--now", help="the time to sweep at, ISO 8601 (default: when the job runs)")
    tick.add_argument("--wait", action="store_true", help="run a worker until these sweeps are done")
    tick.set_defaults(func=cmd_jobs_tick)

    from shuping import region_cli

    region_cli.add_parsers(sub, cmd_region)

    manage = sub.add_parser("manage", help="Django management commands")
    manage.add_argument("rest", nargs=argparse.REMAINDER)
    manage.set_defaults(func=cmd_manage)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["test"]:
        # Everything after `test` belongs to pytest, options included.
        return cmd_test(argparse.Namespace(pytest_args=argv[1:]))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
