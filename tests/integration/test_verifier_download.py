"""The verifier leaves the platform: anyone downloads it, and it recounts what the database exported.

The attack is the one database rights cannot stop: the table owner turns the
immutability trigger off, changes an announced figure and recomputes every
hash and the stream's head. The chain is then consistent; the recount is not.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid

from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from events import shuping_verify_build
from events.chain import GENESIS_HASH, event_hash, format_recorded_at
from events.export import export_stream_to_file
from events.records import NO_STREAM
from events.store import append
from tests.conftest import host_of
from tests.unit.meetings.meeting_given import events_until


def test_anyone_downloads_the_verifier_without_logging_in(county_a, django_db_blocker) -> None:
    for host in (host_of(county_a), "localhost"):
        with django_db_blocker.unblock():
            response = Client(HTTP_HOST=host).get("/shuping-verify.pyz")
            refused = Client(HTTP_HOST=host).post("/shuping-verify.pyz")
            old_link = Client(HTTP_HOST=host).get("/shuping-verify.py", follow=True)
        assert response.status_code == 200, host
        # What is served is what a build from the repository gives, byte for byte.
        assert response.content == shuping_verify_build.build()
        assert response["Content-Disposition"] == 'attachment; filename="shuping-verify.pyz"'
        assert response["X-Content-SHA256"] == hashlib.sha256(response.content).hexdigest()
        assert refused.status_code == 405
        # Notices printed before the zipapp name the .py link: it leads to the same download.
        assert old_link.redirect_chain == [("/shuping-verify.pyz", 301)]
        assert old_link.content == response.content


def _rewrite_results(county: str, stream: str) -> None:
    """As the table's owner: one more 差 for 王建国, every hash after it recomputed, the head too."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT stream_version, type, schema_version, data::text, metadata::text, recorded_at FROM events"
            " WHERE stream_id = %s ORDER BY stream_version", [stream])
        rows = cursor.fetchall()
        cursor.execute("ALTER TABLE events DISABLE TRIGGER events_no_update_or_delete")
        prev = GENESIS_HASH
        for version, type_name, schema_version, data, metadata, recorded_at in rows:
            data = json.loads(data)
            if type_name == "ResultsAnnounced":
                [wang] = [s for s in data["subjects"] if s["subject_id"] == "wang"]
                wang["counts"]["gongzuo_jixiao"]["hao"] -= 1
                wang["counts"]["gongzuo_jixiao"]["cha"] += 1
            digest = event_hash(county=county, stream=stream, version=version, type=type_name, schema_version=schema_version,
                                data=data, metadata=json.loads(metadata), recorded_at=format_recorded_at(recorded_at), prev_hash=prev)
            cursor.execute("UPDATE events SET data = %s::jsonb, prev_hash = %s, hash = %s WHERE stream_id = %s AND stream_version = %s",
                           [json.dumps(data, ensure_ascii=False), prev, digest, stream, version])
            prev = digest
        cursor.execute("ALTER TABLE events ENABLE TRIGGER events_no_update_or_delete")
        cursor.execute("UPDATE event_streams SET head_hash = %s WHERE stream_id = %s", [prev, stream])


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    return subprocess.run(args, capture_output=True, text=True, encoding="utf-8", env=env, timeout=120, check=False)


def test_the_downloaded_program_recounts_a_meeting_the_database_exported(make_county, django_db_blocker, tmp_path) -> None:
    county = make_county("recount")
    stream = "meeting-recount"
    program = tmp_path / "shuping-verify.pyz"
    honest, rewritten = tmp_path / "honest.jsonl", tmp_path / "rewritten.jsonl"
    with django_db_blocker.unblock():
        program.write_bytes(Client(HTTP_HOST=host_of(county)).get("/shuping-verify.pyz").content)
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        append(stream, events_until("closed"), expected_version=NO_STREAM, command_id=uuid.uuid4(), actor="host:李建国")
        export_stream_to_file(stream, honest)
        _rewrite_results(county.schema_name, stream)
        export_stream_to_file(stream, rewritten)
        connection.close()

    alone = _run([sys.executable, "-I", "-S", str(program), str(honest)])
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert "重新计票与公布结果一致 / recount matches the announced results (1)" in alone.stdout
    assert "会议已于第 26 版结束 / the meeting closed at version 26" in alone.stdout

    alone = _run([sys.executable, "-I", "-S", str(program), str(rewritten)])
    assert alone.returncode == 1
    first = alone.stdout.splitlines()[0]
    assert first.startswith("校验失败 / FAILED at line 26 ") and "recount_mismatch" not in first
    assert "述评对象 王建国（wang）：counts.gongzuo_jixiao.cha" in first
    assert "subject 王建国 (wang): counts.gongzuo_jixiao.cha: announced 1, recounted 0" in first
    platform = _run([sys.executable, "-m", "shuping.cli", "log", "verify", str(rewritten)])
    assert (platform.returncode, platform.stdout) == (alone.returncode, alone.stdout)
