"""One county in one file, and back: `shuping county export` / `shuping county import`, `shuping backup all`.

The file is a plain tar holding `schema.dump` (pg_dump --format=custom of the
county's schema, accounts included: they live in the county's schema) and
`manifest.json`: the format version, the county's public-schema
rows (name, host names, schema state and the migrations behind that state),
the head of every stream of its event log, and the SHA-256 of the dump. The
heads are read in the very snapshot pg_dump dumps (pg_export_snapshot), so
the manifest describes the dump exactly. The dump holds no live credential:
the rows of the county's API tokens and sessions are left out (their tables
come back empty, SECRET_TABLES), so a lost backup file lets no one act as an
official; after a restore everyone signs in again. Password hashes stay:
without them no one could.

An import refuses, before changing anything, a file that is not such an
archive, a dump whose digest is not the manifest's, a slug or host name that
is taken, and a schema the instance cannot bring to its own state (a dump
with migrations this code does not have). It then restores the schema with
pg_restore (renamed to a new slug only if its log is empty: the slug is
part of every event's hash, so a county with events keeps its slug), registers County and Domain, migrates
it if it is behind, and checks every stream's chain and head against the
manifest with the offline verifier. If any log fails, the county is removed
again and the import fails.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
from django.core.exceptions import ValidationError
from django_tenants.utils import schema_context

from common.refusal import Refusal
from events.grants import app_role, grant_statements
from tenants import migrating, provisioning, template_ddl
from tenants.models import County, Domain, validate_county_slug

FORMAT = "shuping-county-backup"
FORMAT_VERSION = 1
DUMP = "schema.dump"
MANIFEST = "manifest.json"

Say = Callable[[str], None]

# Tables whose rows are bearer credentials: dumped empty (definition kept, rows left out).
SECRET_TABLES = ("accounts_apitoken", "django_session")


def _secret_rows_left_out(schema: str) -> list[str]:
    return [f"--exclude-table-data={schema}.{table}" for table in SECRET_TABLES]


def _quiet(_line: str) -> None:
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def heads_digest(heads: dict[str, dict[str, Any]]) -> str:
    """One digest of every stream's head: equal digests, equal logs (what `backup all` compares)."""
    text = "\n".join(f"{stream} {h['version']} {h['head_hash']}" for stream, h in sorted(heads.items()))
    return hashlib.sha256(text.encode()).hexdigest()


def _heads(own: psycopg.Connection[tuple[object, ...]], slug: str) -> dict[str, dict[str, Any]]:
    """Every stream's version and head hash in the county `slug`, as `own` sees them (its snapshot)."""
    rows = own.execute(f'SELECT stream_id, version, head_hash FROM "{slug}".event_streams'.encode()).fetchall()
    return {str(s): {"version": int(str(v)), "head_hash": str(h)} for s, v, h in rows}


def current_heads(slug: str) -> dict[str, dict[str, Any]]:
    with template_ddl.own_connection() as own:
        return _heads(own, slug)


# -- export ----------------------------------------------------------------------------------


