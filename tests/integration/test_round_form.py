"""Opening a round from /rounds/new/ and reading it at /rounds/<id>/, against real PostgreSQL.

The pages are fetched with Django's test client on the county's host name,
logged in through the county's login form, as a person would.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from meetings.domain.rules import PRESETS, Rules
from tests.conftest import host_of
from tests.integration.meetings.api_client import Api

VARIANT = "shuang_shu_shuang_ping"


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("roundform")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        yield made
        connection.close()


def login(county: Any, role: str) -> Client:
    name = f"{role}_{uuid.uuid4().hex[:6]}"
    User.objects.create_user(username=name, password=f"pw-{name}-Shuping1", role=role)
    client = Client(HTTP_HOST=host_of(county))
    client.post("/login/", {"username": name, "password": f"pw-{name}-Shuping1"})
    return client


def events_count() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events")
        return int(cursor.fetchone()[0])


def form_data(client: Client, variant: str = VARIANT) -> dict[str, str]:
    """What the drawn form sends as it is: every field with the value it was filled with."""
    html = client.get(f"/rounds/new/?preset={variant}").content.decode()
    data: dict[str, str] = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="checkbox"' not in tag:
            data[name.group(1)] = value.group(1) if value else ""
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', html, flags=re.S):
        data[name] = re.search(r'<option value="([^"]*)"[^>]*selected', body).group(1)  # type: ignore[union-attr]
    return data


def error_at(html: str, field: str) -> str:
    found = re.search(rf'data-field="{re.escape(field)}">([^<]*)<', html)
    return found.group(1).strip() if found else ""


def test_the_preset_page_names_the_four_variants_in_chinese(county: Any) -> None:
    html = login(county, "county_admin").get("/rounds/new/").content.decode()
    for name in ("双述双评", "四个双向", "直评村官", "领导点评 + 群众评议"):
        assert name in html
    assert html.count('href="/rounds/new/?preset=') == len(PRESETS)


def test_a_bad_form_shows_each_error_next_to_its_field_and_appends_nothing(county: Any) -> None:
    client = login(county, "county_admin")
    data = form_data(client)
    assert data["threshold"] == "30" and data["qs_party_member"] == "80"  # the preset, as a person reads it
    rows = int(data["criteria-TOTAL_FORMS"])
    for i in range(rows):  # empty every criterion row
        data[f"criteria-{i}-id"] = ""
        data[f"criteria-{i}-name_zh"] = ""
    data.update({"threshold": "120", "w_representative": "0", "qs_party_member": "150", "name": "2026年度双述双评"})
    before = events_count()

    answer = client.post("/rounds/new/", data)

    assert answer.status_code == 400
    html = answer.content.decode()
    assert error_at(html, "threshold") == "诫勉谈话线须大于 0%，且不超过 100%"
    assert error_at(html, "criteria") == "至少需要一项测评指标"
    assert error_at(html, "w_representative") == "权重须为正整数"
    assert error_at(html, "qs_party_member") == "到会比例须在 0% 到 100% 之间"
    assert error_at(html, "w_party_member") == ""  # a good field carries no error
    assert 'name="threshold" value="120"' in html and 'name="qs_party_member" value="150"' in html  # typed values stay
    assert 'value="2026年度双述双评"' in html
    assert events_count() == before


def test_a_field_that_is_not_a_number_is_refused_in_chinese(county: Any) -> None:
    client = login(county, "county_admin")
    data = {**form_data(client), "t_village": "八分钟", "lead_days": "-1", "threshold": "NaN", "qs_party_member": "1e400",
            "criteria-TOTAL_FORMS": "100000"}
    before = events_count()
    answer = client.post("/rounds/new/", data)
    assert answer.status_code == 400
    html = answer.content.decode()
    assert error_at(html, "t_village") == "请填写数字"
    assert error_at(html, "lead_days") == "不能小于 0"
    assert error_at(html, "threshold") == "请填写数字"
    assert error_at(html, "qs_party_member") == "数字太长"
    assert events_count() == before


def test_a_good_form_opens_the_round_with_the_changed_rules_once(county: Any) -> None:
    client = login(county, "county_admin")
    data = form_data(client)
    data.update({
        "name": "2026年度城关镇双述双评", "w_party_member": "2", "threshold": "25", "t_village": "6.5",
        "criteria-0-DELETE": "on", f"criteria-{data['criteria-TOTAL_FORMS']}-id": "x",  # past the rows sent: ignored
    })
    data["criteria-5-id"], data["criteria-5-name_zh"] = "minsheng", "民生实事"
    before = events_count()

    answer = client.post("/rounds/new/", data)

    assert answer.status_code == 302
    round_id = answer["Location"].split("/")[2]
    assert events_count() == before + 1
    again = client.post("/rounds/new/", data)  # a double click: the same round, nothing more
    assert again["Location"] == answer["Location"] and events_count() == before + 1
    page = client.get(f"/rounds/{round_id}/").content.decode()
    assert "2026年度城关镇双述双评" in page
    assert "党员 2，村民代表 1" in page
    assert "差评率达到 25%" in page
    assert "村级述职人 6.5 分钟" in page
    assert "民生实事" in page and "思想建设" not in page
    assert "党员到会不少于应到人数的 80%" in page
    workspace = client.get("/workspace/").content.decode()
    assert f'href="/rounds/{round_id}/"' in workspace and 'href="/rounds/new/"' in workspace


def test_only_the_county_admin_opens_a_round_from_the_page(county: Any) -> None:
    client = login(county, "host")
    assert client.get("/rounds/new/").status_code == 403
    before = events_count()
    assert client.post("/rounds/new/", {"preset": VARIANT}).status_code == 403
    assert events_count() == before
    assert Client(HTTP_HOST=host_of(county)).get("/rounds/new/").status_code == 302  # to the login


def test_an_unknown_round_or_preset_is_a_chinese_404(county: Any) -> None:
    client = login(county, "county_admin")
    assert "没有这个述评活动" in client.get("/rounds/r000000000000/").content.decode()
    answer = client.get("/rounds/new/?preset=nope")
    assert answer.status_code == 404 and "没有这个预设" in answer.content.decode()


@pytest.mark.parametrize("variant", sorted(PRESETS))
def test_each_preset_sent_unchanged_opens_a_round_with_exactly_the_preset_rules(county: Any, variant: str) -> None:
    client = login(county, "county_admin")
    data = form_data(client, variant)
    answer = client.post("/rounds/new/", data)
    assert answer.status_code == 302, answer.content.decode()
    round_id = answer["Location"].split("/")[2]
    with connection.cursor() as cursor:
        cursor.execute("SELECT variant, rules FROM proj_rounds WHERE round_id = %s", [round_id])
        got_variant, rules = cursor.fetchone()
    opened = Rules.from_data(json.loads(rules) if isinstance(rules, str) else rules)
    expected = PRESETS[variant]
    assert got_variant == variant
    # The form writes every weight out (1 where the preset leaves it implicit); everything else is as preset.
    assert {c: opened.weight(c) for c in opened.voter_categories} == {c: expected.weight(c) for c in expected.voter_categories}
    assert dataclasses.replace(opened, category_weights={}) == dataclasses.replace(expected, category_weights={})


def test_the_api_names_the_rules_field_of_a_threshold_over_100_percent_and_appends_nothing(county: Any) -> None:
    rules = PRESETS[VARIANT].to_data() | {"admonish_threshold": "6/5"}
    before = events_count()
    answer = Api(county, "county_admin").post(
        "rounds/", {"name": "2026年度双述双评", "year": 2026, "variant": VARIANT, "rules": rules}, expect=400)
    assert answer["error"]["code"] == "invalid_threshold"
    assert answer["error"]["message"] == "诫勉谈话阈值须在0到1之间"
    assert answer["error"]["details"] == {"field": "admonish_threshold"}
    assert events_count() == before


def test_a_bad_criterion_id_is_refused_next_to_the_criteria_and_never_echoed_as_markup(county: Any) -> None:
    client = login(county, "county_admin")
    data = {**form_data(client), "criteria-0-id": "<b>思想</b>"}
    before = events_count()
    html = client.post("/rounds/new/", data).content.decode()
    assert error_at(html, "criteria") == "测评指标编号“&lt;b&gt;思想&lt;/b&gt;”须为英文标识符"
    assert "<b>思想</b>" not in html
    assert events_count() == before
