"""No stored byte orders ballots by casting time: the database's files, the log, the logs, read as bytes.

150 ballots are cast through the API of a real server process, one after the
other, in a known order. Then, as someone holding the data folder, a backup
or a WAL archive would, the test reads the throwaway server's files as bytes:
the heap (and index) files of the ballot box and of the events table, and the
WAL segments written since the voting began. It searches them for each
ballot's receipt, code hash and marks in the forms the database stores them
(hex text; marks as jsonb's on-disk bytes and as canonical JSON text), and
ranks the ballots it finds by where it finds them (first and last
occurrence). The same for the events table read with SQL, the exported log,
and the server's and PostgreSQL's logs. For every source and every kind, the
rank correlation (Spearman) between casting order and that order must stay
below 0.1 in absolute value. A ballot whose bytes are not found does not
contribute.

As in the finding this answers, the deleted box rows are given every chance
to survive: a transaction of the county holding an older snapshot ("another
meeting still voting") stays open across the close, VACUUM and VACUUM FREEZE.

The published log orders ballots by code hash, by design; codes are random,
so that order is uncorrelated with casting, but 150 random codes give a
correlation of |rho| > 0.1 about one time in five by chance. The casting
order is therefore chosen (from the codes' hashes, before any cast) so that
its correlation with the code-hash order is below 0.02: whatever exceeds 0.1
is then a leak, never bad luck. Against the plaintext box this test measured
rho = 1.00 for receipts, code hashes and marks in the box's heap and the WAL.
"""

from __future__ import annotations

import json
import os
import random
import re
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from django.db import connection
from django_tenants.utils import schema_context

from events.chain import canonical_json
from meetings.codes import code_hash
from tests.conftest import IN_CI
from tests.live.server import HttpApi, LiveServer, county_host
from tests.pg_admin import pgdata, server_log, superuser_url

VOTERS = 150
SUBJECTS = [f"cadre{i}" for i in range(6)]  # 3**6 = 729 distinct ballots to choose 150 from
GRADES = ["chenzhi", "jiben_chenzhi", "bu_chenzhi"]
LIMIT = 0.1


# -- what the database stores, as bytes --------------------------------------------------------

_JB_FOBJECT = 0x20000000
_JENTRY_HAS_OFF = 0x80000000
_JENTRY_ISCONTAINER = 0x50000000
_JENTRY_OFFLENMASK = 0x0FFFFFFF
_JENTRY_TYPEMASK = 0x70000000
_JB_OFFSET_STRIDE = 32


def jsonb_bytes(value: Mapping[str, Any]) -> bytes:
    """The bytes PostgreSQL stores for a jsonb object of objects and strings, after the varlena header.

    PostgreSQL's convertToJsonb (src/backend/utils/adt/jsonb_util.c):
    containers are 4-aligned from the start of the datum (its 4-byte header
    included), a header (count | JB_FOBJECT), one JEntry per key then per
    value (length, or end offset every 32nd), the keys sorted by length then
    bytes, then the values. A nested object starts 4-aligned, so the bytes
    of the marks are the same alone or inside an event's data.
    """
    buffer = bytearray(4)  # the varlena header's place: alignment counts from it
    _object(buffer, value)
    return bytes(buffer[4:])


def _object(buffer: bytearray, value: Mapping[str, Any]) -> int:
    base = len(buffer)
    buffer.extend(b"\x00" * (-len(buffer) % 4))
    pairs = sorted(((k.encode(), v) for k, v in value.items()), key=lambda kv: (len(kv[0]), kv[0]))
    count = len(pairs)
    buffer.extend(struct.pack("<I", count | _JB_FOBJECT))
    entries_at = len(buffer)
    buffer.extend(b"\x00" * (8 * count))
    entries, total = [], 0
    for i, (key, _) in enumerate(pairs):
        buffer.extend(key)
        total += len(key)
        entries.append(total | _JENTRY_HAS_OFF if i % _JB_OFFSET_STRIDE == 0 else len(key))
    for i, (_, item) in enumerate(pairs):
        if isinstance(item, str):
            meta = len(item.encode())
            buffer.extend(item.encode())
        else:
            meta = _JENTRY_ISCONTAINER | _object(buffer, item)
        total += meta & _JENTRY_OFFLENMASK
        if (i + count) % _JB_OFFSET_STRIDE == 0:
            meta = (meta & _JENTRY_TYPEMASK) | total | _JENTRY_HAS_OFF
        entries.append(meta)
    struct.pack_into(f"<{2 * count}I", buffer, entries_at, *entries)
    return len(buffer) - base


