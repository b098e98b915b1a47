"""The sealed ballot box: sizes that say nothing, a key that is not in the database, the upgrade.

What the box's bytes reveal in the database files is tested end to end in
tests/integration/test_ballot_secrecy_on_disk.py; here: every sealed ballot
of a meeting has the same length whatever its marks and category; without
the server's secret the box does not open and the close changes nothing; a
county upgraded while its ballot is open keeps its ballots, sealed.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django_tenants.utils import schema_context

from events.reading import read_stream
from meetings import ballot_box, codes
from meetings.events import ballot_receipt
from tests.integration.meetings.api_client import Api
from tests.integration.meetings.sealed_box import opened
from tests.integration.meetings.test_api_contract import (
    SUBJECT,
    assert_error,
    new_meeting,
    to_ballot_open,
)

pytestmark = pytest.mark.django_db

GRADES = ["chenzhi", "jiben_chenzhi", "bu_chenzhi"]


def _rows(county: Any, mid: str) -> list[tuple[bytes, bytes]]:
    with schema_context(county.schema_name), connection.cursor() as cursor:
        cursor.execute("SELECT slot, sealed FROM meetings_ballot_box WHERE meeting_id = %s", [mid])
        return [(bytes(slot), bytes(sealed)) for slot, sealed in cursor.fetchall()]


def _ballots(mid: str) -> list[dict[str, Any]]:
    return [e.data for e in read_stream(f"meeting-{mid}") if e.type == "BallotCast"]


def test_every_sealed_ballot_of_a_meeting_has_the_same_size(county_a) -> None:
    """A sealed ballot's length tells neither its grades nor its voter's category."""
    host, mid = new_meeting(county_a)
    reps = to_ballot_open(host, mid)
    party = host.post(f"meetings/{mid}/codes/", {"category": "party_member", "count": 3}, expect=200)["codes"]
    voter = Api(county_a)
    for n, code in enumerate(reps[:3] + party):
        voter.post(f"v/{mid}/ballot/", {"code": code, "marks": {SUBJECT: {"zongti": GRADES[n % 3]}}}, expect=201)
    rows = _rows(county_a, mid)
    assert len(rows) == 6
    assert {len(sealed) for _, sealed in rows} == {len(rows[0][1])}
    assert {len(slot) for slot, _ in rows} == {32}


def test_without_the_secret_the_box_does_not_open_and_the_close_changes_nothing(county_a, settings) -> None:
    host, mid = new_meeting(county_a)
    plain = to_ballot_open(host, mid)
    voter = Api(county_a)
    receipts = sorted(
        voter.post(f"v/{mid}/ballot/", {"code": code, "marks": {SUBJECT: {"zongti": "chenzhi"}}}, expect=201)["receipt"]
        for code in plain[:2]
    )
    sealed_under = settings.SECRET_KEY
    settings.SECRET_KEY = "another-secret-" + "y" * 40
    refused = host.post(f"meetings/{mid}/ballot/close/")
    error = assert_error(refused, 409, "ballot_box_key_changed")
    assert "密钥" in error["message"]
    with schema_context(county_a.schema_name):
        assert len(_rows(county_a, mid)) == 2 and _ballots(mid) == []
        with pytest.raises(ballot_box.BallotBoxKeyChanged):
            opened(mid)
    # The secret that sealed them, kept as a fallback of the new one, opens them.
    settings.SECRET_KEY_FALLBACKS = [sealed_under]
    host.post(f"meetings/{mid}/ballot/close/", expect=200)
    with schema_context(county_a.schema_name):
        assert sorted(b["receipt"] for b in _ballots(mid)) == receipts
        assert _rows(county_a, mid) == []


def test_a_county_upgraded_while_its_ballot_is_open_keeps_its_ballots_sealed(county_a) -> None:
    """Migration 0004 seals the ballots of the plain box with the meeting's key; back, it refuses."""
    host, mid = new_meeting(county_a)
    plain = to_ballot_open(host, mid)
    schema = county_a.schema_name
    cast = {codes.code_hash(schema, mid, code): {SUBJECT: {"zongti": GRADES[n % 3]}} for n, code in enumerate(plain[:5])}
    with schema_context(schema):
        executor = MigrationExecutor(connection)
        executor.migrate([("meetings", "0003_ballot_box")])
        with connection.cursor() as cursor:  # as the plain box of 0003 held them
            for code_hash, marks in cast.items():
                cursor.execute(
                    "INSERT INTO meetings_ballot_box (code_hash, meeting_id, marks, receipt) VALUES (%s, %s, %s::jsonb, %s)",
                    [code_hash, mid, json.dumps(marks), ballot_receipt(code_hash, marks)],
                )
        executor.loader.build_graph()
        executor.migrate([("meetings", "0004_ballot_box_sealed")])
        assert {b.code_hash: b.marks for b in opened(mid)} == cast
        rows = _rows(county_a, mid)
        assert len({len(sealed) for _, sealed in rows}) == 1
        assert not any(h.encode() in slot + sealed for h in cast for slot, sealed in rows)
        # Going back would put ballots in the clear: refused, and the box is unchanged.
        executor.loader.build_graph()
        with pytest.raises(RuntimeError, match="sealed ballots"):
            executor.migrate([("meetings", "0003_ballot_box")])
        assert len(_rows(county_a, mid)) == 5
        # Then up to the newest migration, as `shuping migrate` would take it (the close needs
        # the later tables too: proj_receipts of 0009).
        executor.loader.build_graph()
        executor.migrate([key for key in executor.loader.graph.leaf_nodes() if key[0] == "meetings"])
    # The upgraded box works as a new one: the same ballot again, a different one, the close.
    voter = Api(county_a)
    again = voter.post(f"v/{mid}/ballot/", {"code": plain[0], "marks": cast[codes.code_hash(schema, mid, plain[0])]},
                       expect=200)
    assert again["repeated"] is True
    other = {SUBJECT: {"zongti": "chenzhi"}}  # plain[1] was cast with jiben_chenzhi
    assert_error(voter.post(f"v/{mid}/ballot/", {"code": plain[1], "marks": other}), 409, "code_already_used")
    voter.post(f"v/{mid}/ballot/", {"code": plain[5], "marks": {SUBJECT: {"zongti": "chenzhi"}}}, expect=201)
    host.post(f"meetings/{mid}/ballot/close/", expect=200)
    with schema_context(schema):
        logged = {b["code_hash"]: b["marks"] for b in _ballots(mid)}
    assert len(logged) == 6 and all(logged[h] == marks for h, marks in cast.items())
