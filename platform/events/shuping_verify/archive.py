"""A county-year archive (docs/event-log-format.md section 15): a tar file of logs with a hashed manifest."""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .canonical import ARCHIVE_FORMAT, BadLine, _check_keys, _is_int, parse_json_line
from .report import (
    Problem,
    TrustedHead,
    VerifyReport,
    _short,
    _where,
    normalise_heads,
    verify_lines,
)

MANIFEST_KEYS = frozenset({"format", "format_version", "county", "year", "exported_at", "streams"})
ENTRY_KEYS = frozenset({"stream", "file", "event_count", "head_hash"})


@dataclass
class StreamVerdict:
    """One stream of an archive: its log's own report, and whether it is the one the manifest lists."""

    stream: str
    file: str
    report: VerifyReport | None  # None: the file is missing
    problems: list[Problem] = field(default_factory=list)  # of the stream against the manifest

    @property
    def ok(self) -> bool:
        return self.report is not None and self.report.ok and not self.problems


@dataclass
class ArchiveReport:
    ok: bool
    county: str | None
    year: int | None
    manifest_sha256: str | None
    streams: list[StreamVerdict] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # of the archive itself
    trusted_heads: list[TrustedHead] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _archive_problem(code: str, en: str, zh: str) -> Problem:
    return Problem(None, None, None, code, en, zh)


def _manifest(raw: bytes) -> dict[str, Any]:
    obj = parse_json_line(raw)
    if not isinstance(obj, dict):
        raise BadLine("the manifest must be a JSON object", "清单必须是 JSON 对象")
    _check_keys(obj, MANIFEST_KEYS, "the manifest", "清单")
    if obj["format"] != ARCHIVE_FORMAT or obj["format_version"] != 1:
        raise BadLine(f"not a {ARCHIVE_FORMAT} manifest of format_version 1", f"不是 {ARCHIVE_FORMAT} 第 1 版的清单")
    if not isinstance(obj["county"], str) or not _is_int(obj["year"]) or not isinstance(obj["streams"], list):
        raise BadLine("county must be a string, year an integer, streams an array", "county 应为字符串，year 应为整数，streams 应为数组")
    for entry in obj["streams"]:
        if not isinstance(entry, dict):
            raise BadLine("each stream entry must be an object", "每个记录流条目必须是对象")
        _check_keys(entry, ENTRY_KEYS, "a stream entry", "记录流条目")
        if not (isinstance(entry["stream"], str) and isinstance(entry["file"], str) and _is_int(entry["event_count"])):
            raise BadLine("a stream entry has a field of the wrong type", "记录流条目的字段类型不对")
    return obj