def export_county(slug: str, path: Path, *, say: Say = _quiet) -> dict[str, Any]:
    """Write the county `slug` to `path` (a tar file); return its manifest."""
    county = _county(slug)
    partial = path.with_name(path.name + ".partial")
    try:
        with tempfile.TemporaryDirectory(prefix="shuping-backup-") as work:
            dump = Path(work) / DUMP
            with template_ddl.own_connection() as own:
                own.execute(b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                snapshot = str(own.execute(b"SELECT pg_export_snapshot()").fetchone()[0])  # type: ignore[index]
                heads = _heads(own, slug)
                migrations = own.execute(f'SELECT app, name FROM "{slug}".django_migrations ORDER BY id'.encode()).fetchall()
                say(f"正在导出 {slug}：{len(heads)} 个记录流 / dumping {slug}: {len(heads)} streams")
                done = template_ddl.run_pg_tool("pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--snapshot={snapshot}",
                           f"--schema={slug}", *_secret_rows_left_out(slug), f"--file={dump}")
            if done.returncode != 0:
                raise Refusal(f"pg_dump 失败：{done.stderr.strip()}", "pg_dump failed", code="dump_failed", http_status=500)
            manifest = {
                "format": FORMAT, "format_version": FORMAT_VERSION, "county": slug, "name": county.name,
                "domains": sorted(d.domain for d in county.domains.all()), "schema_state": county.schema_state,
                "migrations": [[str(app), str(name)] for app, name in migrations],
                "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "heads": heads, "heads_sha256": heads_digest(heads),
                "parts": {DUMP: {"sha256": _sha256(dump), "bytes": dump.stat().st_size}},
            }
            raw = (json.dumps(manifest, ensure_ascii=False, indent=1) + "\n").encode()
            with tarfile.open(partial, "w") as tar:
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(raw), int(datetime.now(UTC).timestamp()), 0o644
                tar.addfile(info, io.BytesIO(raw))
                tar.add(dump, arcname=DUMP)
    except BaseException:
        partial.unlink(missing_ok=True)  # never a half file that looks whole
        raise
    os.replace(partial, path)
    say(f"已写入 {path}（{path.stat().st_size} 字节） / wrote {path} ({path.stat().st_size} bytes)")
    return manifest


def _county(slug: str) -> County:
    county = County.objects.filter(schema_name=slug).exclude(schema_name=provisioning.PUBLIC).first()
    if county is None:
        raise Refusal(f"没有县区 {slug}", f"no county {slug}", code="unknown_county", http_status=404)
    return county


# -- import ----------------------------------------------------------------------------------


def read_manifest(path: Path) -> dict[str, Any]:
    """The archive's manifest, after checking it is one of ours (no change to anything)."""
    try:
        with tarfile.open(path) as tar:
            member = tar.getmember(MANIFEST)
            handle = tar.extractfile(member)
            manifest = json.loads(handle.read()) if handle is not None else None
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise Refusal("文件不是述评县区备份", f"not a Shuping county backup: {exc}", code="not_a_backup") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Refusal("文件不是述评县区备份", "not a Shuping county backup", code="not_a_backup")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise Refusal(f"不支持的备份格式版本 {manifest.get('format_version')}", "unsupported backup format version",
                      code="unsupported_backup_version")
    shapes = {"county": str, "name": str, "schema_state": str, "domains": list, "migrations": list, "heads": dict,
              "parts": dict}
    wrong = sorted(key for key, kind in shapes.items() if not isinstance(manifest.get(key), kind))
    pairs: list[Any] = manifest["migrations"] if isinstance(manifest.get("migrations"), list) else []
    heads = manifest["heads"] if isinstance(manifest.get("heads"), dict) else {}
    if wrong or not all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in pairs) \
            or not all(isinstance(h, dict) and isinstance(h.get("version"), int) and isinstance(h.get("head_hash"), str)
                       for h in heads.values()):
        raise Refusal(f"备份清单不完整或格式不对：{', '.join(wrong) or 'migrations'}", "the backup's manifest is malformed",
                      code="not_a_backup")
    try:
        validate_county_slug(manifest["county"])
    except ValidationError as exc:
        raise Refusal("备份清单中的县区代码无效", "the backup names an invalid county slug", code="not_a_backup") from exc
    return manifest


def _extract_dump(path: Path, manifest: dict[str, Any], into: Path) -> Path:
    dump = into / DUMP
    with tarfile.open(path) as tar:
        try:
            source = tar.extractfile(tar.getmember(DUMP))
        except KeyError as exc:
            raise Refusal("备份缺少数据部分", "the backup has no schema dump", code="not_a_backup") from exc
        if source is None:
            raise Refusal("备份缺少数据部分", "the backup has no schema dump", code="not_a_backup")
        with dump.open("wb") as out:
            for block in iter(lambda: source.read(1 << 20), b""):
                out.write(block)
    part = manifest["parts"].get(DUMP)
    if not isinstance(part, dict) or _sha256(dump) != part.get("sha256"):
        raise Refusal("备份已被改动：数据部分的 SHA-256 与清单不符", "the backup was altered: the dump's sha256 differs",
                      code="backup_tampered")
    return dump


