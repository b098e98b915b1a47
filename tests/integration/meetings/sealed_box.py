"""What the ballot box holds, opened with the meeting's key: for tests that look inside it."""

from __future__ import annotations

from django.db import connection

from meetings import ballot_box


def opened(meeting_id: str) -> list[ballot_box.Sealed]:
    """The ballots sealed in a meeting's box (in the current county schema), opened, sorted by code hash."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT slot, sealed FROM meetings_ballot_box WHERE meeting_id = %s", [meeting_id])
        rows = cursor.fetchall()
    ballots = [ballot_box.unseal(meeting_id=meeting_id, slot=bytes(slot), sealed=bytes(sealed)) for slot, sealed in rows]
    return sorted(ballots, key=lambda b: b.code_hash)
