"""A county's year in one archive: exported from the database with progress, verified offline stream by stream.

Three closed meetings and a stream of another kind go into the archive; the
verifier checks every chain, each head against the manifest and the recount
of each meeting. A stream tampered with inside the archive is named in the
verdict, whether its chain was left broken or recomputed throughout.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from events.chain import GENESIS_HASH, event_hash
from events.records import NO_STREAM
from events.shuping_verify import verify_archive
from events.store import append
from meetings.events import MeetingScheduled
from tests.unit.meetings.meeting_given import events_until
from tests.unit.test_recount import HASHED

MEETINGS = ("meeting-a", "meeting-b", "meeting-c")
YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year


def _cli(*args: str, database: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ) if database else {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    return subprocess.run([sys.executable, "-m", "shuping.cli", "log", *args], capture_output=True, text=True,
                          env=env, timeout=180, check=False)


@pytest.fixture(scope="module")
def archive(make_county, django_db_blocker, tmp_path_factory):
    county = make_county("year")
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        for stream in MEETINGS:
            append(stream, events_until("closed"), expected_version=NO_STREAM, command_id=uuid.uuid4(), actor="host:李建国")
        append("meeting-d", [MeetingScheduled(meeting_id="d", title="下月的会", township="城关镇", village="西村",
                                              starts_at="2026-12-20T09:00:00+08:00", place="村委会")],
               expected_version=NO_STREAM, command_id=uuid.uuid4())
        connection.close()
    path = tmp_path_factory.mktemp("archive") / f"{county.schema_name}-{YEAR}.tar"
    done = _cli("export", "--county", county.schema_name, "--year", str(YEAR), "-o", str(path), database=True)
    assert done.returncode == 0, done.stderr
    return county, path, done


def test_export_reports_progress_and_writes_every_stream_with_a_hashed_manifest(archive) -> None:
    county, path, done = archive
    progress = [line for line in done.stderr.splitlines() if line.startswith("[")]
    assert [line.split("]")[0] for line in progress] == ["[1/4", "[2/4", "[3/4", "[4/4"]
    assert any("meeting-b: 26 个事件 / events" in line for line in progress)
    with tarfile.open(path) as tar:
        names = sorted(tar.getnames())
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert names == ["manifest.json", "manifest.sha256", *(f"streams/{s}.jsonl" for s in (*MEETINGS, "meeting-d"))]
    assert (manifest["county"], manifest["year"], len(manifest["streams"])) == (county.schema_name, YEAR, 4)
    assert [e["event_count"] for e in manifest["streams"]] == [26, 26, 26, 1]
    digest = verify_archive(path).manifest_sha256
    assert digest in done.stdout  # said at export, to be written down outside the archive


def test_verify_checks_each_stream_its_head_and_its_recount(archive) -> None:
    _county, path, _done = archive
    result = _cli("verify", str(path))
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0].startswith("校验通过 / verified: 归档 / archive of ") and "4 streams, 79 events" in lines[0]
    for stream in MEETINGS:
        assert any(line.startswith(f"  [通过 / ok] {stream}: 26 events") and "recount matches (1)" in line for line in lines)
    assert any(line.startswith("  [通过 / ok] meeting-d: 1 events") for line in lines)
    empty = _cli("export", "--county", _county.schema_name, "--year", str(YEAR - 5), "-o", str(path.with_name("old.tar")), database=True)
    assert empty.returncode == 0 and "0 个记录流" in empty.stdout


def _rewrite(path: Path, out: Path, stream: str, change, *, rechain: bool) -> None:
    """Copy the archive with one stream's lines changed; with `rechain`, every hash and the header recomputed."""
    with tarfile.open(path) as tar, tarfile.open(out, "w") as new:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == f"streams/{stream}.jsonl":
                header, *events = [json.loads(line) for line in data.decode().splitlines()]
                change(events)
                if rechain:
                    prev = GENESIS_HASH
                    for event in events:
                        event["prev_hash"] = prev
                        event["hash"] = prev = event_hash(county=header["county"], **{k: event[k] for k in HASHED})
                    header["head_hash"] = prev
                data = "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in [header, *events]).encode()
                member.size = len(data)
            new.addfile(member, io.BytesIO(data))


def _one_more_cha(events: list[dict]) -> None:
    ballot = next(e for e in events if e["type"] == "BallotCast")
    ballot["data"]["marks"]["wang"]["gongzuo_jixiao"] = "cha"


@pytest.mark.parametrize("rechain", [False, True])
def test_a_tampered_stream_is_reported_by_name(archive, tmp_path, rechain: bool) -> None:
    _county, path, _done = archive
    tampered = tmp_path / "tampered.tar"
    _rewrite(path, tampered, "meeting-b", _one_more_cha, rechain=rechain)
    result = _cli("verify", str(tampered))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert lines[0].startswith("校验失败 / FAILED: 归档 / archive of ")
    [failed] = [line for line in lines if "[失败 / FAILED]" in line]
    assert failed.startswith("  [失败 / FAILED] meeting-b")
    # A broken chain says where; a recomputed one differs from the manifest's head (and its recount from the results).
    if rechain:
        assert "述评对象 王建国（wang）" in failed and "公布为" in failed
    else:
        assert "该事件内容被改动" in failed
    assert sum("[通过 / ok]" in line for line in lines) == 3
    report = verify_archive(tampered)
    assert [v.stream for v in report.streams if not v.ok] == ["meeting-b"]


def test_a_stream_rewritten_with_a_consistent_recount_still_differs_from_the_manifest(archive, tmp_path) -> None:
    _county, path, _done = archive
    tampered = tmp_path / "rewritten.tar"
    _rewrite(path, tampered, "meeting-d", lambda events: events[0]["data"].update(title="改过的会"), rechain=True)
    report = verify_archive(tampered)
    [bad] = [v for v in report.streams if not v.ok]
    assert bad.stream == "meeting-d" and bad.problems[0].code == "manifest_mismatch"
    result = _cli("verify", str(tampered))
    assert result.returncode == 1 and "[失败 / FAILED] meeting-d: 日志（1 条事件" in result.stdout


def test_the_manifest_digest_written_down_at_the_export_pins_the_archive(archive, tmp_path) -> None:
    _county, path, _done = archive
    digest = verify_archive(path).manifest_sha256
    assert digest is not None
    assert verify_archive(path, trusted_heads=[digest]).ok
    assert _cli("verify", str(path), "--head", digest).returncode == 0
    missing = verify_archive(path, trusted_heads=["0" * 64])
    assert not missing.ok and missing.problems[0].code == "trusted_head_missing"
    edited = tmp_path / "edited.tar"  # the manifest changed, its digest file not
    with tarfile.open(path) as tar, tarfile.open(edited, "w") as new:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "manifest.json":
                data = data.replace(b'"year": ', b'"year": 1')
                member.size = len(data)
            new.addfile(member, io.BytesIO(data))
    report = verify_archive(edited)
    assert not report.ok and report.problems[0].code == "manifest_hash_mismatch"
