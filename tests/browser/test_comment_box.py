"""A village's suggestion box in Chromium: a villager's phone, the county's comment ledger, a rectification item.

A villager opens the box of their village on a phone-sized screen (no
login), drops a suggestion without a contact; the county finds it in the
comment ledger as a back-to-back comment that names no one, with nothing
about the phone it came from, opens a rectification item from it, and the
ledger row then links the item. Screenshots are saved.
"""

from __future__ import annotations

import uuid
from typing import Any

from django_tenants.utils import schema_context
from playwright.sync_api import expect

from meetings.models import Township, Village

SUGGESTION = "村东头的路灯坏了三个月，晚上接孩子很不安全"
PHONE_UA = "Mozilla/5.0 (Linux; Android 8.1; CheapPhone) Mobile"


def log_in(page: Any, hall: Any, username: str, password: str, path: str) -> None:
    page.goto(hall.url(f"/login/?next={path}"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")
    page.wait_for_url(hall.url(path))


def test_a_villager_drops_a_suggestion_from_a_phone_and_the_county_opens_an_item(
    hall: Any, contexts: Any, artifacts: Any,
) -> None:
    name = f"槐树村{uuid.uuid4().hex[:4]}"
    with hall.db(), schema_context(hall.county.schema_name):
        village_id = Village.objects.create(township=Township.objects.create(name="青石镇"), name=name).pk

    # The villager, on a small phone, without an account.
    phone = contexts.new(viewport={"width": 360, "height": 640}, is_mobile=True, has_touch=True,
                         user_agent=PHONE_UA).new_page()
    phone.goto(hall.url(f"/yijianxiang/{village_id}/"))
    expect(phone.locator("#box-title")).to_contain_text(f"{name} 群众意见箱")
    expect(phone.locator("#village-public")).to_have_attribute("href", f"/gongkai/{village_id}/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360  # nothing to scroll sideways
    phone.fill("#text", SUGGESTION)
    phone.locator("#drop").tap()
    expect(phone.locator("#sent")).to_contain_text("已记入点评台账")
    expect(phone.locator("#text")).to_have_value("")
    phone.screenshot(path=str(artifacts / "comment-box-phone.png"), full_page=True)

    # The county: the suggestion is in the comment ledger, back to back, naming no one.
    admin, password = hall.user("county_admin")
    desk = contexts.desk().new_page()
    log_in(desk, hall, admin, password, "/comments/")
    row = desk.locator("tr[data-comment]", has_text=SUGGESTION)
    expect(row).to_have_attribute("data-manner", "suggestion_box")
    expect(row).to_contain_text("群众意见箱 · 背靠背（意见箱）")
    expect(row.locator("td.commenter")).to_have_text("（匿名）")
    expect(row).to_contain_text(f"青石镇 · {name}")
    text = row.inner_text()
    assert "CheapPhone" not in text and "127.0.0.1" not in text and "联系方式" not in text

    # ... and opens a rectification item from it, through the ledger.
    row.locator("textarea[name=problem]").fill("村东头路灯损坏未修")
    row.locator("button[name=open_item]").click()
    expect(desk.locator("h1")).to_have_text("村东头路灯损坏未修")
    item_url = desk.url
    desk.goto(hall.url("/comments/"))
    link = desk.locator("tr[data-comment]", has_text=SUGGESTION).locator("a.item-link")
    expect(link).to_have_count(1)
    assert hall.url(link.get_attribute("href") or "") == item_url
    desk.screenshot(path=str(artifacts / "comment-ledger.png"), full_page=True)
    desk.goto(hall.url("/ledger/"))
    expect(desk.locator("[data-testid=ledger-items]")).to_contain_text("村东头路灯损坏未修")
    expect(desk.locator("[data-testid=ledger-items]")).to_contain_text("点评意见")

    # The village's record lists the suggestion and the item it led to.
    desk.goto(hall.url(f"/records/villages/{village_id}/"))
    expect(desk.locator("[data-testid=record-comments]")).to_contain_text(SUGGESTION)
    expect(desk.locator("[data-testid=record-items]")).to_contain_text("村东头路灯损坏未修")

    # The village's public page (its commitments both ways, see test_year.py) shows the item's progress too.
    phone.goto(hall.url(f"/gongkai/{village_id}/"))
    place = phone.locator(f"section[data-place='青石镇{name}']")
    expect(place).to_contain_text("村东头路灯损坏未修", use_inner_text=True)
    expect(place.locator("[data-testid=village-summary]")).to_have_text("发现问题1个，制定整改措施0条，已完成0条，正在整改0条")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360
    phone.screenshot(path=str(artifacts / "comment-box-village-public.png"), full_page=True)