@dataclass(frozen=True)
class Ballot:
    index: int  # its place in the casting order
    code_hash: str
    marks: dict[str, dict[str, str]]
    receipt: str


class Finder:
    """Where each ballot's receipt, code hash and marks occur in a blob of bytes."""

    def __init__(self, ballots: list[Ballot]) -> None:
        self.hexes: dict[bytes, tuple[str, int]] = {}
        for b in ballots:
            self.hexes[b.receipt.encode()] = ("receipt", b.index)
            self.hexes[b.code_hash.encode()] = ("code_hash", b.index)
        self.marks = [(jsonb_bytes(b.marks), canonical_json(b.marks), b.index) for b in ballots]
        self.jsonb_anchor = struct.pack("<I", len(SUBJECTS) | _JB_FOBJECT)
        self.text_anchor = b'{"' + min(SUBJECTS).encode() + b'":{'

    def find(self, blob: bytes) -> dict[str, dict[int, list[int]]]:
        """kind -> ballot index -> offsets, for kinds receipt, code_hash and marks."""
        found: dict[str, dict[int, list[int]]] = {"receipt": {}, "code_hash": {}, "marks": {}}
        for run in re.finditer(rb"[0-9a-f]{64,}", blob):
            text = run.group()
            for start in range(len(text) - 63):
                hit = self.hexes.get(text[start : start + 64])
                if hit is not None:
                    found[hit[0]].setdefault(hit[1], []).append(run.start() + start)
        for anchor, form in ((self.jsonb_anchor, 0), (self.text_anchor, 1)):
            for at in _occurrences(blob, anchor):
                for pattern in self.marks:
                    if blob.startswith(pattern[form], at):
                        found["marks"].setdefault(pattern[2], []).append(at)
        return found


def _occurrences(blob: bytes, needle: bytes) -> Iterator[int]:
    at = blob.find(needle)
    while at >= 0:
        yield at
        at = blob.find(needle, at + 1)


def spearman(xs: list[int], ys: list[int]) -> float:
    """Spearman's rank correlation of two lists of distinct values."""
    n = len(xs)
    rank_x = {v: r for r, v in enumerate(sorted(xs))}
    rank_y = {v: r for r, v in enumerate(sorted(ys))}
    d2 = sum((rank_x[x] - rank_y[y]) ** 2 for x, y in zip(xs, ys, strict=True))
    return 1 - 6 * d2 / (n * (n * n - 1))


def orders(found: dict[str, dict[int, list[int]]]) -> Iterable[tuple[str, str, int, float]]:
    """(kind, first|last, ballots found, rho against the casting order) for each kind found at least twice."""
    for kind, offsets in found.items():
        if len(offsets) < 2:
            continue
        cast = sorted(offsets)
        for which, pick in (("first", min), ("last", max)):
            yield kind, which, len(cast), spearman(cast, [pick(offsets[i]) for i in cast])


# -- reading the server's files ------------------------------------------------------------------


def relation_files(admin: psycopg.Connection[Any], data: Path, relation: str) -> bytes:
    """The main fork of a relation and of its indexes, as bytes."""
    paths = admin.execute(
        "SELECT pg_relation_filepath(%s::regclass) UNION ALL "
        "SELECT pg_relation_filepath(indexrelid) FROM pg_index WHERE indrelid = %s::regclass",
        [relation, relation],
    ).fetchall()
    blob = bytearray()
    for (path,) in paths:
        for part in sorted((data / path).parent.glob((data / path).name + "*")):
            if re.fullmatch(r"\d+(\.\d+)?", part.name):  # the main fork and its 1 GB segments; not _fsm, _vm
                blob += part.read_bytes()
    return bytes(blob)


WAL_PAGE = 8192


