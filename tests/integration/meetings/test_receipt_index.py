"""The receipts projection (meetings.receipts_projection): what the public receipt check probes.

A voter's receipt is found through a digest of it only; the table holds the
digest and the meeting, nothing that orders or names a ballot; it is built
inline by the append that adds the ballots and is rebuilt from the log to the
same rows.
"""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from events.records import NO_STREAM
from events.store import append
from meetings.selectors import meetings_with_receipt
from projections import runtime
from tests.unit.meetings.meeting_given import events_until


@pytest.fixture(scope="module")
def county_with_ballots(make_county, django_db_blocker):
    """Meeting m1 closed with its ballots in the log; m9 has none yet."""
    county = make_county("rcpt")
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        append("meeting-m1", events_until("closed"), expected_version=NO_STREAM, command_id=uuid.uuid4(), actor="host:x")
        append("meeting-m9", events_until("opened"), expected_version=NO_STREAM, command_id=uuid.uuid4(), actor="host:x")
        connection.close()
    return county


def _receipts() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT data->>'receipt' FROM events WHERE type = 'BallotCast' ORDER BY position")
        return [row[0] for row in cursor.fetchall()]


def _rows() -> list[tuple[bytes, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT digest, stream_id FROM proj_receipts ORDER BY digest")
        return [(bytes(d), s) for d, s in cursor.fetchall()]


@pytest.mark.django_db
def test_every_counted_receipt_is_found_in_its_meeting_and_only_there(county_with_ballots) -> None:
    with schema_context(county_with_ballots.schema_name):
        receipts = _receipts()
        assert len(receipts) >= 2
        for receipt in receipts:
            assert meetings_with_receipt(receipt) == ["m1"]
        assert meetings_with_receipt("ab" * 32) == []
        # Not the receipt, no marks or code hash: a 32-byte digest and the meeting's stream, one row a ballot.
        rows = _rows()
        assert len(rows) == len(receipts) and {s for _, s in rows} == {"meeting-m1"}
        assert all(len(digest) == 32 for digest, _ in rows)
        with connection.cursor() as cursor:
            cursor.execute("SELECT column_name FROM information_schema.columns"
                           " WHERE table_schema = current_schema() AND table_name = 'proj_receipts' ORDER BY 1")
            assert [r[0] for r in cursor.fetchall()] == ["digest", "stream_id"]
            cursor.execute("SELECT string_agg(encode(digest, 'hex') || stream_id, '') FROM proj_receipts")
            stored = cursor.fetchone()[0]
        assert not any(receipt in stored for receipt in receipts)


@pytest.mark.django_db
def test_the_table_is_rebuilt_from_the_log_to_the_same_rows(county_with_ballots) -> None:
    with schema_context(county_with_ballots.schema_name):
        live = _rows()
        projection = runtime.get("receipts")
        assert runtime.rebuild(projection).identical
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM proj_receipts")  # lost, as after a failed migration
        assert meetings_with_receipt(_receipts()[0]) == []
        report = runtime.rebuild(projection)
        assert not report.only_live and len(report.only_rebuilt) == len(live)
        assert _rows() == live
        assert meetings_with_receipt(_receipts()[0]) == ["m1"]


@pytest.mark.django_db
def test_a_ballot_of_schema_1_which_recorded_no_receipt_is_found_by_the_receipt_the_verifier_computes(
    county_with_ballots,
) -> None:
    """Older logs hold BallotCast v1 (the store writes v2 only now): the projection computes their receipt."""
    from datetime import UTC, datetime

    from events.records import RecordedEvent
    from meetings.events import ballot_receipt

    marks = {"wang": {"gongzuo_jixiao": "hao"}}
    code_hash = "0f" * 32
    v1 = RecordedEvent(position=10**9, transaction_id=0, stream_id="meeting-old", stream_version=1, type="BallotCast",
                       schema_version=1, data={"code_hash": code_hash, "marks": marks}, metadata={},
                       recorded_at=datetime(2025, 1, 1, tzinfo=UTC), prev_hash="0" * 64, hash="1" * 64)
    with schema_context(county_with_ballots.schema_name), connection.cursor() as cursor:
        runtime.get("receipts").apply_many(cursor, [v1])  # rolled back with the test's transaction
        assert meetings_with_receipt(ballot_receipt(code_hash, marks)) == ["old"]
