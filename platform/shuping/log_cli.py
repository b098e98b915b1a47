"""`shuping log export`: one stream, or a county's year as one archive; the counties a command names.

shuping.cli sets up the database and Django, then calls these.

This module imports nothing of the CLI's: no import circle.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _say(zh: str, en: str) -> None:
    print(f"{zh} / {en}", flush=True)


def county_names(only: str | None) -> list[str]:
    from tenants.provisioning import list_counties

    names = [row.slug for row in list_counties()]
    if only is not None:
        if only not in names:
            raise SystemExit(f"错误 [unknown_county]: 没有县区 {only} / no county {only}")
        return [only]
    return names


def export(args: argparse.Namespace) -> int:
    """Export --stream (to a file or stdout) or, with --year, the county's year as one archive."""
    from django_tenants.utils import schema_context

    from events.export import export_stream, export_stream_to_file
    from events.reading import stream_version

    county_names(args.county)
    with schema_context(args.county):
        if args.year is not None:
            return _export_year(args)
        if stream_version(args.stream) == 0:
            print(f"错误 [unknown_stream]: 县区 {args.county} 没有记录流 {args.stream} / no such stream", file=sys.stderr)
            return 2
        if args.output in (None, "-"):
            export_stream(args.stream, sys.stdout)
        else:
            header = export_stream_to_file(args.stream, Path(args.output))
            _say(
                f"已导出 {header['event_count']} 个事件到 {args.output}，末端哈希 {header['head_hash']}",
                f"exported {header['event_count']} events, head {header['head_hash']}",
            )
    return 0


def _export_year(args: argparse.Namespace) -> int:
    from events.archive import export_county_year

    if args.output in (None, "-"):
        print("错误 [output_required]: 归档须写入文件（-o FILE.tar） / an archive needs -o FILE.tar", file=sys.stderr)
        return 2
    if not 1900 <= args.year <= 9999:
        print(f"错误 [invalid_year]: 年份 {args.year} 无效 / invalid year", file=sys.stderr)
        return 2
    done = export_county_year(year=args.year, path=Path(args.output), progress=lambda line: print(line, file=sys.stderr, flush=True))
    entries = done["manifest"]["streams"]
    _say(
        f"已导出 {args.county} 县 {args.year} 年的 {len(entries)} 个记录流、{sum(e['event_count'] for e in entries)} 个事件到 {args.output}；"
        f"清单 SHA-256 {done['manifest_sha256']}（请另行记下）",
        f"exported {len(entries)} streams of {args.year}; manifest sha256 {done['manifest_sha256']} (write it down elsewhere)",
    )
    return 0
