"""A county exported from one PostgreSQL and imported into a fresh one reads and verifies the same.

The source county holds a closed meeting (ballots cast, results announced and
the meeting closed) and a rectification item, both made through the doors.
`shuping county export` writes it to one file; a second embedded PostgreSQL
cluster (a fresh instance: its own initdb, its own public schema and
template, migrated by the import) takes it with `shuping county import
--slug`. There every log passes `shuping log verify`, the heads are the
manifest's, and every table of the county holds the same rows as at the
source (the figures its pages and API read), except the API tokens and
sessions: they are bearer credentials, so the file carries none of them and
they come back empty. Bad files and taken names are refused with their code
and leave the instance as it was.
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
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django_tenants.utils import schema_context

from accounts.api_tokens import issue_token
from accounts.roles import Actor
from followup.actions import ledger as ledger_doors
from tenants.backup import SECRET_TABLES
from tests.integration.followup.closed_meeting import closed_meeting

ADMIN = Actor("zuzhibu", "county_admin")
YEAR = datetime.now(ZoneInfo("Asia/Shanghai")).year


def _cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("SHUPING_APP_DB_ROLE", "SHUPING_TEST_PG_HOME")}
    env["DATABASE_URL"] = url
    return subprocess.run([sys.executable, "-m", "shuping.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600, check=False)


def _fingerprint(url: str, schema: str) -> dict[str, tuple[int, str]]:
    """Row count and digest of every table of the schema."""
    with psycopg.connect(url) as conn:
        conn.execute("SET TimeZone = 'UTC'")  # timestamps as text, the same whatever the cluster's default
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", [schema]).fetchall()]
        out = {}
        for table in tables:
            row = conn.execute(
                f'SELECT count(*), coalesce(md5(string_agg(t::text, chr(10) ORDER BY t::text)), \'\') '  # type: ignore[arg-type]
                f'FROM "{schema}"."{table}" t').fetchone()
            out[table] = (int(row[0]), str(row[1]))  # type: ignore[index]
        return out


def _state(url: str) -> tuple[list[str], list[str], list[str]]:
    """What an import could change: schemas, county rows, host names."""
    with psycopg.connect(url) as conn:
        schemas = [r[0] for r in conn.execute("SELECT nspname FROM pg_namespace ORDER BY 1").fetchall()]
        counties = [r[0] for r in conn.execute("SELECT schema_name FROM public.tenants_county ORDER BY 1").fetchall()]
        domains = [r[0] for r in conn.execute("SELECT domain FROM public.tenants_domain ORDER BY 1").fetchall()]
    return schemas, counties, domains


@pytest.fixture(scope="module")
def source(make_county, django_db_blocker, tmp_path_factory) -> dict[str, Any]:
    county = make_county("bk")
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        meeting = closed_meeting()
        item = ledger_doors.check_raise_ledger_item(
            actor=ADMIN, meeting_id=meeting, source_kind="low_grade", source_ref="shuji",
            problem="村道年久失修，群众出行不便", note="", command_id=str(uuid.uuid4()))
        official = get_user_model().objects.create_user("bk_clerk", password="bk-Clerk-2026-pass")
        token = issue_token(official).key
        session = SessionStore()
        session["_auth_user_id"] = str(official.pk)
        session.create()
        connection.close()
    path = tmp_path_factory.mktemp("backup") / f"{county.schema_name}.tar"
    done = _cli("county", "export", county.schema_name, "-o", str(path), url=os.environ["DATABASE_URL"])
    assert done.returncode == 0, done.stderr
    with tarfile.open(path) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    return {"county": county, "meeting": meeting, "item": item, "path": path, "manifest": manifest, "export": done,
            "secrets": {"accounts_apitoken": token, "django_session": session.session_key}}


@pytest.fixture(scope="module")
def target(tmp_path_factory) -> Any:
    """A second PostgreSQL cluster, started empty: a fresh instance."""
    from shuping.embedded_pg import EmbeddedPostgres

    server = EmbeddedPostgres(tmp_path_factory.mktemp("fresh-pg"), throwaway=True)
    url = server.start(log=False)
    try:
        yield url
    finally:
        server.destroy()


@pytest.fixture(scope="module")
def imported(source, target) -> dict[str, Any]:
    done = _cli("county", "import", str(source["path"]), "--domain", "huifu.testserver", url=target)
    assert done.returncode == 0, done.stdout + done.stderr
    return {"done": done, "slug": source["county"].schema_name}


def test_the_manifest_names_the_county_its_state_and_every_head(source) -> None:
    manifest, county = source["manifest"], source["county"]
    assert (manifest["format"], manifest["county"], manifest["name"]) == ("shuping-county-backup", county.schema_name,
                                                                          county.name)
    assert manifest["schema_state"] == county.schema_state and manifest["migrations"]
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        rows = conn.execute(f'SELECT stream_id, version, head_hash FROM "{county.schema_name}".event_streams').fetchall()  # type: ignore[arg-type]
    heads = {s: {"version": v, "head_hash": h} for s, v, h in rows}
    assert manifest["heads"] == heads
    assert f"meeting-{source['meeting']}" in heads or any(source["meeting"] in s for s in heads)
    assert any(source["item"] in s for s in heads)


def test_import_into_a_fresh_instance_verifies_every_stream(source, imported) -> None:
    out, err = imported["done"].stdout, imported["done"].stderr
    streams = len(source["manifest"]["heads"])
    assert f"{streams} 个记录流" in out and "校验通过" in out
    assert err.count("通过 / verified") == streams and "FAILED" not in err


def test_shuping_log_verify_passes_for_every_log_on_the_target(source, target, imported, tmp_path) -> None:
    archive = tmp_path / "year.tar"
    done = _cli("log", "export", "--county", imported["slug"], "--year", str(YEAR), "-o", str(archive), url=target)
    assert done.returncode == 0, done.stderr
    with tarfile.open(archive) as tar:
        listed = json.loads(tar.extractfile("manifest.json").read())["streams"]  # type: ignore[union-attr]
    assert {e["stream"]: e["head_hash"] for e in listed} == {
        s: h["head_hash"] for s, h in source["manifest"]["heads"].items()}
    verdict = _cli("log", "verify", str(archive), url=target)
    assert verdict.returncode == 0, verdict.stdout
    assert verdict.stdout.startswith("校验通过 / verified")


def test_every_table_reads_the_same_on_the_target(source, target, imported) -> None:
    before = _fingerprint(os.environ["DATABASE_URL"], source["county"].schema_name)
    after = _fingerprint(target, imported["slug"])
    assert all(before[t][0] >= 1 and after[t] == (0, "") for t in SECRET_TABLES)
    assert {t: v for t, v in after.items() if t not in SECRET_TABLES} == {
        t: v for t, v in before.items() if t not in SECRET_TABLES}
    results = [t for t in before if "result" in t or "board" in t]
    assert results and all(before[t][0] > 0 for t in results)  # the results' rows themselves were compared


def test_the_file_carries_no_api_token_and_no_session(source) -> None:
    """A lost backup file must not let anyone act as an official: no bearer credential is in it."""
    with tarfile.open(source["path"]) as tar:
        dump = tar.extractfile("schema.dump").read()  # type: ignore[union-attr]
    restored = subprocess.run([_pg_tool("pg_restore"), "--data-only", "--file=-"], input=dump, capture_output=True,
                              check=True).stdout
    assert b"COPY" in restored and source["item"].encode() in restored  # the data is there and readable
    for table, secret in source["secrets"].items():
        assert secret and secret.encode() not in dump and secret.encode() not in restored, table


def _pg_tool(name: str) -> str:
    """The client tool beside the pg_dump the settings name (as tenants.template_ddl.run_pg_tool finds it)."""
    from django.conf import settings

    dump = str(settings.PG_DUMP)
    return str(Path(dump).with_name(name)) if os.sep in dump else name


def _tampered(source, tmp_path: Path, *, dump: bytes | None = None, manifest: dict[str, Any] | None = None) -> Path:
    path = tmp_path / "bad.tar"
    with tarfile.open(source["path"]) as tar_in, tarfile.open(path, "w") as tar_out:
        for member in tar_in.getmembers():
            data = tar_in.extractfile(member).read()  # type: ignore[union-attr]
            if member.name == "schema.dump" and dump is not None:
                data = dump(data) if callable(dump) else dump
            if member.name == "manifest.json" and manifest is not None:
                data = json.dumps(manifest).encode()
            member.size = len(data)
            tar_out.addfile(member, io.BytesIO(data))
    return path


def _flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1:]


@pytest.mark.parametrize("case", ["tampered", "not_an_archive", "slug_exists", "renamed", "newer_schema",
                                  "domain_taken", "bad_host", "malformed", "bad_head", "public"])
def test_bad_imports_are_refused_and_change_nothing(case, source, target, imported, tmp_path) -> None:
    # Under another slug, so that only the fault named is in the way (the source's slug is taken by now).
    other = {**source["manifest"], "county": "bk_other"}
    code, path, extra = {
        "tampered": ("backup_tampered", lambda: _tampered(source, tmp_path, dump=_flip, manifest=other), []),
        "not_an_archive": ("not_a_backup", lambda: _text(tmp_path), []),
        "slug_exists": ("county_exists", lambda: source["path"], ["--domain", "x.testserver"]),
        # The slug is part of every event's hash: renamed, the log would no longer verify.
        "renamed": ("slug_bound_to_log", lambda: source["path"], ["--slug", "other", "--domain", "x.testserver"]),
        "newer_schema": ("backup_schema_newer", lambda: _tampered(source, tmp_path, manifest={
            **other, "migrations": [*other["migrations"], ["meetings", "9999_future"]]}), ["--domain", "o.testserver"]),
        "domain_taken": ("domain_taken", lambda: _tampered(source, tmp_path, manifest=other),
                         ["--domain", "huifu.testserver"]),
        "bad_host": ("invalid_domain", lambda: _tampered(source, tmp_path, manifest=other), ["--domain", "a b/c"]),
        "malformed": ("not_a_backup", lambda: _tampered(source, tmp_path, manifest={**other, "heads": [], "parts": 1}), []),
        "bad_head": ("not_a_backup", lambda: _tampered(source, tmp_path, manifest={**other, "heads": {"s": 1}}), []),
        "public": ("not_a_backup", lambda: _tampered(source, tmp_path, manifest={**other, "county": "public"}), []),
    }[case]
    before = _state(target)
    done = _cli("county", "import", str(path()), *extra, url=target)
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"错误 [{code}]" in done.stderr
    assert _state(target) == before


def _text(tmp_path: Path) -> Path:
    path = tmp_path / "notes.txt"
    path.write_text("这不是备份 / not a backup\n")
    return path


def test_backup_all_dumps_each_county_once_and_again_only_when_its_log_moved(source, make_county, django_db_blocker,
                                                                             tmp_path) -> None:
    quiet = make_county("bq")
    folder = tmp_path / "all"
    url = os.environ["DATABASE_URL"]
    first = _cli("backup", "all", str(folder), url=url)
    assert first.returncode == 0, first.stderr
    slugs = {source["county"].schema_name, quiet.schema_name}
    assert slugs <= {p.stem for p in folder.glob("*.tar")} and (folder / "public.dump").stat().st_size > 0
    again = _cli("backup", "all", str(folder), url=url)
    assert "0 个县区已导出" in again.stdout, again.stdout  # resumed: nothing moved, nothing dumped
    with django_db_blocker.unblock(), schema_context(quiet.schema_name):
        closed_meeting(village="李庄村", close=False)
        connection.close()
    third = _cli("backup", "all", str(folder), url=url)
    assert "1 个县区已导出" in third.stdout, third.stdout
    assert f"{quiet.schema_name}: 已导出 / dumped" in third.stderr
    with tarfile.open(folder / f"{quiet.schema_name}.tar") as tar:
        heads = json.loads(tar.extractfile("manifest.json").read())["heads"]  # type: ignore[union-attr]
    assert len(heads) >= 2  # the new round and meeting are in the file now


def test_a_log_altered_at_the_source_fails_the_import_which_changes_nothing(make_county, django_db_blocker, target,
                                                                            imported, tmp_path) -> None:
    from tests.pg_admin import superuser_url

    county = make_county("bt")
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        closed_meeting(village="王庄村")
        connection.close()
    admin = superuser_url()
    with psycopg.connect(admin) as conn:  # what a bad disk or a hand in the database would do
        conn.execute(f'ALTER TABLE "{county.schema_name}".events DISABLE TRIGGER events_no_update_or_delete')  # type: ignore[arg-type]
        conn.execute(f"""UPDATE "{county.schema_name}".events SET data = jsonb_set(data, '{{place}}', '"别处"')"""  # type: ignore[arg-type]
                     " WHERE type = 'MeetingScheduled'")
        conn.execute(f'ALTER TABLE "{county.schema_name}".events ENABLE TRIGGER events_no_update_or_delete')  # type: ignore[arg-type]
    path = tmp_path / "altered.tar"
    assert _cli("county", "export", county.schema_name, "-o", str(path), url=os.environ["DATABASE_URL"]).returncode == 0
    before = _state(target)
    done = _cli("county", "import", str(path), url=target)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "错误 [imported_log_failed]" in done.stderr and "失败 / FAILED" in done.stderr
    assert _state(target) == before


def test_an_empty_county_behind_the_instance_is_renamed_and_brought_to_its_state(make_county, target, imported,
                                                                                 tmp_path) -> None:
    county = make_county("be")
    path = tmp_path / "empty.tar"
    assert _cli("county", "export", county.schema_name, "-o", str(path), url=os.environ["DATABASE_URL"]).returncode == 0
    with tarfile.open(path) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest["heads"] == {}
    old = _tampered({"path": path}, tmp_path, manifest={**manifest, "schema_state": "0" * 64})
    done = _cli("county", "import", str(old), "--slug", "xinming", "--domain", "xinming.testserver", url=target)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "migrating xinming" in done.stderr
    schemas, counties, domains = _state(target)
    assert "xinming" in schemas and county.schema_name not in schemas and "xinming" in counties
    with psycopg.connect(target) as conn:
        states = conn.execute("SELECT schema_state FROM public.tenants_county WHERE schema_name IN ('xinming', %s)",
                              [imported["slug"]]).fetchall()
    assert len({row[0] for row in states}) == 1  # the same state as the county imported at the instance's state