def _check_target(manifest: dict[str, Any], slug: str, hosts: list[str]) -> None:
    try:
        validate_county_slug(slug)
    except ValidationError as exc:
        raise Refusal(exc.messages[0], "invalid county slug", code="invalid_county_slug") from exc
    source = str(manifest.get("county", ""))
    if slug != source and manifest.get("heads"):
        raise Refusal(f"县区代码 {source} 写入了其每个事件的哈希，改名导入后日志将无法校验；请以原代码 {source} 导入",
                      f"the slug {source} is hashed into every event of its log: import it as {source}, not {slug}",
                      code="slug_bound_to_log", http_status=409)
    taken = [name for name in {slug, source} if County.objects.filter(schema_name=name).exists()
             or provisioning.schema_exists(name)]
    if slug in taken:
        raise Refusal(f"县区代码 {slug} 已存在", f"county {slug} exists already", code="county_exists", http_status=409)
    if taken:
        raise Refusal(f"本实例已有模式 {source}，恢复时需用它暂存", f"schema {source} exists here; the restore needs it",
                      code="source_schema_taken", http_status=409)
    bad = [host for host in hosts if not provisioning.HOST_RE.match(host)]
    if not hosts or bad:
        raise Refusal(f"需要至少一个有效域名：{', '.join(bad)}", f"at least one valid host name is needed: {', '.join(bad)}",
                      code="invalid_domain")
    used = list(Domain.objects.filter(domain__in=hosts).values_list("domain", flat=True))
    if used:
        raise Refusal(f"域名已被使用：{', '.join(used)}", f"host name already in use: {', '.join(used)}",
                      code="domain_taken", http_status=409)
    unknown = {tuple(pair) for pair in manifest.get("migrations", [])} - provisioning.migrations_on_disk()
    if unknown:
        first = ".".join(sorted(unknown)[0])
        raise Refusal(f"备份的数据库结构比本实例新（如 {first}），请先升级本实例",
                      f"the backup's schema is newer than this instance (e.g. {first}): upgrade first",
                      code="backup_schema_newer", http_status=409)


def import_county(path: Path, *, slug: str | None = None, domains: list[str] | None = None,
                  say: Say = _quiet) -> dict[str, Any]:
    """Restore the county in `path` under `slug` (default: its own); return what was checked."""
    manifest = read_manifest(path)
    slug = slug or str(manifest["county"])
    hosts = [h.strip().lower() for h in (domains or manifest.get("domains") or []) if h.strip()]
    provisioning.use_public_schema()
    _check_target(manifest, slug, hosts)
    source = str(manifest["county"])
    with tempfile.TemporaryDirectory(prefix="shuping-restore-") as work:
        dump = _extract_dump(path, manifest, Path(work))
        say(f"正在恢复 {source} 为 {slug} / restoring {source} as {slug}")
        done = template_ddl.run_pg_tool("pg_restore", "--single-transaction", "--no-owner", "--no-privileges", "--exit-on-error", str(dump))
    if done.returncode != 0:
        raise Refusal(f"pg_restore 失败：{done.stderr.strip()}", "pg_restore failed", code="restore_failed",
                      http_status=500)
    try:
        _register(manifest, source=source, slug=slug, hosts=hosts)
        if manifest.get("schema_state") != provisioning.schema_state():
            say(f"正在把 {slug} 迁移到本实例的结构 / migrating {slug} to this instance's schema")
            from projections.runtime import rebuild_stale

            migrating.migrate_all(only=[slug], after_migrate=rebuild_stale)
        verdicts = verify_county(slug, manifest["heads"], say=say)
    except BaseException:
        _remove(slug)
        raise
    failed = [v for v in verdicts if not v["ok"]]
    if failed:
        _remove(slug)
        raise Refusal(f"{len(failed)} 个记录流校验失败（如 {failed[0]['stream']}），导入已撤销",
                      f"{len(failed)} streams failed verification (e.g. {failed[0]['stream']}); import undone",
                      code="imported_log_failed", http_status=500, details=failed)
    return {"slug": slug, "streams": len(verdicts), "events": sum(v["events"] for v in verdicts)}


