"""The sealed ballot box: phone ballots wait here, unlinkable, until the ballot closes.

Why not append each ballot to the log as it is cast? Because the log would then
order ballots by casting time, and recorded times are in the hash chain: a
person who watched the hall ("the woman in the red coat pressed send at
10:42:17, just after the secretary") could line the log up with what they saw
and read her ballot. So during voting a ballot is stored here, and at the
close `take_all` hands the sealed ballots to the meeting sorted by code hash
(an order that has nothing to do with casting order: codes are random); they
are appended to the log in that order in the same transaction as
BallotClosed, and the rows here are deleted.

Why encrypted? Deleting a row does not erase it. PostgreSQL's heap keeps a
deleted row until VACUUM may remove it (not while any transaction of the
county holds an older snapshot, e.g. another meeting still voting), the WAL
keeps every insert in commit order, and both live on in backups and WAL
archives. Whatever a cast writes is therefore readable later in casting
order by anyone with the data folder. So a row holds nothing that can be
matched to the published ballot without a key that is not in the database:

  slot        HMAC-SHA256(slot key, code hash): the primary key. Not the code
              hash itself, which is published in the log next to the marks.
  meeting_id  which box the ballot is in (the meeting's ballot is public).
  sealed      0x01 || nonce (12 bytes, fresh and random per ballot) ||
              AES-256-GCM(box key, plaintext, aad = meeting_id NUL slot),
              plaintext = length of the marks (4 bytes) || code hash (32 bytes)
              || the marks as JSON (sorted keys) || zero bytes up to the meeting's
              size (the largest valid ballot of the meeting, `size_bound`):
              every sealed ballot of a meeting has the same length, so its
              size says nothing about its marks or its voter's category.

The box key and the slot key are derived per county and meeting from the
server's secret (settings.SECRET_KEY) with HKDF-SHA256 (`cryptography`).
The receipt is not stored: it is a function of the code hash and the marks,
recomputed when a ballot is opened. No voter, session, IP, time or serial
number is stored either.

One ballot per code is enforced by the primary key, not by a check-then-insert
(two requests racing with the same code cannot both win). A retry of the very
same ballot gets the same receipt; a different ballot with a used code is
refused.

Casting and closing exclude each other through the meeting stream's row,
with the guards the event store exports for this (events.store): a cast holds
the row FOR SHARE (`SHARED_STREAM_LOCK`; many casts at once), closing the
ballot holds it FOR UPDATE (`lock_stream`, then the append), so no ballot can
slip in after the box was emptied. A cast is one statement (`seal_if_current`): it takes the
stream row FOR SHARE and inserts the ballot only if the stream is still at the
version and head hash the ballot was checked against; otherwise it inserts
nothing and says where the stream is, and the caller checks again on the
newer state.

Whom this trusts is written down in docs/api.md ("Whom the secrecy of the
ballot trusts"): in short, the holder of the server's secret while a ballot
is open. Change the secret only when no ballot is open, or keep the old one
in SECRET_KEY_FALLBACKS (SHUPING_SECRET_KEY_FALLBACKS) until every ballot
open at the change has closed: ballots are opened with any of them. A ballot
that opens with none refuses the close (`ballot_box_key_changed`), and every
ballot stays sealed in the box.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import struct
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import connection

from common.county import current_schema
from common.refusal import Refusal
from events.chain import GENESIS_HASH
from events.reading import STREAM_HEAD
from events.store import SHARED_STREAM_LOCK, PreparingCursor
from meetings.events import ballot_receipt

KEY_INFO = b"shuping/ballot-box/v1"
FORMAT_V1 = b"\x01"
NONCE_BYTES = 12
_HEADER = struct.Struct(">I32s")  # length of the marks' JSON, code hash (raw bytes)
PAD_STEP = 64  # sizes are rounded up to this, so that near-equal bounds give equal sizes


@dataclass(frozen=True)
class Sealed:
    """A ballot opened from the box."""

    code_hash: str
    marks: dict[str, dict[str, str]]

    @functools.cached_property
    def receipt(self) -> str:
        """Computed when asked for: the close takes every ballot out of the box and the meeting's
        validation computes each receipt anyway (Voting.validate_ballot); computing it here too
        hashed every ballot's canonical form twice on the way from the close to the screens."""
        return ballot_receipt(self.code_hash, self.marks)


