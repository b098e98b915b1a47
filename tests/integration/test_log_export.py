"""Export a meeting's log from the database and verify it offline, as an auditor would.

Includes the attack that database rights cannot stop: the table owner turns
the immutability trigger off and rewrites history. The chain catches a naive
edit; a consistent rewrite of the whole chain is caught by the head hash that
was published outside the platform.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from events.chain import GENESIS_HASH, event_hash
from events.export import export_stream_to_file
from events.reading import stream_head
from events.records import NO_STREAM
from events.shuping_verify.canonical import LogEvent, parse_event, parse_json_line
from events.shuping_verify.spelling import canonical_string, read_event
from events.store import append
from events.verify import verify_file
from meetings.events import AttendeeCheckedIn, BallotCast, MeetingScheduled, QuestionAsked


def _verify_cli(path: Path, *heads: str) -> subprocess.CompletedProcess[str]:
    # No database and no Django settings: what an auditor's laptop has.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    args = [sys.executable, "-m", "shuping.cli", "log", "verify", str(path)]
    for head in heads:
        args += ["--head", head]
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)


@pytest.fixture(scope="module")
def meeting(make_county, django_db_blocker):
    county = make_county("audit")
    stream = "meeting-2026-dongguan"
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        append(stream, [MeetingScheduled(meeting_id="m1", title="东关村述职评议大会", township="城关镇", village="东关村",
                                         starts_at="2026-12-01T09:00:00+08:00", place="村委会会议室")],
               expected_version=NO_STREAM, command_id=uuid.uuid4(), actor="host:李建国")
        for n in range(30):
            append(stream, [AttendeeCheckedIn(attendee_id=f"pm{n}", name=f"党员{n}号", category="party_member")],
                   expected_version=n + 1, command_id=uuid.uuid4())
        append(stream, [QuestionAsked(question_id="q1", text="村集体经济收入\n去年是多少？\"请公开\"", subject="村委会", asked_by=None)],
               expected_version=31, command_id=uuid.uuid4())
        append(stream, [BallotCast(code_hash=f"{i:064x}", marks={"s1": {"c1": "good"}}) for i in range(20)],
               expected_version=32, command_id=uuid.uuid4())
        published_head = stream_head(stream)[1]  # what the public notice printed
        connection.close()
    return county, stream, published_head


def test_export_then_verify_offline_with_the_published_head(meeting, django_db_blocker, tmp_path) -> None:
    county, stream, head = meeting
    out = tmp_path / "log.jsonl"
    cli = subprocess.run(
        [sys.executable, "-m", "shuping.cli", "log", "export", "--county", county.schema_name, "--stream", stream, "-o", str(out)],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )
    assert cli.returncode == 0, cli.stderr
    assert "已导出 52 个事件" in cli.stdout and head in cli.stdout
    header = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert header["event_count"] == 52 and header["head_hash"] == head and header["county"] == county.schema_name
    report = verify_file(out, trusted_heads=[head])
    assert report.ok and report.event_count == 52
    # Every line is in the spelling the verifier reads quickly, and read as the strict path reads it.
    for raw in out.read_bytes().splitlines()[1:]:
        quick = read_event(raw, canonical_string(header["county"]), False)
        assert quick is not None and repr(LogEvent(*quick)) == repr(parse_event(parse_json_line(raw), header["county"])), raw
    result = _verify_cli(out, head)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "校验通过" in result.stdout


def test_unknown_stream_or_county_is_a_clear_error(meeting) -> None:
    county, _stream, _head = meeting
    env = dict(os.environ)
    missing = subprocess.run(
        [sys.executable, "-m", "shuping.cli", "log", "export", "--county", county.schema_name, "--stream", "nope"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert missing.returncode == 2 and "unknown_stream" in missing.stderr
    nocounty = subprocess.run(
        [sys.executable, "-m", "shuping.cli", "log", "export", "--county", "no_such_county", "--stream", "x"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert nocounty.returncode != 0 and "unknown_county" in nocounty.stderr


def _owner_rewrites(county: str, stream: str, sql: str, params: list[object]) -> None:
    """What the table owner can do despite the trigger: switch it off and edit."""
    with connection.cursor() as cursor:
        cursor.execute(f'SET search_path TO "{county}"')
        cursor.execute("ALTER TABLE events DISABLE TRIGGER events_no_update_or_delete")
        cursor.execute(sql, params)
        cursor.execute("ALTER TABLE events ENABLE TRIGGER events_no_update_or_delete")


def test_owner_editing_a_ballot_in_the_database_is_caught(make_county, django_db_blocker, tmp_path) -> None:
    county = make_county("tamper")
    stream = "meeting-t"
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        append(stream, [BallotCast(code_hash=f"{i:064x}", marks={"s1": {"c1": "poor"}}) for i in range(10)],
               expected_version=NO_STREAM, command_id=uuid.uuid4())
        _owner_rewrites(county.schema_name, stream,
                        """UPDATE events SET data = jsonb_set(data, '{marks,s1,c1}', '"good"')
                           WHERE stream_id = %s AND stream_version = 4""", [stream])
        out = tmp_path / "tampered.jsonl"
        export_stream_to_file(stream, out)
        connection.close()
    report = verify_file(out)
    assert not report.ok
    assert report.first_problem.version == 4 and report.first_problem.code == "hash_mismatch"
    result = _verify_cli(out)
    assert result.returncode == 1 and "校验失败" in result.stdout


def test_consistent_rewrite_of_the_whole_chain_is_caught_by_the_published_head(make_county, django_db_blocker, tmp_path) -> None:
    county = make_county("rewrite")
    stream = "meeting-r"
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        append(stream, [BallotCast(code_hash=f"{i:064x}", marks={"s1": {"c1": "poor"}}) for i in range(6)],
               expected_version=NO_STREAM, command_id=uuid.uuid4())
        published = stream_head(stream)[1]
        # The owner flips every grade and recomputes every hash and the head.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT stream_version, type, schema_version, data::text, metadata::text, recorded_at FROM events"
                " WHERE stream_id = %s ORDER BY stream_version", [stream])
            rows = cursor.fetchall()
        from events.chain import format_recorded_at

        prev = GENESIS_HASH
        for version, type_name, schema_version, data, metadata, recorded_at in rows:
            forged = json.loads(data)
            forged["marks"]["s1"]["c1"] = "good"
            digest = event_hash(county=county.schema_name, stream=stream, version=version, type=type_name,
                                schema_version=schema_version, data=forged, metadata=json.loads(metadata),
                                recorded_at=format_recorded_at(recorded_at), prev_hash=prev)
            _owner_rewrites(county.schema_name, stream,
                            "UPDATE events SET data = %s::jsonb, prev_hash = %s, hash = %s WHERE stream_id = %s AND stream_version = %s",
                            [json.dumps(forged), prev, digest, stream, version])
            prev = digest
        with connection.cursor() as cursor:
            cursor.execute("UPDATE event_streams SET head_hash = %s WHERE stream_id = %s", [prev, stream])
        out = tmp_path / "rewritten.jsonl"
        export_stream_to_file(stream, out)
        connection.close()
    assert verify_file(out).ok, "a consistent rewrite passes the chain checks on its own"
    with_head = verify_file(out, trusted_heads=[published])
    assert not with_head.ok and with_head.first_problem.code == "trusted_head_missing"
    result = _verify_cli(out, published)
    assert result.returncode == 1
