"""The organization department opens a 双述双评 round from the workspace, in real Chromium.

It logs in on the county's home page, lands on the workspace, opens the round
form, picks the preset, first sends a threshold over 100% (refused next to the
field, nothing opened), then changes a weight and the threshold, opens the
round and finds it on the workspace. Screenshots go to
tests/artifacts/round_form/ (ignored by git) for a person to look at.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import Hall


def test_the_county_admin_opens_a_shuang_shu_shuang_ping_round_from_the_workspace(
    hall: Hall, contexts: Any, artifacts: Any
) -> None:
    shots = artifacts / "round_form"
    shots.mkdir(exist_ok=True)
    name = f"2026年度城关镇双述双评{uuid.uuid4().hex[:4]}"
    username, password = hall.user("county_admin")
    page = contexts.desk().new_page()
    visited: list[str] = []
    page.on("request", lambda request: visited.append(request.url))

    page.goto(hall.url("/"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")
    expect(page).to_have_url(re.compile(r"/workspace/$"))
    page.click("#new-round")
    expect(page).to_have_url(re.compile(r"/rounds/new/$"))
    expect(page.locator("#presets .preset")).to_have_count(4)
    page.screenshot(path=str(shots / "1-presets.png"), full_page=True)

    page.locator("[data-preset=shuang_shu_shuang_ping] a.button").click()
    expect(page.locator("h1")).to_contain_text("双述双评", use_inner_text=True)
    form = page.locator("#round-form")
    expect(form.locator("[name=threshold]")).to_have_value("30")
    expect(form.locator("[name=t_village]")).to_have_value("8")  # 480 s shown in minutes
    expect(form.locator("#criteria tbody tr")).to_have_count(7)  # five criteria and two blank rows
    form.locator("#add-criterion").click()  # the script adds a row
    expect(form.locator("#criteria tbody tr")).to_have_count(8)
    form.locator("[name=criteria-7-id]").fill("minsheng")
    form.locator("[name=criteria-7-name_zh]").fill("民生实事")
    form.locator("[name=name]").fill(name)
    form.locator("[name=w_party_member]").fill("3")
    form.locator("[name=threshold]").fill("120")
    form.locator("#open-round").click()

    expect(page.locator("#failed")).to_be_visible()
    expect(page.locator("[data-field=threshold]")).to_have_text("诫勉谈话线须大于 0%，且不超过 100%", use_inner_text=True)
    expect(page.locator("[name=w_party_member]")).to_have_value("3")  # what was typed stays
    expect(page.locator("[name=criteria-7-name_zh]")).to_have_value("民生实事")
    page.screenshot(path=str(shots / "2-threshold-refused.png"), full_page=True)

    page.locator("[name=threshold]").fill("25")
    page.locator("#open-round").click()
    expect(page.locator("#done")).to_be_visible()
    expect(page.locator("#round-page h1")).to_contain_text(name, use_inner_text=True)
    expect(page.locator("[data-rule=weights]")).to_have_text("党员 3，村民代表 1", use_inner_text=True)
    expect(page.locator("[data-rule=threshold]")).to_have_text("差评率达到 25%", use_inner_text=True)
    expect(page.locator("[data-rule=criteria]")).to_contain_text("民生实事", use_inner_text=True)
    page.screenshot(path=str(shots / "3-round.png"), full_page=True)

    page.locator("#round-page a[href='/workspace/']").first.click()
    round_card = page.locator("section.round").filter(has_text=name)
    expect(round_card).to_have_count(1)
    expect(round_card.locator("[data-stage=scheduled]")).to_have_text("0")
    page.screenshot(path=str(shots / "4-workspace.png"), full_page=True)
    assert not [url for url in visited if "/admin/" in url]
