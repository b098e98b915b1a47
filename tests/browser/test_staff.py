"""The staff page in Chromium: one administrator asks for a teller, only another one can confirm."""

from __future__ import annotations

from typing import Any

from django_tenants.utils import schema_context
from playwright.sync_api import expect

from accounts.models import User


def log_in(page: Any, hall: Any, username: str, password: str) -> None:
    page.goto(hall.url("/login/?next=/staff/"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")
    expect(page.locator(".page-title")).to_contain_text("工作人员与角色", use_inner_text=True)


def test_a_teller_grant_waits_for_a_second_administrator(hall: Any, contexts: Any, artifacts: Any) -> None:
    first, first_pw = hall.user("county_admin")
    second, second_pw = hall.user("county_admin")
    newcomer, _ = hall.user("observer")
    with hall.db(), schema_context(hall.county.schema_name):
        User.objects.filter(username=newcomer).update(role="")

    page = contexts.desk().new_page()
    log_in(page, hall, first, first_pw)
    page.select_option("select[name=username]", newcomer)
    page.select_option("select[name=role]", "teller")
    page.click("text=提出授权")
    row = page.locator("[data-testid=pending] tr", has_text=newcomer)
    expect(row).to_contain_text("须由另一位管理员确认", use_inner_text=True)
    expect(row.locator("button", has_text="确认")).to_have_count(0)
    expect(page.locator(f"tr[data-account={newcomer}] td[data-role]")).to_have_attribute("data-role", "")
    page.screenshot(path=str(artifacts / "staff-pending.png"), full_page=True)

    other = contexts.desk().new_page()
    log_in(other, hall, second, second_pw)
    other.locator("[data-testid=pending] tr", has_text=newcomer).locator("button", has_text="确认").click()
    expect(other.locator(f"tr[data-account={newcomer}] td[data-role]")).to_have_attribute("data-role", "teller")
    expect(other.locator("[data-testid=recent] tr", has_text=newcomer).first).to_contain_text(second, use_inner_text=True)
    with hall.db(), schema_context(hall.county.schema_name):
        assert User.objects.get(username=newcomer).role == "teller"
