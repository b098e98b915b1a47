"""`shuping county export|import` and `shuping backup all`: the bodies (tenants.backup does the work).

shuping.cli sets up the database and Django, then calls these. Progress goes
to standard error, the verdict to standard output (Chinese first).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from common.refusal import Refusal


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _refused(exc: Refusal) -> int:
    print(f"错误 [{exc.code}]: {exc}", file=sys.stderr)
    for verdict in exc.details if isinstance(exc.details, list) else []:
        for line in verdict.get("lines", []):
            print(f"  {verdict['stream']}: {line}", file=sys.stderr)
    return 2 if exc.http_status < 500 else 1


def export(args: argparse.Namespace) -> int:
    from tenants.backup import export_county

    started = time.monotonic()
    try:
        manifest = export_county(args.slug, Path(args.output), say=_progress)
    except Refusal as exc:
        return _refused(exc)
    print(f"已导出县区 {args.slug}：{len(manifest['heads'])} 个记录流，用时 {time.monotonic() - started:.1f} 秒 / "
          f"exported {args.slug}: {len(manifest['heads'])} streams in {time.monotonic() - started:.1f} s", flush=True)
    return 0


def import_(args: argparse.Namespace) -> int:
    from tenants.backup import import_county
    from tenants.provisioning import migrate_platform

    migrate_platform()  # the instance's own public schema and template, to compare and migrate against
    try:
        done = import_county(Path(args.file), slug=args.slug, domains=args.domain, say=_progress)
    except Refusal as exc:
        return _refused(exc)
    print(f"校验通过 / verified: 已导入县区 {done['slug']}，{done['streams']} 个记录流、{done['events']} 个事件全部通过校验 / "
          f"imported {done['slug']}: {done['streams']} streams, {done['events']} events verified", flush=True)
    return 0


def backup_all(args: argparse.Namespace) -> int:
    from tenants.backup import backup_all as run

    try:
        counts = run(Path(args.folder), say=_progress)
    except Refusal as exc:
        return _refused(exc)
    print(f"完成：{counts['dumped']} 个县区已导出，{counts['current']} 个已是最新 / "
          f"done: {counts['dumped']} counties dumped, {counts['current']} up to date", flush=True)
    return 0
