"""A 0-second report time typed into the round form (/rounds/new/) is refused next to its field; nothing is appended.

Issue 13's bad-input bar: the API's refusal (`invalid_time_limit`) is tested in
tests/integration/meetings/test_counts_api.py; this is the same rule as the
organization department meets it on the page, in minutes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from tests.integration.test_round_form import error_at, events_count, form_data, login


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("reporttime")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        yield made
        connection.close()


def test_a_zero_minute_report_time_is_refused_next_to_its_field_in_chinese_and_opens_nothing(county: Any) -> None:
    client = login(county, "county_admin")
    data = {**form_data(client), "name": "2026年度零分钟述职", "t_village": "0", "t_township": "0.0"}
    before = events_count()

    answer = client.post("/rounds/new/", data)

    assert answer.status_code == 400
    html = answer.content.decode()
    assert error_at(html, "t_village") == "述职时限须大于 0 分钟"
    assert error_at(html, "t_township") == "述职时限须大于 0 分钟"
    assert error_at(html, "threshold") == ""  # the preset's other fields stay good
    assert 'name="t_village" value="0"' in html  # what was typed stays in the form
    assert events_count() == before
    assert "2026年度零分钟述职" not in client.get("/workspace/").content.decode()


def test_the_shortest_report_time_the_form_takes_opens_the_round(county: Any) -> None:
    client = login(county, "county_admin")
    data = {**form_data(client), "name": "2026年度六秒述职", "t_village": "0.1"}  # six seconds: short, not zero
    before = events_count()
    answer = client.post("/rounds/new/", data)
    assert answer.status_code == 302 and events_count() == before + 1
    assert "村级述职人 0.1 分钟" in client.get(answer["Location"]).content.decode()
