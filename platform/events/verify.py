"""Offline verifier for an exported Shuping event log (one stream, JSON Lines).

Usage::

    python -m events.verify meeting.jsonl [--head HASH ...] [--json]

This module is the command line (also ``shuping log verify``): it prints the
verdict of :func:`verify_file` in Chinese and English, or as JSON, and exits
0 (verified), 1 (tampered or invalid) or 2 (unreadable, bad arguments).  It
also keeps the names callers import from ``events.verify``.  The work is
done in two modules:

* :mod:`events.log_format` reads the lines: strict JSON, the header, the
  shape of each event line and the hash of its content;
* :mod:`events.log_check` checks the chain links, the header's count and
  head, the trusted heads, and builds the :class:`VerifyReport`.

The file layout and every rule checked are described for auditors in
``docs/event-log-format.md``; that document, not this code, is the
specification.  The verifier needs nothing but the Python standard library
and :mod:`events.chain`, so it can be handed to a discipline commission
together with the export.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TextIO

from events.log_check import (
    Problem,
    TrustedHead,
    VerifyReport,
    normalise_heads,
    verify_file,
    verify_lines,
)
from events.log_format import LOG_FORMAT, LOG_FORMAT_VERSION

__all__ = [
    "LOG_FORMAT",
    "LOG_FORMAT_VERSION",
    "Problem",
    "TrustedHead",
    "VerifyReport",
    "main",
    "verify_file",
    "verify_lines",
]


def _emit(text: str, stream: TextIO) -> None:
    try:
        print(text, file=stream)
    except UnicodeEncodeError:
        # A console that cannot show Chinese must still show the verdict.
        encoding = getattr(stream, "encoding", None) or "ascii"
        print(text.encode(encoding, "backslashreplace").decode(encoding), file=stream)


def _where(problem: Problem) -> str:
    if problem.line_no is None:
        return ""
    if problem.position is None and problem.version is None:
        return f" at line {problem.line_no}"
    position = "-" if problem.position is None else str(problem.position)
    version = "-" if problem.version is None else str(problem.version)
    return f" at line {problem.line_no} (position {position}, version {version})"


def _summary(report: VerifyReport) -> list[str]:
    lines: list[str] = []
    if report.ok:
        head = report.head_hash or "(无 / none)"
        lines.append(f"校验通过 / verified: {report.event_count} events, head {head}")
    else:
        problem = report.problems[0]
        lines.append(f"校验失败 / FAILED{_where(problem)}: {problem.message_zh} / {problem.message}")
    if report.county is not None:
        lines.append(
            f"  县 / county: {report.county}; 会议流 / stream: {report.stream}; "
            f"导出时间 / exported at: {report.exported_at}"
        )
    for trusted in report.trusted_heads:
        if trusted.found:
            lines.append(
                f"  可信头哈希位于第 {trusted.version} 版 / trusted head found at version "
                f"{trusted.version} (position {trusted.position}, line {trusted.line_no}): {trusted.hash}"
            )
        else:
            lines.append(f"  未找到可信头哈希 / trusted head NOT found: {trusted.hash}")
    if not report.ok:
        if report.verified_count:
            lines.append(
                f"  前 {report.verified_count} 条事件校验无误 / events 1–{report.verified_count} "
                f"are intact, up to head {report.head_hash}"
            )
        for problem in report.problems[1:]:
            lines.append(f"  另有问题 / also{_where(problem)}: {problem.message_zh} / {problem.message}")
    elif not report.trusted_heads:
        lines.append(
            "  注意：未提供可信头哈希，仅能证明文件自洽，不能证明历史未被整体改写 / "
            "note: no trusted head given; this proves the file is self-consistent, not that "
            "the history was never rewritten as a whole"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns 0 (verified), 1 (tampered/invalid) or 2 (unreadable)."""
    parser = argparse.ArgumentParser(
        prog="python -m events.verify",
        description="校验述评事件日志导出文件 / Verify an exported Shuping event log.",
    )
    parser.add_argument("file", help="导出的 JSON Lines 文件 / the exported JSON Lines file")
    parser.add_argument(
        "--head",
        dest="heads",
        action="extend",
        nargs="+",
        default=[],
        metavar="HASH",
        help="在平台之外公布的头哈希（可多次给出） / a head hash published outside the platform "
        "(repeatable)",
    )
    parser.add_argument(
        "--json", action="store_true", help="以 JSON 输出报告 / print the report as JSON"
    )
    args = parser.parse_args(argv)
    try:
        heads = normalise_heads(args.heads)
    except ValueError as exc:
        parser.error(str(exc))  # exits with status 2
    try:
        report = verify_file(args.file, trusted_heads=heads)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        _emit(f"无法读取文件 / cannot read file {args.file}: {reason}", sys.stderr)
        return 2
    if args.json:
        _emit(json.dumps(report.to_dict(), ensure_ascii=False, indent=2), sys.stdout)
    else:
        for line in _summary(report):
            _emit(line, sys.stdout)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