@dataclass(frozen=True)
class CastOutcome:
    receipt: str
    repeated: bool  # the same ballot had been cast before with this code


class CodeAlreadyUsedHere(Exception):
    """A different ballot was already cast with this code."""


class BallotBoxKeyChanged(Refusal):
    """A sealed ballot does not open with the server's secret: it was sealed under another one."""

    code = "ballot_box_key_changed"
    http_status = 409


@dataclass(frozen=True)
class StreamMoved:
    """The stream was not at the expected version and head: nothing was inserted."""

    version: int | None  # None: the stream does not exist
    head_hash: str | None


# -- the keys and the sealed bytes ---------------------------------------------------------


@dataclass(frozen=True)
class _Keys:
    box: AESGCM
    slot: bytes


@functools.lru_cache(maxsize=4096)
def _derive(secret: str, county: str, meeting_id: str) -> _Keys:
    # One HKDF per meeting and process (cached): the hot path pays an HMAC
    # and an AES-GCM of a few hundred bytes, a few microseconds each.
    info = b"\x00".join([KEY_INFO, county.encode(), meeting_id.encode()])
    okm = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=info).derive(secret.encode())
    return _Keys(box=AESGCM(okm[:32]), slot=okm[32:])


def _keys(meeting_id: str, county: str | None = None, *, secret: str | None = None) -> _Keys:
    county = county or current_schema()
    if not county or "\x00" in county or "\x00" in meeting_id:
        raise ValueError("county and meeting_id are required and must not contain NUL")
    return _derive(str(settings.SECRET_KEY) if secret is None else secret, county, meeting_id)


def _opening_keys(meeting_id: str, county: str | None = None) -> list[_Keys]:
    """The keys a sealed ballot may open with: the secret's, then those of the secrets it replaced."""
    secrets = [str(settings.SECRET_KEY), *map(str, getattr(settings, "SECRET_KEY_FALLBACKS", []))]
    return [_keys(meeting_id, county, secret=secret) for secret in secrets]


def _slot(keys: _Keys, code_hash: str) -> bytes:
    return hmac.new(keys.slot, code_hash.encode(), hashlib.sha256).digest()


def size_bound(widest_marks: Iterable[Mapping[str, Mapping[str, str]]]) -> int:
    """The plaintext size of a meeting's sealed ballots, from its widest valid marks per category.

    `widest_marks` comes from the meeting (Meeting.widest_marks): no valid
    ballot's encoding is longer than the longest of them.
    """
    longest = max((len(_encoded(m)) for m in widest_marks), default=0)
    return _rounded(_HEADER.size + longest)


