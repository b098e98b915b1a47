"""A county's year in one file an archivist can keep: every stream of that year, with a hashed manifest.

The archive is a plain tar file (docs/event-log-format.md, section 15):
``streams/<stream>.jsonl`` for each stream with at least one event recorded
in the year (China Standard Time), each a complete export from version 1
(a chain is checked from its genesis, so a stream is never cut at the year's
edge); ``manifest.json`` listing each stream's file, event count and head
hash; ``manifest.sha256`` holding the SHA-256 of the manifest's bytes. The
export says that digest too, so it can be written down outside the archive.
`shuping log verify ARCHIVE` (events.shuping_verify.verify_archive) checks it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tarfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.db import connection, transaction

from common.china_time import CHINA_TIME
from events.chain import format_recorded_at
from events.export import export_stream
from events.reading import streams_recorded_between
from events.records import current_county

ARCHIVE_FORMAT = "shuping-archive"
_SAFE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,199}\Z")


def _add(tar: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(mtime), 0o644
    tar.addfile(info, io.BytesIO(data))


def export_county_year(*, year: int, path: Path, progress: Callable[[str], None] = lambda _line: None) -> dict[str, Any]:
    """Write the current county's `year` to `path` (a tar file); return the manifest and its SHA-256."""
    county = current_county()
    # A county's year is China's calendar year.
    start, end = datetime(year, 1, 1, tzinfo=CHINA_TIME), datetime(year + 1, 1, 1, tzinfo=CHINA_TIME)
    partial = path.with_name(path.name + ".partial")
    # One snapshot for the whole archive: the manifest describes one moment of the county's log.
    outermost = not connection.in_atomic_block
    try:
        manifest, digest = _write(partial, county=county, year=year, start=start, end=end, outermost=outermost,
                                  progress=progress)
    except BaseException:
        partial.unlink(missing_ok=True)  # no half archive that looks like a whole one
        raise
    os.replace(partial, path)
    return {"manifest": manifest, "manifest_sha256": digest}


def _write(partial: Path, *, county: str, year: int, start: datetime, end: datetime, outermost: bool,
           progress: Callable[[str], None]) -> tuple[dict[str, Any], str]:
    now = time.time()
    entries: list[dict[str, Any]] = []
    with transaction.atomic(), tarfile.open(partial, "w") as tar:
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        ids = streams_recorded_between(start, end)
        for n, stream in enumerate(ids, start=1):
            buffer = io.StringIO()
            header = export_stream(stream, buffer)
            name = f"streams/{stream}.jsonl" if _SAFE_NAME.match(stream) else f"streams/{n:06d}.jsonl"
            _add(tar, name, buffer.getvalue().encode("utf-8"), now)
            entries.append({"stream": stream, "file": name, "event_count": header["event_count"],
                            "head_hash": header["head_hash"]})
            progress(f"[{n}/{len(ids)}] {stream}: {header['event_count']} 个事件 / events")
        manifest = {"format": ARCHIVE_FORMAT, "format_version": 1, "county": county, "year": year,
                    "exported_at": format_recorded_at(datetime.now(UTC)), "streams": entries}
        raw = (json.dumps(manifest, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
        digest = hashlib.sha256(raw).hexdigest()
        _add(tar, "manifest.json", raw, now)
        _add(tar, "manifest.sha256", f"{digest}  manifest.json\n".encode("ascii"), now)
    return manifest, digest