def _register(manifest: dict[str, Any], *, source: str, slug: str, hosts: list[str]) -> None:
    with template_ddl.own_connection() as own:
        if source != slug:
            own.execute(f'ALTER SCHEMA "{source}" RENAME TO "{slug}"'.encode())
        role = app_role()
        for statement in grant_statements(slug, role) if role else []:
            own.execute(statement.encode())
    county = County(schema_name=slug, name=str(manifest.get("name") or slug),
                    schema_state=str(manifest.get("schema_state", "")))
    county.auto_create_schema = False
    county.save(verbosity=0)
    for index, host in enumerate(hosts):
        Domain.objects.create(domain=host, tenant=county, is_primary=index == 0)


def _remove(slug: str) -> None:
    provisioning.use_public_schema()
    Domain.objects.filter(tenant__schema_name=slug).delete()
    County.objects.filter(schema_name=slug).delete()
    template_ddl.drop_schema(slug)


def verify_county(slug: str, expected: dict[str, dict[str, Any]], *, say: Say = _quiet) -> list[dict[str, Any]]:
    """Export every stream of the county and run the offline verifier on it, with the expected head as trusted."""
    from events.export import export_stream_to_file
    from events.reading import streams
    from events.shuping_verify import summary, verify_file

    verdicts: list[dict[str, Any]] = []
    with schema_context(slug), tempfile.TemporaryDirectory(prefix="shuping-verify-") as work:
        found = {stream: (version, head) for stream, version, head in streams()}
        names = sorted(set(found) | set(expected))
        for n, stream in enumerate(names, start=1):
            want = expected.get(stream)
            if stream not in found or want is None:
                verdicts.append({"stream": stream, "ok": False, "events": 0, "lines": ["流缺失或多出 / stream missing or extra"]})
                continue
            file = Path(work) / f"{n}.jsonl"
            export_stream_to_file(stream, file)
            report = verify_file(file, trusted_heads=[str(want["head_hash"])])
            ok = report.ok and found[stream] == (int(want["version"]), str(want["head_hash"]))
            verdicts.append({"stream": stream, "ok": ok, "events": report.event_count, "lines": summary(report)})
            say(f"[{n}/{len(names)}] {stream}: {'通过 / verified' if ok else '失败 / FAILED'}")
    return verdicts


# -- every county, one file each -------------------------------------------------------------


def backup_all(folder: Path, *, say: Say = _quiet) -> dict[str, int]:
    """Dump each county to folder/<slug>.tar (skipping those whose file holds their current heads), then public.

    One pg_dump per county takes one lock per table of that county, where a
    pg_dump of the whole instance holds a lock on every table of every county
    at once (docs/benchmarks.md, "Backups per county"). Interrupted, the next
    run resumes: files already up to date are kept.
    """
    folder.mkdir(parents=True, exist_ok=True)
    counts = {"dumped": 0, "current": 0}
    rows = list(County.objects.exclude(schema_name=provisioning.PUBLIC).order_by("schema_name"))
    for n, county in enumerate(rows, start=1):
        slug = county.schema_name
        target = folder / f"{slug}.tar"
        if target.exists() and _up_to_date(target, county):
            counts["current"] += 1
            say(f"[{n}/{len(rows)}] {slug}: 已是最新 / up to date")
            continue
        export_county(slug, target)
        counts["dumped"] += 1
        say(f"[{n}/{len(rows)}] {slug}: 已导出 / dumped")
    done = template_ddl.run_pg_tool("pg_dump", "--format=custom", "--no-owner", "--schema=public",
                                    *_secret_rows_left_out("public"), f"--file={folder / 'public.dump'}")
    if done.returncode != 0:
        raise Refusal(f"pg_dump 失败：{done.stderr.strip()}", "pg_dump of public failed", code="dump_failed",
                      http_status=500)
    return counts


def _up_to_date(target: Path, county: County) -> bool:
    try:
        manifest = read_manifest(target)
    except Refusal:
        return False
    return (manifest.get("heads_sha256") == heads_digest(current_heads(county.schema_name))
            and manifest.get("schema_state") == county.schema_state)
