"""The organization department keeps the registry of officials and bodies from /registry/, in Chinese."""

from __future__ import annotations

import re
import uuid
from typing import Any

from django_tenants.utils import schema_context
from playwright.sync_api import expect

from meetings.models import Township, Village


def _login(hall: Any, page: Any, role: str, next_path: str) -> None:
    username, password = hall.user(role)
    page.goto(hall.url(f"/login/?next={next_path}"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")


def test_the_county_admin_registers_an_official_assigns_a_post_and_sees_it_listed(
    hall: Any, contexts: Any, artifacts: Any
) -> None:
    suffix = uuid.uuid4().hex[:4]
    with hall.db(), schema_context(hall.county.schema_name):
        township = Township.objects.create(name=f"石桥镇{suffix}")
        village = Village.objects.create(township=township, name=f"马家村{suffix}")
    page = contexts.desk().new_page()
    _login(hall, page, "county_admin", "/registry/")
    expect(page).to_have_url(re.compile(r"/registry/$"))
    expect(page.locator("header .page-title")).to_have_text("干部与组织名录", use_inner_text=True)

    # A Party branch without its village: refused, the reason next to the village field, nothing saved.
    body_form = page.locator("#form-body")
    body_form.locator("[name=body-name]").fill(f"马家村{suffix}党支部")
    body_form.locator("[name=body-kind]").select_option("party_branch")
    body_form.locator("[name=body-township_id]").select_option(str(township.pk))
    body_form.locator("button[type=submit]").click()
    error = page.locator("#form-body [data-field=body-village_id]")
    expect(error).to_have_text("村党支部须属于一个村（社区）", use_inner_text=True)
    expect(page.locator("#failed")).to_be_visible()
    expect(page.locator("#form-body [name=body-name]")).to_have_value(f"马家村{suffix}党支部")  # what was typed stays
    expect(page.locator("#bodies tr[data-body]").filter(has_text=f"马家村{suffix}党支部")).to_have_count(0)

    page.locator("#form-body [name=body-village_id]").select_option(str(village.pk))
    page.locator("#form-body button[type=submit]").click()
    expect(page.locator("#done")).to_have_text("组织已登记", use_inner_text=True)
    body_row = page.locator("#bodies tr[data-body]").filter(has_text=f"马家村{suffix}党支部")
    expect(body_row).to_contain_text("村党支部", use_inner_text=True)
    body_id = body_row.get_attribute("data-body")

    # An official without a name is refused next to the name field.
    page.locator("#form-official button[type=submit]").click()
    expect(page.locator("#form-official [data-field=official-name]")).to_have_text("请填写此项", use_inner_text=True)
    page.locator("#form-official [name=official-name]").fill(f"王建国{suffix}")
    page.locator("#form-official [name=official-gender]").select_option("male")
    page.locator("#form-official button[type=submit]").click()
    expect(page.locator("#done")).to_have_text("干部已登记", use_inner_text=True)
    row = page.locator("#officials tr[data-official]").filter(has_text=f"王建国{suffix}")
    expect(row.locator("td.current")).to_contain_text("无在任职务", use_inner_text=True)
    official_id = row.get_attribute("data-official")

    post_form = page.locator("#form-post")
    post_form.locator("[name=post-official_id]").select_option(official_id)
    post_form.locator("[name=post-body_id]").select_option(body_id)
    post_form.locator("[name=post-post]").fill("党支部书记")
    post_form.locator("[name=post-from_date]").fill("2024-01-15")
    post_form.locator("button[type=submit]").click()
    expect(page.locator("#done")).to_have_text("任职已登记", use_inner_text=True)
    current = page.locator(f"#officials tr[data-official={official_id}] td.current")
    expect(current).to_contain_text(f"马家村{suffix}党支部 · 党支部书记", use_inner_text=True)
    expect(current).to_contain_text(f"石桥镇{suffix} 马家村{suffix} · 2024-01-15 起", use_inner_text=True)

    # The same post again is refused, next to the post field.
    post_form = page.locator("#form-post")
    post_form.locator("[name=post-official_id]").select_option(official_id)
    post_form.locator("[name=post-body_id]").select_option(body_id)
    post_form.locator("[name=post-post]").fill("党支部书记")
    post_form.locator("[name=post-from_date]").fill("2024-02-01")
    post_form.locator("button[type=submit]").click()
    expect(page.locator("#form-post [data-field=post-post]")).to_contain_text(
        f"王建国{suffix}已在马家村{suffix}党支部担任党支部书记", use_inner_text=True
    )

    # Found by name, by township; a screenshot for a person to look at.
    page.locator("#filter-q").fill(f"王建国{suffix}")
    page.locator("#filter-submit").click()
    expect(page.locator("#officials tr[data-official]")).to_have_count(1)
    expect(page.locator(f"#officials tr[data-official={official_id}]")).to_contain_text("党支部书记", use_inner_text=True)
    page.screenshot(path=str(artifacts / "registry.png"), full_page=True)

    # Ending the post moves it to the past posts.
    page.locator(f"#officials tr[data-official={official_id}] form.end-post input[type=date]").fill("2025-12-31")
    page.locator(f"#officials tr[data-official={official_id}] form.end-post button").click()
    expect(page.locator("#done")).to_have_text("已免去该职务", use_inner_text=True)
    listed = page.locator(f"#officials tr[data-official={official_id}]")
    expect(listed.locator("td.current")).to_contain_text("无在任职务", use_inner_text=True)
    expect(listed.locator("td.past")).to_contain_text("2024-01-15 — 2025-12-31", use_inner_text=True)

    # A misspelt name is corrected with its reason (the record keeps the correction); a body is renamed.
    correct = page.locator("#form-correct")
    correct.locator("[name=correct-official_id]").select_option(official_id)
    correct.locator("[name=correct-name]").fill(f"王建华{suffix}")
    correct.locator("button[type=submit]").click()
    expect(page.locator("#form-correct [data-field=correct-reason]")).to_have_text("请填写此项", use_inner_text=True)
    page.locator("#form-correct [name=correct-reason]").fill("身份证姓名为王建华，登记时笔误")
    page.locator("#form-correct button[type=submit]").click()
    expect(page.locator("#done")).to_have_text("干部信息已更正", use_inner_text=True)
    rename = page.locator("#form-rename")
    rename.locator("[name=rename-body_id]").select_option(body_id)
    rename.locator("[name=rename-name]").fill(f"马家村{suffix}党总支")
    rename.locator("button[type=submit]").click()
    expect(page.locator("#done")).to_have_text("组织已更名", use_inner_text=True)
    page.locator("#filter-q").fill(f"王建华{suffix}")
    page.locator("#filter-submit").click()
    expect(page.locator(f"#officials tr[data-official={official_id}]")).to_contain_text(f"王建华{suffix}",
                                                                                       use_inner_text=True)
    expect(page.locator(f"#officials tr[data-official={official_id}] td.past")).to_contain_text(
        f"马家村{suffix}党总支", use_inner_text=True)


def test_only_the_county_admin_opens_the_registry(hall: Any, contexts: Any) -> None:
    page = contexts.desk().new_page()
    _login(hall, page, "host", "/registry/")
    expect(page.locator("#error-message")).to_contain_text("只有县委组织部可以维护干部与组织名录", use_inner_text=True)
