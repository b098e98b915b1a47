"""What a phone's ballot and its form cost in round trips to PostgreSQL, through the whole HTTP stack.

At the year-end peak hundreds of phones cast at once; the server's CPU per
ballot is mostly psycopg round trips (issue 18). A ballot must cost the same
number of statements whether it is the first or the hundredth of its meeting,
and a resent ballot no more than a new one. The county's host lookup is left
out: it is cached per process outside transactions (tenants.hosts,
tests/integration/test_host_cache.py), and a test runs inside one.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.integration.meetings.api_client import Api
from tests.integration.meetings.test_api_contract import SUBJECT, new_meeting, to_ballot_open

pytestmark = pytest.mark.django_db

MARKS = {SUBJECT: {"zongti": "chenzhi"}}


def _statements(captured: CaptureQueriesContext) -> list[str]:
    """The statements of a request, without the host lookup (see the module's docstring)."""
    return [
        q["sql"] for q in captured.captured_queries
        if not q["sql"].startswith("SET search_path") and "tenants_domain" not in q["sql"]
    ]


def test_a_ballot_costs_the_same_statements_first_or_last_and_a_resend_no_more(
    county_a: Any, django_capture_on_commit_callbacks: Any,
) -> None:
    host, mid = new_meeting(county_a)
    plain = to_ballot_open(host, mid)
    voter = Api(county_a)
    voter.post(f"v/{mid}/form/", {"code": plain[0]}, expect=200)  # the meeting's state is in this process now
    per_cast: list[int] = []
    per_form: list[int] = []
    for code in plain[:12]:
        with CaptureQueriesContext(connection) as form:
            shown = voter.post(f"v/{mid}/form/", {"code": code}, expect=200)
        assert shown["voted"] is False and shown["phase"] == "ballot_open"
        with CaptureQueriesContext(connection) as cast, django_capture_on_commit_callbacks(execute=True):
            first = voter.post(f"v/{mid}/ballot/", {"code": code, "marks": MARKS}, expect=201)
        per_form.append(len(_statements(form)))
        per_cast.append(len(_statements(cast)))
    # One statement seals the ballot (guarded by the stream's version and head),
    # at most one more counts the turnout for the hall screens after commit.
    assert set(per_cast) == {per_cast[0]} and per_cast[0] == 2, per_cast
    # The form: one statement reads the stream's head (the state is cached) and whether the box holds the code.
    assert set(per_form) == {per_form[0]} and per_form[0] == 1, per_form
    with CaptureQueriesContext(connection) as again:
        resent = voter.post(f"v/{mid}/ballot/", {"code": plain[11], "marks": MARKS}, expect=200)
    assert resent == {"receipt": first["receipt"], "repeated": True}
    assert len(_statements(again)) <= per_cast[0]
    assert voter.post(f"v/{mid}/form/", {"code": plain[11]}, expect=200)["voted"] is True