def _encoded(marks: Mapping[str, Mapping[str, str]]) -> bytes:
    # Sorted keys, no spaces: the length adds up over the parts, so the widest
    # marks bound every valid ballot. (Not the log's canonical encoder: the
    # C encoder alone is about twice as fast, and nothing hashes these bytes.)
    return json.dumps(_plain(marks), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _rounded(size: int) -> int:
    return -(-size // PAD_STEP) * PAD_STEP


def _seal(keys: _Keys, *, meeting_id: str, slot: bytes, code_hash: str, marks: Mapping[str, Any], size: int) -> bytes:
    encoded = _encoded(marks)
    plaintext = _HEADER.pack(len(encoded), bytes.fromhex(code_hash)) + encoded
    # A ballot larger than the bound cannot be valid; it is sealed all the same
    # (the close refuses it), in the next size up rather than cut.
    plaintext = plaintext.ljust(max(size, _rounded(len(plaintext))), b"\x00")
    nonce = os.urandom(NONCE_BYTES)
    return FORMAT_V1 + nonce + keys.box.encrypt(nonce, plaintext, _aad(meeting_id, slot))


def _aad(meeting_id: str, slot: bytes) -> bytes:
    # Binds a sealed ballot to its row: moved to another slot or meeting, it does not open.
    return meeting_id.encode() + b"\x00" + slot


def _open(keys: list[_Keys], *, meeting_id: str, slot: bytes, sealed: bytes) -> Sealed:
    sealed = bytes(sealed)
    nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    for key in keys if sealed[:1] == FORMAT_V1 else []:
        try:
            plaintext = key.box.decrypt(nonce, body, _aad(meeting_id, slot))
            break
        except InvalidTag:
            continue
    else:
        raise BallotBoxKeyChanged(
            "票箱中的选票无法用当前密钥打开：投票期间服务器密钥（SHUPING_SECRET_KEY）被更换了。"
            "请恢复开始投票时的密钥，或把它加入 SHUPING_SECRET_KEY_FALLBACKS，再结束测评；选票仍密封在票箱中，没有丢失",
            "a sealed ballot does not open with the server's secret: SHUPING_SECRET_KEY changed while "
            "the ballot was open. Restore the secret it was sealed under, or add it to "
            "SHUPING_SECRET_KEY_FALLBACKS, then close the ballot; the ballots are still sealed in the box",
        )
    length, raw_hash = _HEADER.unpack_from(plaintext)
    encoded = plaintext[_HEADER.size : _HEADER.size + length]
    marks = json.loads(encoded)
    code_hash = raw_hash.hex()
    return Sealed(code_hash=code_hash, marks=marks)


def _plain(marks: Mapping[str, Mapping[str, str]]) -> dict[str, dict[str, str]]:
    return {subject: dict(grades) for subject, grades in marks.items()}


def seal_bytes(*, county: str, meeting_id: str, code_hash: str, marks: Mapping[str, Any], size: int) -> tuple[bytes, bytes]:
    """(slot, sealed) of one ballot as the box stores it (the migration that encrypted the box uses it)."""
    keys = _keys(meeting_id, county)
    slot = _slot(keys, code_hash)
    return slot, _seal(keys, meeting_id=meeting_id, slot=slot, code_hash=code_hash, marks=marks, size=size)


def unseal(*, meeting_id: str, slot: bytes, sealed: bytes, county: str | None = None) -> Sealed:
    """Open one stored ballot; BallotBoxKeyChanged if it was sealed under another secret."""
    return _open(_opening_keys(meeting_id, county), meeting_id=meeting_id, slot=bytes(slot), sealed=sealed)


# -- casting ----------------------------------------------------------------------------------

# One round trip, one transaction (autocommit) or part of the caller's:
# 1. lock the meeting stream's row FOR SHARE (closing the ballot takes it FOR
#    UPDATE, so the two exclude each other, and casts do not);
# 2. insert the ballot only if the stream is at the version and head hash the
#    ballot was checked against (a closed ballot, or any other change, has
#    moved it); one ballot per code is the primary key's business;
# 3. answer where the stream is, whether this insert happened, and the ballot
#    already sealed under this code (as of the statement's snapshot).
_SEAL = f"""
WITH stream AS MATERIALIZED (
    {SHARED_STREAM_LOCK}
), sealed AS (
    INSERT INTO meetings_ballot_box (slot, meeting_id, sealed)
    SELECT %(slot)s, %(meeting_id)s, %(sealed)s
    FROM stream WHERE version = %(version)s AND head_hash = %(head)s
    ON CONFLICT (slot) DO NOTHING
    RETURNING true
)
SELECT (SELECT version FROM stream), (SELECT head_hash FROM stream), (SELECT true FROM sealed),
       (SELECT sealed FROM meetings_ballot_box WHERE slot = %(slot)s)
"""


@contextmanager
def _prepared_cursor() -> Iterator[Any]:
    """A cursor on Django's connection that prepares its statements (the seal is the hot path).

    Django's own cursors bind parameters on the client and never prepare, so
    PostgreSQL would parse and plan the seal's CTE for every ballot. This is
    events.store.PreparingCursor (why a prepared plan never crosses counties:
    there; tests/integration/meetings/test_ballot_fast_path.py), keeping what
    Django's cursors give: the county's search_path is set first (django-tenants
    does it when a Django cursor is opened), and the cursor is wrapped like
    Django's (database errors translated and recorded, queries logged when
    Django logs them).
    """
    with connection.cursor():
        pass  # connects, and sets the county's search_path if it is not set yet
    cursor = connection._prepare_cursor(PreparingCursor(connection.connection))  # type: ignore[attr-defined]
    try:
        yield cursor
    finally:
        cursor.close()


def seal_if_current(
    *, stream_id: str, version: int, head_hash: str, meeting_id: str, code_hash: str,
    marks: dict[str, Any], receipt: str, size: int,
) -> CastOutcome | StreamMoved:
    """Store one ballot, sealed, if the meeting stream is still at (`version`, `head_hash`).

    `receipt` is the ballot's receipt (answered, never stored); `size` the
    meeting's sealed size (`size_bound`). Returns the outcome (a new ballot,
    or the same ballot again), or StreamMoved when the stream has changed
    (nothing stored); raises CodeAlreadyUsedHere when a different ballot
    holds the code.
    """
    keys = _keys(meeting_id)
    slot = _slot(keys, code_hash)
    params = {
        "stream": stream_id, "version": version, "head": head_hash, "slot": slot, "meeting_id": meeting_id,
        "sealed": _seal(keys, meeting_id=meeting_id, slot=slot, code_hash=code_hash, marks=marks, size=size),
    }
    with _prepared_cursor() as cursor:
        cursor.execute(_SEAL, params)
        current_version, current_head, inserted, stored = cursor.fetchone()
        if current_version != version or (current_head or "").strip() != head_hash:
            return StreamMoved(current_version, current_head)
        if inserted:
            return CastOutcome(receipt, repeated=False)
        if stored is None:
            # A concurrent cast of this code committed after this statement's
            # snapshot was taken (the insert waited for it, then did nothing):
            # a new statement sees it.
            cursor.execute("SELECT sealed FROM meetings_ballot_box WHERE slot = %s", [slot])
            row = cursor.fetchone()
            if row is None:
                # ... and was taken out of the box since: the ballot was
                # closed in between. Check again on the newer state.
                return StreamMoved(None, None)
            stored = row[0]
    # The same slot means the same key: the stored ballot was sealed under the current secret.
    earlier = _open([keys], meeting_id=meeting_id, slot=slot, sealed=stored)
    if earlier.receipt == receipt:
        return CastOutcome(receipt, repeated=True)
    raise CodeAlreadyUsedHere(code_hash)


def count(meeting_id: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM meetings_ballot_box WHERE meeting_id = %s", [meeting_id])
        return int(cursor.fetchone()[0])


def take_all(meeting_id: str) -> list[Sealed]:
    """The sealed ballots of a meeting, opened, ordered by code hash, removed from the box.

    Call in the transaction that appends them (it holds the stream FOR UPDATE);
    if that transaction rolls back, the ballots are back in the box. Raises
    BallotBoxKeyChanged (and the caller's rollback keeps every ballot) if a
    ballot was sealed under another secret.
    """
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM meetings_ballot_box WHERE meeting_id = %s RETURNING slot, sealed", [meeting_id])
        rows = cursor.fetchall()
    keys = _opening_keys(meeting_id)
    ballots = [_open(keys, meeting_id=meeting_id, slot=bytes(slot), sealed=sealed) for slot, sealed in rows]
    ballots.sort(key=lambda b: b.code_hash)
    return ballots


def head_and_holds(stream_id: str, meeting_id: str, code_hash: str) -> tuple[tuple[int, str], bool]:
    """The meeting stream's (version, head hash), and whether the box holds this code, in one statement.

    What a voter's form needs at a ballot burst: with the meeting's state
    cached, the form costs this one round trip (repository.load's `known_head`).
    Both are read in the statement's one snapshot.
    """
    slot = _slot(_keys(meeting_id), code_hash)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH head AS ({STREAM_HEAD})"
            " SELECT h.version, h.head_hash, EXISTS (SELECT 1 FROM meetings_ballot_box b"
            " WHERE b.slot = %(slot)s AND b.meeting_id = %(meeting)s)"
            " FROM (SELECT 1) one LEFT JOIN head h ON true",
            {"slot": slot, "meeting": meeting_id, "stream": stream_id},
        )
        version, head, held = cursor.fetchone()
    if version is None:
        return (0, GENESIS_HASH), bool(held)
    return (int(version), str(head)), bool(held)


def holds(meeting_id: str, code_hash: str) -> bool:
    """Whether a ballot with this code is sealed in the box (a voter's form asks: "have I voted?")."""
    slot = _slot(_keys(meeting_id), code_hash)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM meetings_ballot_box WHERE slot = %s AND meeting_id = %s", [slot, meeting_id])
        return cursor.fetchone() is not None
