"""The sealed ballot box: phone ballots wait here, unlinkable, until the ballot closes.

Why not append each ballot to the log as it is cast? Because the log would then
order ballots by casting time, and recorded times are in the hash chain: a
person who watched the hall ("the woman in the red coat pressed send at
10:42:17, just after the secretary") could line the log up with what they saw
and read her ballot. So during voting a ballot is stored here with nothing but
its code's hash, its marks and its receipt: no voter, no session, no IP, no
time, no serial number. At the close, `take_all` hands the sealed ballots to
the meeting sorted by code hash (an order that has nothing to do with casting
order: codes are random), they are appended to the log in that order in the
same transaction as BallotClosed, and the rows here are deleted.

One ballot per code is enforced by the primary key, not by a check-then-insert
(two requests racing with the same code cannot both win). A retry of the very
same ballot gets the same receipt; a different ballot with a used code is
refused.

Casting and closing exclude each other through the meeting stream's row in
`event_streams`: a cast holds it FOR SHARE (many casts at once), closing the
ballot holds it FOR UPDATE (the append), so no ballot can slip in after the
box was emptied.

Residual risk, stated: until the close, PostgreSQL's heap keeps rows roughly in
insertion order; anyone with superuser access to the database during voting
could read that order. Deleted rows vanish at the next VACUUM. Operators of a
hosted instance are therefore in the trusted base during voting, not after.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.db import connection


@dataclass(frozen=True)
class Sealed:
    code_hash: str
    marks: dict[str, dict[str, str]]
    receipt: str


@dataclass(frozen=True)
class CastOutcome:
    receipt: str
    repeated: bool  # the same ballot had been cast before with this code


class CodeAlreadyUsedHere(Exception):
    """A different ballot was already cast with this code."""


def lock_stream_shared(stream_id: str) -> int | None:
    """Hold the meeting stream FOR SHARE for this transaction; return its version."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT version FROM event_streams WHERE stream_id = %s FOR SHARE", [stream_id])
        row = cursor.fetchone()
    return None if row is None else int(row[0])


def seal(meeting_id: str, code_hash: str, marks: dict[str, Any], receipt: str) -> CastOutcome:
    """Store one ballot (call inside the transaction that holds the stream FOR SHARE)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO meetings_ballot_box (code_hash, meeting_id, marks, receipt)
            VALUES (%s, %s, %s::jsonb, %s)
            ON CONFLICT (code_hash) DO NOTHING
            RETURNING receipt
            """,
            [code_hash, meeting_id, json.dumps(marks, ensure_ascii=False), receipt],
        )
        if cursor.fetchone() is not None:
            return CastOutcome(receipt, repeated=False)
        cursor.execute("SELECT receipt FROM meetings_ballot_box WHERE code_hash = %s", [code_hash])
        row = cursor.fetchone()
    if row is not None and row[0] == receipt:
        return CastOutcome(receipt, repeated=True)
    raise CodeAlreadyUsedHere(code_hash)


def count(meeting_id: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM meetings_ballot_box WHERE meeting_id = %s", [meeting_id])
        return int(cursor.fetchone()[0])


def take_all(meeting_id: str) -> list[Sealed]:
    """The sealed ballots of a meeting, ordered by code hash, removed from the box.

    Call in the transaction that appends them (it holds the stream FOR UPDATE);
    if that transaction rolls back, the ballots are back in the box.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM meetings_ballot_box WHERE meeting_id = %s RETURNING code_hash, marks, receipt",
            [meeting_id],
        )
        rows = cursor.fetchall()
    ballots = [
        Sealed(code_hash=r[0], marks=r[1] if isinstance(r[1], dict) else json.loads(r[1]), receipt=r[2])
        for r in rows
    ]
    ballots.sort(key=lambda b: b.code_hash)
    return ballots


def used_code_hashes(meeting_id: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT code_hash FROM meetings_ballot_box WHERE meeting_id = %s", [meeting_id])
        return {r[0] for r in cursor.fetchall()}
