"""The command line: what ``shuping-verify`` and ``shuping log verify`` print and the exit status."""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
from collections.abc import Sequence
from dataclasses import replace
from typing import TextIO

from .archive import archive_summary, verify_archive
from .canonical import BadLine
from .public import compare_public
from .report import VerifyReport, _where, normalise_heads, verify_file


def _emit(text: str, stream: TextIO) -> None:
    try:
        print(text, file=stream)
    except UnicodeEncodeError:  # a console without Chinese must still show the verdict
        encoding = getattr(stream, "encoding", None) or "ascii"
        print(text.encode(encoding, "backslashreplace").decode(encoding), file=stream)


def summary(report: VerifyReport) -> list[str]:
    """The report as the lines the command prints (Chinese first)."""
    lines: list[str] = []
    if report.ok:
        lines.append(f"校验通过 / verified: {report.event_count} events, head {report.head_hash or '(无 / none)'}")
    else:
        first = report.problems[0]
        lines.append(f"校验失败 / FAILED{_where(first)}: {first.message_zh} / {first.message}")
    if report.county is not None:
        lines.append(f"  县 / county: {report.county}; 会议流 / stream: {report.stream}; 导出时间 / exported at: {report.exported_at}")
    for trusted in report.trusted_heads:
        if trusted.found:
            lines.append(f"  可信头哈希位于第 {trusted.version} 版 / trusted head found at version {trusted.version} "
                         f"(position {trusted.position}, line {trusted.line_no}): {trusted.hash}")
        else:
            lines.append(f"  未找到可信头哈希 / trusted head NOT found: {trusted.hash}")
    if report.prefix_only:
        pinned = max(t.version or 0 for t in report.trusted_heads)
        lines.append(f"  仅前缀 / PREFIX ONLY: 可信头哈希只覆盖第 1–{pinned} 版，第 {pinned + 1}–{report.event_count} 版"
                     f"没有在平台之外公布的头哈希 / the trusted heads cover versions 1–{pinned} only; versions "
                     f"{pinned + 1}–{report.event_count} are pinned by no head published outside the platform")
    if report.results_recounted:
        lines.append(f"  重新计票与公布结果一致 / recount matches the announced results ({report.results_recounted})")
    if report.closed_at is not None:
        lines.append(f"  会议已于第 {report.closed_at} 版结束 / the meeting closed at version {report.closed_at}")
    if report.public:
        lines.append(f"  公开日志：{report.redacted} 条事件已去除个人信息，其内容与前一链接以平台公布为准 / public log: "
                     f"{report.redacted} events redacted; their content and backward link are as the platform published them")
        if report.last_redacted is not None:
            lines.append(f"  第 {report.last_redacted + 1} 版起的事件由哈希完整证明 / from version {report.last_redacted + 1} "
                         f"on, every event is proved by its hash; before it, by the chain's word across redacted events")
    if not report.ok:
        if report.verified_count:
            lines.append(f"  前 {report.verified_count} 条事件链接无误 / events 1–{report.verified_count} are chained "
                         f"intact, up to head {report.head_hash}")
        for problem in report.problems[1:]:
            lines.append(f"  另有问题 / also{_where(problem)}: {problem.message_zh} / {problem.message}")
    elif not report.trusted_heads:
        lines.append("  注意：未提供可信头哈希，仅能证明文件自洽，不能证明历史未被整体改写 / note: no trusted head "
                     "given; this proves the file is self-consistent, not that the history was never rewritten as a whole")
    return lines


def main(argv: Sequence[str] | None = None, prog: str = "shuping-verify") -> int:
    """Command line: 0 verified, 1 tampered/invalid/miscounted, 2 unreadable, 3 verified prefix only."""
    parser = argparse.ArgumentParser(prog=prog, description="校验述评事件日志导出文件 / Verify an exported Shuping event log.")
    parser.add_argument("file", help="导出的 JSON Lines 文件 / the exported JSON Lines file")
    parser.add_argument("--head", dest="heads", action="extend", nargs="+", default=[], metavar="HASH",
                        help="在平台之外公布的头哈希（可多次给出） / a head hash published outside the platform (repeatable)")
    parser.add_argument("--full", metavar="FULL_LOG", help="与完整日志比对公开日志（审计人员） / compare a public log "
                        "with the full log it was made from (auditors, section 14.2)")
    parser.add_argument("--json", action="store_true", help="以 JSON 输出报告 / print the report as JSON")
    args = parser.parse_args(argv)
    try:
        heads = normalise_heads(args.heads)
    except ValueError as exc:
        parser.error(str(exc))  # exits with status 2
    try:
        if tarfile.is_tarfile(args.file):
            archive = verify_archive(args.file, trusted_heads=heads)
            for line in [json.dumps(archive.to_dict(), ensure_ascii=False, indent=2)] if args.json else archive_summary(archive):
                _emit(line, sys.stdout)
            return 0 if archive.ok else 1
        report = verify_file(args.file, trusted_heads=heads)
        if args.full:
            full = verify_file(args.full, trusted_heads=heads)
            report.problems += [replace(p, message=f"full log: {p.message}", message_zh=f"完整日志：{p.message_zh}")
                                for p in full.problems]
            if report.public and not report.problems and not full.problems:  # what the chain cannot check (14.2)
                report.problems += compare_public(args.file, args.full)
            report.ok = not report.problems
    except (OSError, tarfile.TarError, BadLine) as exc:
        _emit(f"无法读取文件 / cannot read file {args.file}: {getattr(exc, 'strerror', None) or exc}", sys.stderr)
        return 2
    if args.json:
        _emit(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), sys.stdout)
    else:
        for line in summary(report):
            _emit(line, sys.stdout)
    return 3 if report.ok and report.prefix_only else 0 if report.ok else 1
