"""The job queue's commands: `shuping worker`, `shuping jobs tick`, and the worker beside `shuping run`.

shuping.cli sets up the database and Django, then calls these (this module
imports nothing of the CLI's: no import circle).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time

WAIT_SECONDS = 600.0  # `jobs tick --wait` gives up after this long (only a stuck worker gets there)
STOP_SECONDS = 15.0  # `shuping run` waits this long for its worker to finish the job in hand


def _say(zh: str, en: str) -> None:
    print(f"{zh} / {en}", flush=True)


def tick(args: argparse.Namespace) -> int:
    """Defer a sweep of each county (or one) at --now through the queue; with --wait, work until they are done."""
    from followup import jobs

    try:
        now = jobs.parse_now(args.now) if args.now else None
    except ValueError:
        print(f"错误 [invalid_now]: 时间须为 ISO 8601 格式，例如 2026-12-10T09:00:00+08:00 / --now must be ISO 8601: {args.now!r}", file=sys.stderr)
        return 2
    schemas = jobs.county_schemas()
    if args.county is not None:
        if args.county not in schemas:
            print(f"错误 [unknown_county]: 没有县区 {args.county} / no county {args.county}", file=sys.stderr)
            return 2
        schemas = [args.county]
    job_ids = jobs.defer_sweeps(schemas=schemas, now=now)
    at = now.isoformat() if now is not None else "运行时 / when run"
    _say(f"已排入 {len(job_ids)} 个县区的清扫（时间 {at}）", f"deferred sweeps of {len(job_ids)} counties at {at}")
    if not args.wait:
        return 0
    jobs.run_worker(queues=[jobs.SWEEP_QUEUE], wait=False, install_signal_handlers=False, listen_notify=False)
    # Another worker (e.g. the one beside `shuping run`) may have taken some
    # of them: wait until every one is finished, whoever ran it.
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        states = jobs.job_states(job_ids)
        if all(state not in ("todo", "doing") for state in states.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    failed = sorted(job for job, state in states.items() if state != "succeeded")
    _say(
        f"完成：{len(job_ids) - len(failed)} 个成功，{len(failed)} 个未成功",
        f"done: {len(job_ids) - len(failed)} succeeded, {len(failed)} not ({', '.join(map(str, failed)) or '-'})",
    )
    return 1 if failed else 0


def work(args: argparse.Namespace) -> int:
    """Run the job queue's worker until SIGINT or SIGTERM (it finishes the job in hand first)."""
    from followup import jobs

    if args.parent_pid:
        _stop_when_orphaned(args.parent_pid)
    jobs.defer_startup_sweep()
    _say("任务队列工作进程已启动，按 Ctrl-C 停止", f"job queue worker running (pid {os.getpid()}); Ctrl-C stops it")
    jobs.run_worker(name=f"worker-{os.getpid()}")
    _say("任务队列工作进程已停止", "job queue worker stopped")
    return 0


def _stop_when_orphaned(parent: int) -> None:
    """Stop like on SIGTERM once the parent (`shuping run`) is gone, even if it was killed outright."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def start_worker(data: str | None) -> subprocess.Popen[bytes]:
    """Start `shuping worker` beside the server (the embedded default): its own process, so its sweeps never hold the server's GIL.

    It inherits DATABASE_URL and the secret key the server was set up with.
    """
    command = [sys.executable, "-m", "shuping.cli"]
    if data:
        command += ["--data", data]
    return subprocess.Popen([*command, "worker", "--parent-pid", str(os.getpid())], env=dict(os.environ))


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    """Stop the worker started by `start_worker` (Ctrl-C reached it already; SIGTERM otherwise) and wait for it."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
