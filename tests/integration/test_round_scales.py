"""/rounds/new/ lets a county choose the scale for bodies and for persons apart; /rounds/<id>/ shows both."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from tests.integration.test_round_form import error_at, events_count, form_data, login


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("roundscales")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        yield made
        connection.close()


def test_shuang_shu_shuang_ping_offers_a_scale_for_bodies_and_one_for_persons(county: Any) -> None:
    client = login(county, "county_admin")
    presets = client.get("/rounds/new/").content.decode()
    assert "组织（村党支部、村委会等） 好/较好/一般/差，个人（干部） 称职/基本称职/不称职" in presets
    data = form_data(client, "shuang_shu_shuang_ping")
    assert (data["scale_body"], data["scale_person"]) == ("hao_jiaohao_yiban_cha", "chenzhi")
    assert (form_data(client, "zhi_ping_cun_guan")["scale_body"], form_data(client, "zhi_ping_cun_guan")["scale_person"]) == (
        "chenzhi", "chenzhi")

    data.update({"name": "2026年度双述双评（满意度）", "scale_body": "manyi"})
    answer = client.post("/rounds/new/", data)
    assert answer.status_code == 302
    page = client.get(answer["Location"].split("?")[0]).content.decode()
    assert 'data-kind="body">组织（村党支部、村委会等）：满意 / 基本满意 / 不满意</span>' in page
    assert 'data-kind="person">个人（干部）：称职 / 基本称职 / 不称职</span>' in page


def test_a_scale_not_offered_is_refused_next_to_its_field(county: Any) -> None:
    client = login(county, "county_admin")
    data = {**form_data(client, "shuang_shu_shuang_ping"), "name": "2026年度双述双评", "scale_person": "yes_no"}
    before = events_count()
    answer = client.post("/rounds/new/", data)
    assert answer.status_code == 400
    html = answer.content.decode()
    assert error_at(html, "scale_person") == "请从列表中选择" and error_at(html, "scale_body") == ""
    assert events_count() == before


def test_a_round_with_one_scale_says_it_once(county: Any) -> None:
    client = login(county, "county_admin")
    data = {**form_data(client, "zhi_ping_cun_guan"), "name": "2026年度直评村官"}
    answer = client.post("/rounds/new/", data)
    assert answer.status_code == 302
    page = client.get(answer["Location"].split("?")[0]).content.decode()
    assert '<dd data-rule="scale">称职 / 基本称职 / 不称职</dd>' in page
