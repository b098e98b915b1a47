"""The ballot endpoint's fast path (meetings.api.lean) keeps the endpoint's contract.

Phones' requests take the fast path; anything unusual goes to the DRF view.
Both must answer alike: the same status, JSON body, content type and Allow
header for the same request, one ballot per code, the same ballot again
gets the same receipt, and a refused ballot stores nothing. The cast itself
is checked against a cached state of the meeting and stored only if the
meeting has not moved: a stale cache may neither let a ballot in after the
close nor refuse one the current state accepts.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import RequestFactory
from django_tenants.utils import schema_context

from meetings.api.lean import fast_path
from meetings.api.voters import VoterBallotApi
from tests.conftest import host_of
from tests.integration.meetings.api_client import Api
from tests.integration.meetings.sealed_box import opened
from tests.integration.meetings.test_api_contract import (
    SUBJECT,
    assert_error,
    new_meeting,
    raw_post,
    to_ballot_open,
)

pytestmark = pytest.mark.django_db

MARKS = {SUBJECT: {"zongti": "chenzhi"}}


def sealed(county: Any, mid: str) -> list[tuple[str, str]]:
    with schema_context(county.schema_name):
        return [(b.code_hash, b.receipt) for b in opened(mid)]


def test_the_fast_path_serves_the_common_shape_and_keeps_the_contract(county_a) -> None:
    host, mid = new_meeting(county_a)
    plain = to_ballot_open(host, mid)
    voter = Api(county_a)
    first = voter.post(f"v/{mid}/ballot/", {"code": plain[0], "marks": MARKS}, expect=201)
    assert set(first) == {"receipt", "repeated"} and first["repeated"] is False
    again = voter.post(f"v/{mid}/ballot/", {"code": plain[0], "marks": MARKS}, expect=200)
    assert again["receipt"] == first["receipt"] and again["repeated"] is True
    other = voter.post(f"v/{mid}/ballot/", {"code": plain[0], "marks": {SUBJECT: {"zongti": "bu_chenzhi"}}})
    error = assert_error(other, 409, "code_already_used")
    assert "已投过票" in error["message"]
    assert len(sealed(county_a, mid)) == 1
    # The answer is DRF's JSON: compact, UTF-8, application/json, with the Allow header.
    response = voter.client.post(
        f"/api/v/{mid}/ballot/", {"code": plain[1], "marks": MARKS}, content_type="application/json",
        HTTP_HOST=voter.host,
    )
    assert response.status_code == 201
    assert response["Content-Type"] == "application/json"
    assert response["Allow"] == "POST, OPTIONS"
    assert response.content == json.dumps(json.loads(response.content), separators=(",", ":")).encode()


def test_padded_values_take_the_drf_path_and_count_as_the_same_ballot(county_a) -> None:
    """DRF trims strings; the fast path leaves such requests to it, so the receipt is the same."""
    host, mid = new_meeting(county_a)
    plain = to_ballot_open(host, mid)
    voter = Api(county_a)
    padded = voter.post(f"v/{mid}/ballot/", {"code": f"  {plain[0]} ", "marks": {SUBJECT: {"zongti": " chenzhi "}}},
                        expect=201)
    exact = voter.post(f"v/{mid}/ballot/", {"code": plain[0], "marks": MARKS}, expect=200)
    assert exact["receipt"] == padded["receipt"] and exact["repeated"] is True


BAD_INPUT = [
    (b'{"code": "x", "marks": ', "application/json", 400, "malformed_request"),
    (b'{"code": "K7QM-X2PA-9F3R"}', "application/json", 400, "invalid_input"),
    (b'{"marks": {}}', "application/json", 400, "invalid_input"),
    (b'{"code": "K7QM-X2PA-9F3R", "marks": {}, "voter": "p1"}', "application/json", 400, "invalid_input"),
    (b'{"code": 12, "marks": {}}', "application/json", 400, "malformed_code"),
    (b'{"code": "", "marks": {}}', "application/json", 400, "invalid_input"),
    (b'{"code": "K7QM-X2PA-9F3R", "marks": []}', "application/json", 400, "invalid_input"),
    (b'{"code": "K7QM-X2PA-9F3R", "marks": {"a": "b"}}', "application/json", 400, "invalid_input"),
    (b'{"code": "K7QM-X2PA-9F3R", "marks": {"a": {"b": ""}}}', "application/json", 400, "invalid_input"),
    (b'{"code": "K7QM-X2PA-9F3R", "marks": {"a": {"b": NaN}}}', "application/json", 400, "malformed_request"),
    (b"[1, 2]", "application/json", 400, "invalid_input"),
    (b"code=K7QM-X2PA-9F3R", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    (b'{"code": "1234", "marks": {}}', "application/json", 400, "malformed_code"),
    ('{"code": "K7QM-X2PA-9F3R", "marks": {}}'.encode("utf-16"), "application/json", 400, "malformed_request"),
]


def test_bad_input_is_a_4xx_that_stores_nothing(county_a) -> None:
    host, mid = new_meeting(county_a)
    plain = to_ballot_open(host, mid)
    before = host.get(f"meetings/{mid}/")["version"]
    voter = Api(county_a)
    for body, content_type, status, code in BAD_INPUT:
        assert_error(raw_post(voter, f"v/{mid}/ballot/", body, content_type), status, code)
    # Well formed, but refused by the meeting: nothing stored either.
    unused = next(c for c in ("K7QM-X2PA-9F3R", "K7QM-X2PA-9F3S") if c not in plain)
    assert_error(voter.post(f"v/{mid}/ballot/", {"code": unused, "marks": MARKS}), 404, "unknown_code")
    assert_error(voter.post(f"v/{mid}/ballot/", {"code": plain[0], "marks": {}}), 400, "ballot_invalid")
    assert sealed(county_a, mid) == []
    assert host.get(f"meetings/{mid}/")["version"] == before


def _both_views(county: Any, mid: str, body: bytes, content_type: str = "application/json", **headers: str) -> list[Any]:
    """The same request through the endpoint (fast path in front) and through DRF alone."""
    fast = fast_path(VoterBallotApi)
    drf_only = VoterBallotApi.as_view()
    answers = []
    for view in (fast, drf_only):
        request = RequestFactory().post(
            f"/api/v/{mid}/ballot/", body, content_type=content_type, HTTP_HOST=host_of(county), **headers
        )
        with schema_context(county.schema_name):
            response = view(request, meeting_id=mid)
            if hasattr(response, "render"):
                response.render()
        answers.append((response.status_code, json.loads(response.content), response["Content-Type"], response["Allow"]))
    return answers


def test_fast_path_and_drf_answer_refusals_alike(county_a) -> None:
    host, mid = new_meeting(county_a)
    plain = to_ballot_open(host, mid)
    unused = next(c for c in ("K7QM-X2PA-9F3R", "K7QM-X2PA-9F3S") if c not in plain)
    requests = [
        {"code": "1234", "marks": MARKS},  # malformed code
        {"code": unused, "marks": MARKS},  # unknown code
        {"code": plain[0], "marks": {SUBJECT: {"zongti": "excellent"}}},  # grade not on the scale
        {"code": plain[0], "marks": {}},  # nothing graded
        {"code": plain[0], "marks": {"nobody": {"zongti": "chenzhi"}}},  # not a subject of this meeting
    ]
    for body in requests:
        fast, drf = _both_views(county_a, mid, json.dumps(body).encode())
        assert fast == drf, body
        assert 400 <= fast[0] < 500
    fast, drf = _both_views(county_a, "nosuchmeeting", json.dumps({"code": plain[0], "marks": MARKS}).encode())
    assert fast == drf and fast[0] == 404 and fast[1]["error"]["code"] == "unknown_meeting"
    # A client that accepts only HTML is refused by DRF's negotiation, on both paths.
    fast, drf = _both_views(county_a, mid, json.dumps({"code": plain[0], "marks": MARKS}).encode(), HTTP_ACCEPT="text/html")
    assert fast == drf and fast[0] == 406
    assert sealed(county_a, mid) == []
    # A used code, refused alike.
    Api(county_a).post(f"v/{mid}/ballot/", {"code": plain[1], "marks": MARKS}, expect=201)
    fast, drf = _both_views(county_a, mid, json.dumps({"code": plain[1], "marks": {SUBJECT: {"zongti": "bu_chenzhi"}}}).encode())
    assert fast == drf and fast[0] == 409 and fast[1]["error"]["code"] == "code_already_used"
    fast, drf = _both_views(county_a, mid, json.dumps({"code": plain[1], "marks": MARKS}).encode())
    assert fast == drf and fast[0] == 200 and fast[1]["repeated"] is True
    assert len(sealed(county_a, mid)) == 1


def test_a_stale_cached_state_lets_no_ballot_in_after_the_close(county_a) -> None:
    host, mid = new_meeting(county_a)
    plain = to_ballot_open(host, mid)
    voter = Api(county_a)
    voter.post(f"v/{mid}/ballot/", {"code": plain[0], "marks": MARKS}, expect=201)  # the process caches "ballot open"
    host.post(f"meetings/{mid}/ballot/close/", expect=200)
    late = voter.post(f"v/{mid}/ballot/", {"code": plain[1], "marks": MARKS})
    assert_error(late, 409, "wrong_phase")
    assert sealed(county_a, mid) == []  # the box was emptied into the log at the close; nothing since


def test_a_stale_cached_state_does_not_refuse_what_the_current_one_accepts(county_a) -> None:
    host, mid = new_meeting(county_a)
    plain = to_ballot_open(host, mid)
    voter = Api(county_a)
    voter.post(f"v/{mid}/ballot/", {"code": plain[0], "marks": MARKS}, expect=201)  # caches the state
    # Codes issued after that state was cached: unknown to it, known to the meeting.
    more = host.post(f"meetings/{mid}/codes/", {"category": "representative", "count": 2, "margin": 2},
                     expect=200)["codes"]
    answer = voter.post(f"v/{mid}/ballot/", {"code": more[0], "marks": MARKS}, expect=201)
    assert answer["repeated"] is False
    assert len(sealed(county_a, mid)) == 2


def test_counties_taking_turns_on_one_connection_keep_their_ballots_apart(county_a, county_b) -> None:
    """The seal is a prepared statement; a plan made under one county's search_path is never run in another."""
    meetings = []
    for county in (county_a, county_b):
        host, mid = new_meeting(county)
        meetings.append((county, mid, to_ballot_open(host, mid)))
    for n in range(3):
        for county, mid, plain in meetings:  # the test client: one thread, one connection
            Api(county).post(f"v/{mid}/ballot/", {"code": plain[n], "marks": MARKS}, expect=201)
    (a, mid_a, _), (b, mid_b, _) = meetings
    assert len(sealed(a, mid_a)) == 3 and len(sealed(b, mid_b)) == 3
    assert sealed(a, mid_b) == [] and sealed(b, mid_a) == []
    with connection.cursor() as cursor:  # the one connection both counties' seals ran on
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE NOT from_sql")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("INSERT INTO meetings_ballot_box" in s for s in prepared), prepared


