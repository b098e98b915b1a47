"""`shuping migrate [--jobs N]`: every schema up to date, counties in parallel, with progress and an error report.

Exit codes: 0 when every county is at the template's state, 1 when any county
failed (it stays at its old version and usable; the report says which
migration and why), 130 on Ctrl-C (counties done so far stay done; a rerun
takes up the rest).
"""

from __future__ import annotations

import os
import sys
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from tenants.migrating import MigrateReport

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def default_jobs() -> int:
    """Four workers, or fewer on a smaller machine (each is a Django process with one connection)."""
    return max(1, min(4, os.cpu_count() or 1))


class ProgressLine:
    """Done/total, counties a second and the time left, on one line that rewrites itself on a terminal."""

    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.started: float | None = None
        self.tty = out.isatty()

    def __call__(self, index: int, total: int, schema: str, state: str) -> None:
        if not total:  # public, the template: one line each
            print(f"  {schema}: {state}", file=self.out, flush=True)
            return
        now = time.monotonic()
        if self.started is None or index <= 1:
            self.started = now
        elapsed = now - self.started
        rate = (index - 1) / elapsed if elapsed > 0 and index > 1 else 0.0
        left = f"{(total - index) / rate:.0f} s" if rate else "?"
        line = f"  {index}/{total}  {rate:.1f} 县/秒 counties/s  剩余 ETA {left}  {schema}: {state}"
        if self.tty:
            print(f"\r{line}\033[K", end="\n" if index == total else "", file=self.out, flush=True)
        elif state != "up to date" or index == total or index % 100 == 0:
            print(line, file=self.out, flush=True)


def print_report(report: MigrateReport, out: TextIO = sys.stdout) -> None:
    """The summary, then one line per failed county: schema, migration, error (Chinese first)."""
    fine = report.skipped + report.current
    print(
        f"完成：{report.migrated} 个县区已迁移，{fine} 个已是最新，{len(report.failures)} 个失败"
        f" / done: {report.migrated} counties migrated, {fine} up to date, {len(report.failures)} failed",
        file=out, flush=True,
    )
    if report.interrupted:
        print(
            f"已中断：{report.not_reached} 个县区未迁移，重新运行 shuping migrate 即可继续"
            f" / interrupted: {report.not_reached} counties not migrated; run `shuping migrate` again to resume",
            file=out, flush=True,
        )
    if report.failures:
        print(
            "迁移失败的县区（仍为旧版本，可正常使用；修复后重新运行 shuping migrate）"
            " / counties that failed (still at their old version and usable; fix and run `shuping migrate` again):",
            file=out, flush=True,
        )
        for failure in report.failures:
            migration = failure.migration or "-"
            print(
                f"  [migrate_county_failed] 县区 {failure.schema} 迁移 {migration} 失败"
                f" / county {failure.schema} failed at {migration}: {failure.error}",
                file=out, flush=True,
            )


def run(*, jobs: int, verbosity: int) -> int:
    """Migrate everything (Django is set up); rebuild the projections each migration marked stale."""
    from projections.runtime import rebuild_stale
    from tenants.migrating import migrate_counties

    print(f"迁移所有模式（{jobs} 个并行进程） / migrating all schemas ({jobs} jobs)", flush=True)
    started = time.monotonic()
    try:
        report = migrate_counties(progress=ProgressLine(), verbosity=verbosity, after_migrate=rebuild_stale, jobs=jobs)
    except KeyboardInterrupt:  # while public or the template migrated: nothing of the counties began
        print("已中断 / interrupted", flush=True)
        return EXIT_INTERRUPTED
    print_report(report)
    print(f"用时 {time.monotonic() - started:.1f} 秒 / took {time.monotonic() - started:.1f} s", flush=True)
    if report.interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if report.failures else 0