def wal_bytes(data: Path, first: str, last: str) -> bytes:
    """The WAL segments from `first` to `last` (file names), in order, with the page headers cut out.

    A record that crosses a page boundary continues after the next page's
    header; without the headers its bytes are contiguous again.
    """
    blob = bytearray()
    for segment in sorted((data / "pg_wal").iterdir()):
        if not re.fullmatch(r"[0-9A-F]{24}", segment.name) or not first <= segment.name <= last:
            continue
        raw = segment.read_bytes()
        for page in range(0, len(raw), WAL_PAGE):
            header = 40 if page == 0 else 24  # XLogLongPageHeaderData, XLogPageHeaderData (MAXALIGNed)
            blob += raw[page + header : page + WAL_PAGE]
    return bytes(blob)


# -- the test ----------------------------------------------------------------------------------------


def _casting_order(codes: list[str], hashes: list[str]) -> list[int]:
    """A casting order (indexes into `codes`) whose correlation with the code-hash order is below 0.02."""
    by_hash = {h: r for r, h in enumerate(sorted(hashes))}
    rng = random.Random(20261202)
    order = list(range(len(codes)))
    while True:
        rng.shuffle(order)
        if abs(spearman(list(range(len(order))), [by_hash[hashes[i]] for i in order])) < 0.02:
            return order


def _meeting(admin: HttpApi, host: HttpApi) -> str:
    from datetime import UTC, datetime, timedelta

    round_id = admin.post("rounds/", {"name": "保密测试", "year": 2026, "variant": "zhi_ping_cun_guan"}, expect=201)["round_id"]
    starts = (datetime.now(UTC) + timedelta(days=4)).isoformat()
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": "保密测试会", "township": "柳林乡", "village": "柳林村",
        "starts_at": starts, "place": "村委会",
        "subjects": [{"subject_id": s, "name": f"村干部{i}", "level": "village"} for i, s in enumerate(SUBJECTS)],
        "roster": [{"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(VOTERS)],
    }, expect=201)["meeting_id"]
    host.post(f"meetings/{mid}/announce/", {"starts_at": starts, "place": "村委会", "agenda": ["述职", "测评"],
                                            "channels": ["公开栏"]}, expect=200)
    for i in range(VOTERS):
        host.post(f"meetings/{mid}/check-in/", {"member_id": f"rep{i}"}, expect=200)
    host.post(f"meetings/{mid}/open/", expect=200)
    for subject in SUBJECTS:
        host.post(f"meetings/{mid}/reports/start/", {"subject_id": subject}, expect=200)
        host.post(f"meetings/{mid}/reports/end/", {"subject_id": subject}, expect=200)
    return mid