def test_what_the_box_keeps_of_a_ballot(county_a) -> None:
    """Secrecy: a sealed ballot is a keyed slot, its meeting and ciphertext; nothing else, nothing in the clear."""
    host, mid = new_meeting(county_a)
    plain = to_ballot_open(host, mid)
    answer = Api(county_a).post(f"v/{mid}/ballot/", {"code": plain[0], "marks": MARKS}, expect=201)
    with schema_context(county_a.schema_name), connection.cursor() as cursor:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = 'meetings_ballot_box' ORDER BY column_name",
            [county_a.schema_name],
        )
        assert [r[0] for r in cursor.fetchall()] == ["meeting_id", "sealed", "slot"]
        cursor.execute("SELECT slot, sealed FROM meetings_ballot_box WHERE meeting_id = %s", [mid])
        slot, sealed_bytes = (bytes(v) for v in cursor.fetchone())
        (ballot,) = opened(mid)
    # Neither the code hash (published with the marks), nor the marks, nor the receipt is readable.
    for clear in (ballot.code_hash.encode(), bytes.fromhex(ballot.code_hash), answer["receipt"].encode(),
                  bytes.fromhex(answer["receipt"]), b"chenzhi"):
        assert clear not in slot + sealed_bytes
    assert ballot.receipt == answer["receipt"] and ballot.marks == MARKS