def verify_archive(path: Any, *, trusted_heads: Sequence[str] = ()) -> ArchiveReport:
    """Verify every stream of a county-year archive against its manifest; OSError/TarError propagate."""
    heads = normalise_heads(trusted_heads)
    with tarfile.open(path, "r:*") as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}

        def read(name: str) -> bytes:
            handle = tar.extractfile(members[name])
            return handle.read() if handle is not None else b""

        if "manifest.json" not in members:
            return ArchiveReport(False, None, None, None, problems=[_archive_problem(
                "bad_manifest", "the archive has no manifest.json", "归档中没有 manifest.json")])
        raw = read("manifest.json")
        digest = hashlib.sha256(raw).hexdigest()
        stated = read("manifest.sha256").decode("ascii", "replace").split()[:1] if "manifest.sha256" in members else []
        try:
            manifest = _manifest(raw)
        except BadLine as exc:
            return ArchiveReport(False, None, None, digest, problems=[_archive_problem("bad_manifest", exc.message, exc.message_zh)])
        report = ArchiveReport(True, manifest["county"], manifest["year"], digest)
        if stated != [digest]:
            report.problems.append(_archive_problem(
                "manifest_hash_mismatch", f"manifest.sha256 does not hold the manifest's SHA-256 {digest}",
                f"manifest.sha256 与清单的 SHA-256（{digest}）不一致"))
        # The manifest's digest, written down at the export, pins the whole archive like a head.
        found = {digest: TrustedHead(digest, True)} if digest in heads else {}
        for entry in manifest["streams"]:
            verdict = StreamVerdict(entry["stream"], entry["file"], None)
            report.streams.append(verdict)
            if entry["file"] not in members:
                verdict.problems.append(_archive_problem("missing_stream", f"{entry['file']} is not in the archive",
                                                         f"归档中缺少文件 {entry['file']}"))
                continue
            handle = tar.extractfile(members[entry["file"]])
            verdict.report = log = verify_lines(handle or [], trusted_heads=heads)
            # A head may be any stream's: one missing from this stream is not this stream's problem.
            log.problems = [p for p in log.problems if p.code != "trusted_head_missing"]
            log.ok = not log.problems
            found.update((t.hash, t) for t in log.trusted_heads if t.found)
            claims = (log.county, log.stream, log.event_count, log.head_hash)
            if log.ok and claims != (manifest["county"], entry["stream"], entry["event_count"], entry["head_hash"]):
                verdict.problems.append(_archive_problem(
                    "manifest_mismatch", f"the log (county {log.county}, stream {log.stream}, {log.event_count} events, head "
                    f"{_short(log.head_hash)}) is not what the manifest lists ({entry['event_count']} events, head "
                    f"{_short(entry['head_hash'])})", f"日志（{log.event_count} 条事件，末端哈希 {_short(log.head_hash)}）"
                    f"与清单所列（{entry['event_count']} 条，末端哈希 {_short(entry['head_hash'])}）不一致"))
        listed = {"manifest.json", "manifest.sha256", *(entry["file"] for entry in manifest["streams"])}
        for name in sorted(set(members) - listed):
            report.problems.append(_archive_problem("unlisted_file", f"{name} is in the archive but not in its manifest",
                                                    f"{name} 在归档中，但不在清单里"))
    for head in heads:
        report.trusted_heads.append(found.get(head, TrustedHead(head, False)))
        if head not in found:
            report.problems.append(_archive_problem("trusted_head_missing", f"trusted head {head} is in no stream of the archive",
                                                    f"归档的任何记录流中都找不到可信头哈希 {head}"))
    report.ok = not report.problems and all(v.ok for v in report.streams)
    return report


def archive_summary(report: ArchiveReport) -> list[str]:
    """The archive's verdict, then one line per stream (Chinese first)."""
    failed = [v for v in report.streams if not v.ok]
    events = sum(v.report.event_count for v in report.streams if v.report is not None)
    what = f"county {report.county}, year {report.year}: {len(report.streams)} streams, {events} events"
    if report.ok:
        lines = [f"校验通过 / verified: 归档 / archive of {what}"]
    else:
        first = report.problems[0] if report.problems else None
        why = f"{first.message_zh} / {first.message}" if first else f"{len(failed)} 个记录流未通过 / {len(failed)} streams failed"
        lines = [f"校验失败 / FAILED: 归档 / archive of {what}: {why}"]
    lines.append(f"  清单 SHA-256 / manifest sha256: {report.manifest_sha256}")
    for problem in report.problems[1:] if not report.ok and report.problems else []:
        lines.append(f"  另有问题 / also: {problem.message_zh} / {problem.message}")
    for verdict in report.streams:
        log = verdict.report
        if verdict.ok and log is not None:
            recount = f"; 重新计票一致 / recount matches ({log.results_recounted})" if log.results_recounted else ""
            lines.append(f"  [通过 / ok] {verdict.stream}: {log.event_count} events, head {log.head_hash}{recount}")
            continue
        problem = (log.problems[0] if log is not None and log.problems else verdict.problems[0])
        lines.append(f"  [失败 / FAILED] {verdict.stream}{_where(problem)}: {problem.message_zh} / {problem.message}")
    for trusted in report.trusted_heads:
        state = "NOT found" if not trusted.found else "is the manifest's" if trusted.version is None else (
            f"found at version {trusted.version}")
        lines.append(f"  可信头哈希 / trusted head {state}: {trusted.hash}")
    return lines
