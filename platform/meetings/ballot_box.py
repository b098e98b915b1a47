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

Casting and closing exclude each other through the meeting stream's row,
with the guards the event store exports for this (events.store): a cast holds
the row FOR SHARE (`SHARED_STREAM_LOCK`; many casts at once), closing the
ballot holds it FOR UPDATE (`lock_stream`, then the append), so no ballot can
slip in after the box was emptied. A cast is one statement (`seal_if_current`): it takes the
stream row FOR SHARE and inserts the ballot only if the stream is still at the
version and head hash the ballot was checked against; otherwise it inserts
nothing and says where the stream is, and the caller checks again on the
newer state.

Residual risk, stated: until the close, PostgreSQL's heap keeps rows roughly in
insertion order, and each cast commits in its own transaction, so the system
column `xmin` of a row orders the ballots exactly as they were cast. Anyone
with SELECT rights on this table during voting (the application role, a
database administrator) could read that order. Deleted rows vanish at the
next VACUUM. Operators of a hosted instance are therefore in the trusted base
during voting, not after.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import connection

from events.store import SHARED_STREAM_LOCK


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


@dataclass(frozen=True)
class StreamMoved:
    """The stream was not at the expected version and head: nothing was inserted."""

    version: int | None  # None: the stream does not exist
    head_hash: str | None


# One round trip, one transaction (autocommit) or part of the caller's:
# 1. lock the meeting stream's row FOR SHARE (closing the ballot takes it FOR
#    UPDATE, so the two exclude each other, and casts do not);
# 2. insert the ballot only if the stream is at the version and head hash the
#    ballot was checked against (a closed ballot, or any other change, has
#    moved it); one ballot per code is the primary key's business;
# 3. answer where the stream is, whether this insert happened, and the receipt
#    already stored under this code (as of the statement's snapshot).
_SEAL = f"""
WITH stream AS MATERIALIZED (
    {SHARED_STREAM_LOCK}
), sealed AS (
    INSERT INTO meetings_ballot_box (code_hash, meeting_id, marks, receipt)
    SELECT %(code_hash)s, %(meeting_id)s, %(marks)s::jsonb, %(receipt)s
    FROM stream WHERE version = %(version)s AND head_hash = %(head)s
    ON CONFLICT (code_hash) DO NOTHING
    RETURNING receipt
)
SELECT (SELECT version FROM stream), (SELECT head_hash FROM stream), (SELECT receipt FROM sealed),
       (SELECT receipt FROM meetings_ballot_box WHERE code_hash = %(code_hash)s)
"""


class _PreparingCursor(psycopg.Cursor):  # type: ignore[type-arg]
    """A server-side binding cursor whose statements are prepared on their first execution."""

    def execute(self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: bool | None = None) -> Any:
        return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)


@contextmanager
def _prepared_cursor() -> Iterator[Any]:
    """A cursor on Django's connection that prepares its statements (the seal is the hot path).

    Django's own cursors bind parameters on the client and never prepare, so
    PostgreSQL would parse and plan the seal's CTE for every ballot: about 40%
    of what the statement costs it. This cursor keeps what Django's give:
    the county's search_path is set first (django-tenants does it when a
    Django cursor is opened), and the cursor is wrapped like Django's (database
    errors translated and recorded, queries logged when Django logs them).
    A prepared plan is tied to the search_path it was made under: PostgreSQL
    parses the statement again whenever the search_path has changed since,
    so a connection that serves several counties never runs one county's
    plan in another (tests/integration/meetings/test_ballot_fast_path.py).
    Needs a session-level pool if any (the architecture's PgBouncer advice).
    """
    with connection.cursor():
        pass  # connects, and sets the county's search_path if it is not set yet
    cursor = connection._prepare_cursor(_PreparingCursor(connection.connection))  # type: ignore[attr-defined]
    try:
        yield cursor
    finally:
        cursor.close()


def seal_if_current(
    *, stream_id: str, version: int, head_hash: str, meeting_id: str, code_hash: str,
    marks: dict[str, Any], receipt: str,
) -> CastOutcome | StreamMoved:
    """Store one ballot if the meeting stream is still at (`version`, `head_hash`).

    Returns the outcome (a new ballot, or the same ballot again), or
    StreamMoved when the stream has changed (nothing stored); raises
    CodeAlreadyUsedHere when a different ballot holds the code.
    """
    params = {
        "stream": stream_id, "version": version, "head": head_hash, "code_hash": code_hash,
        "meeting_id": meeting_id, "marks": json.dumps(marks, ensure_ascii=False), "receipt": receipt,
    }
    with _prepared_cursor() as cursor:
        cursor.execute(_SEAL, params)
        current_version, current_head, inserted, stored = cursor.fetchone()
        if current_version != version or (current_head or "").strip() != head_hash:
            return StreamMoved(current_version, current_head)
        if inserted is not None:
            return CastOutcome(receipt, repeated=False)
        if stored is None:
            # A concurrent cast of this code committed after this statement's
            # snapshot was taken (the insert waited for it, then did nothing):
            # a new statement sees it.
            cursor.execute("SELECT receipt FROM meetings_ballot_box WHERE code_hash = %s", [code_hash])
            row = cursor.fetchone()
            if row is None:
                # ... and was taken out of the box since: the ballot was
                # closed in between. Check again on the newer state.
                return StreamMoved(None, None)
            stored = row[0]
    if stored == receipt:
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


def holds(meeting_id: str, code_hash: str) -> bool:
    """Whether a ballot with this code is sealed in the box (a voter's form asks: "have I voted?")."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM meetings_ballot_box WHERE code_hash = %s AND meeting_id = %s", [code_hash, meeting_id]
        )
        return cursor.fetchone() is not None