def test_no_stored_byte_orders_ballots_by_casting_time(live_county: Any, django_db_blocker: Any) -> None:
    data = pgdata()
    if data is None:
        if IN_CI:
            pytest.fail("run with `make test`: the embedded test server's data folder is needed")
        pytest.skip("DATABASE_URL was given: no data folder to read")
    county = live_county
    schema = county.schema_name
    server = LiveServer()
    admin_db = psycopg.connect(superuser_url(), autocommit=True)
    # The WAL written from here on stays on disk until the test ends: a checkpoint may
    # otherwise remove or recycle the segments that hold the close (other tests of the
    # run write WAL too), and the search below must find the published ballots there.
    slot = f"secrecy_{os.getpid()}_{random.randrange(10**9)}"
    admin_db.execute("SELECT pg_create_physical_replication_slot(%s, true)", [slot])
    holder = psycopg.connect(os.environ["DATABASE_URL"], autocommit=False)
    try:
        with django_db_blocker.unblock():
            admin, host, auditor = (HttpApi(server, county, role) for role in ("county_admin", "host", "auditor"))
        mid = _meeting(admin, host)
        codes = host.post(f"meetings/{mid}/codes/", {"category": "representative", "count": VOTERS}, expect=200)["codes"]
        host.post(f"meetings/{mid}/ballot/open/", expect=200)
        hashes = [code_hash(schema, mid, code) for code in codes]
        ballots_marks = random.Random(7).sample(list(product(GRADES, repeat=len(SUBJECTS))), VOTERS)
        wal_first = admin_db.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]

        # Cast, one after the other, as phones do (no idempotency key, no login).
        phone = httpx.Client(base_url=f"http://127.0.0.1:{server.port}/api/",
                             headers={"Host": f"{county_host(county)}:{server.port}"}, timeout=60)
        ballots = []
        for index, which in enumerate(_casting_order(codes, hashes)):
            marks = {s: {"zongti": g} for s, g in zip(SUBJECTS, ballots_marks[which], strict=True)}
            answer = phone.post(f"v/{mid}/ballot/", json={"code": codes[which], "marks": marks})
            assert answer.status_code == 201, answer.text
            ballots.append(Ballot(index, hashes[which], marks, answer.json()["receipt"]))
        finder = Finder(ballots)

        # During voting: nothing of any ballot is readable in the box, the log or the WAL
        # (the code hashes found are those of the list of issued codes, sorted).
        admin_db.execute("CHECKPOINT")
        problems: list[object] = []
        for source, blob in _files(admin_db, data, schema, wal_first).items():
            found = finder.find(blob)
            if found["receipt"] or found["marks"] or (source.startswith("ballot box") and found["code_hash"]):
                problems.append((f"{source} during voting", {k: len(v) for k, v in found.items()}))
            problems += [(f"{source} during voting", *m) for m in orders(found) if abs(m[3]) >= LIMIT]

        # Another meeting of the county still voting: a snapshot older than the close stays open.
        holder.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        holder.execute(f'SELECT count(*) FROM "{schema}".events').fetchone()
        host.post(f"meetings/{mid}/ballot/close/", expect=200)
        admin_db.execute(f'VACUUM "{schema}".meetings_ballot_box')
        admin_db.execute(f'VACUUM (FREEZE) "{schema}".meetings_ballot_box')
        admin_db.execute("CHECKPOINT")

        sources = _files(admin_db, data, schema, wal_first)
        with django_db_blocker.unblock(), schema_context(schema), connection.cursor() as cursor:
            cursor.execute("SELECT data::text FROM events WHERE stream_id = %s ORDER BY position", [f"meeting-{mid}"])
            sources["events table (SQL)"] = b"\n".join(canonical_json(json.loads(r[0])) for r in cursor.fetchall())
        log = auditor.client.get(f"meetings/{mid}/log/")
        assert log.status_code == 200
        sources["exported log"] = log.content
        sources["server log"] = Path(server.log.name).read_bytes()
        log_file = server_log()
        sources["PostgreSQL log"] = log_file.read_bytes() if log_file else b""
        assert sources["PostgreSQL log"]  # the server has written its log where we read it

        measured = []
        for source, blob in sources.items():
            found = finder.find(blob)
            if source in ("events heap", "events table (SQL)", "exported log"):
                # The published ballots are there: the search finds what it looks for.
                if not all(len(found[kind]) == VOTERS for kind in found):
                    problems.append((source, "not all published ballots found", {k: len(v) for k, v in found.items()}))
            if source in ("ballot box files", "server log", "PostgreSQL log") and any(found.values()):
                problems.append((source, "holds ballots in the clear", {k: len(v) for k, v in found.items()}))
            measured += [(source, kind, which, n, round(rho, 3)) for kind, which, n, rho in orders(found)]
        print("\n".join(f"{s}: {k} ({w} occurrence) {n} found, rho {r:+.3f}" for s, k, w, n, r in measured))
        wal = {m[1]: m[3] for m in measured if m[0] == "WAL"}
        if set(wal) != {"receipt", "code_hash", "marks"} or min(wal.values()) < VOTERS * 0.9:
            problems.append(("WAL", "the published ballots' records not found", wal))
        problems += [m for m in measured if abs(m[4]) >= LIMIT]
        assert not problems, problems
    finally:
        admin_db.execute("SELECT pg_drop_replication_slot(%s)", [slot])
        holder.close()
        admin_db.close()
        server.stop()


def _files(admin: psycopg.Connection[Any], data: Path, schema: str, wal_first: str) -> dict[str, bytes]:
    wal_last = admin.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]  # type: ignore[index]
    return {
        "ballot box files": relation_files(admin, data, f'"{schema}".meetings_ballot_box'),
        "events heap": relation_files(admin, data, f'"{schema}".events'),
        "WAL": wal_bytes(data, wal_first, wal_last),
    }
