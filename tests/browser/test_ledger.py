"""Interviews and the rectification ledger in Chromium, from a flagged result to the public progress page.

A meeting's results flag its secretary; the sweeper opens the interview by
the rule; the county records it and the plan, raises a ledger item with two
measures, completes one with a photo; the item page shows the photo, the
ledger and the public page (no login) show the summary sentence and the
measure done, without the internal note. Screenshots are saved.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from django.utils import timezone
from django_tenants.utils import schema_context
from PIL import Image
from playwright.sync_api import expect

from followup.sweeps import run_sweepers
from tests.integration.followup.meeting_with_results import announced_meeting

VILLAGE = "杏花村"
NOTE = "书记家中有困难（内部备注）"


def log_in(page: Any, hall: Any, username: str, password: str, path: str) -> None:
    page.goto(hall.url(f"/login/?next={path}"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")
    page.wait_for_url(hall.url(path))


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 140, 60)).save(out, format="JPEG")
    return out.getvalue()


def test_a_flagged_result_leads_to_an_interview_and_a_two_measure_item_shown_in_public(
    hall: Any, contexts: Any, artifacts: Any,
) -> None:
    with hall.db(), schema_context(hall.county.schema_name):
        run_sweepers(datetime.now(UTC))  # whatever earlier tests in this county left due
        meeting_id = announced_meeting(township="桃园镇", village=VILLAGE)
        assert run_sweepers(datetime.now(UTC))["interviews"] == 1
    admin, password = hall.user("county_admin")
    page = contexts.desk().new_page()
    log_in(page, hall, admin, password, "/workspace/")
    expect(page.locator("#interviews-due")).to_contain_text("村党支部书记 王建国", use_inner_text=True)

    # The interview, opened by the rule: record it, then the subject's written plan.
    page.goto(hall.url("/interviews/"))
    card = page.locator("section.interview", has_text=VILLAGE)
    expect(card.locator("[data-testid=interview-state]")).to_have_text("待谈话")
    card.locator("select[name=kind]").select_option("admonishment")
    card.locator("input[name=interviewer]").fill("县委组织部 张明")
    card.locator("textarea[name=record]").fill("指出群众反映的村务公开不及时问题")
    card.locator("button", has_text="记录谈话").click()
    card = page.locator("section.interview", has_text=VILLAGE)
    card.locator("textarea[name=plan]").fill("每月公开村务账目，三个月内整改到位")
    card.locator("input[name=deadline]").fill((timezone.localdate() + timedelta(days=90)).isoformat())
    card.locator("button", has_text="登记整改方案").click()
    expect(page.locator("section.interview", has_text=VILLAGE).locator("[data-testid=interview-state]")) \
        .to_have_text("已交整改方案")
    page.screenshot(path=str(artifacts / "ledger-interview.png"), full_page=True)

    # A ledger item from the interview (its link fills in the meeting and the source), with two measures.
    page.locator("section.interview", has_text=VILLAGE).locator("a", has_text="列入整改台账").click()
    expect(page.locator("select[name=meeting_id]")).to_have_value(meeting_id)
    expect(page.locator("select[name=source_kind]")).to_have_value("interview")
    expect(page.locator("textarea[name=problem]")).to_have_value("指出群众反映的村务公开不及时问题")
    page.fill("textarea[name=problem]", "村务公开不及时，群众不了解集体收支")
    page.fill("textarea[name=note]", NOTE)
    page.click("button[name=raise]")
    expect(page.locator("h1")).to_have_text("村务公开不及时，群众不了解集体收支")
    for text, owner, days in (("每月5日前在公开栏公布上月收支", "王建国", 30), ("建立村务监督委员会审核制度", "李秀英", 60)):
        form = page.locator("#add-measure")
        form.locator("textarea[name=text]").fill(text)
        form.locator("input[name=owner]").fill(owner)
        form.locator("input[name=deadline]").fill((timezone.localdate() + timedelta(days=days)).isoformat())
        form.locator("button").click()
        expect(page.locator(".measure", has_text=text)).to_contain_text("正在整改", use_inner_text=True)

    # A measure without a deadline is refused in Chinese and changes nothing.
    form = page.locator("#add-measure")
    form.locator("textarea[name=text]").fill("没有时限的措施")
    form.locator("input[name=owner]").fill("王建国")
    form.locator("button").click()
    expect(page.locator("[data-testid=ledger-error]")).to_contain_text("每条整改措施都须有完成时限", use_inner_text=True)
    expect(page.locator(".measure")).to_have_count(2)

    # The first measure done, with a photo.
    first = page.locator(".measure[data-measure='1']")
    first.locator("textarea[name=evidence]").fill("已在村务公开栏公布11月收支")
    first.locator("input[type=file]").set_input_files(
        files=[{"name": "公开栏.jpg", "mimeType": "image/jpeg", "buffer": photo()}])
    first.locator("button", has_text="标记完成").click()
    first = page.locator(".measure[data-measure='1']")
    expect(first.locator("[data-testid=measure-status]")).to_have_text("已完成")
    thumb = first.locator("img.thumb")
    expect(thumb).to_have_count(1)
    thumb.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=thumb.element_handle())
    expect(page.locator(".measure[data-measure='2'] [data-testid=measure-status]")).to_have_text("正在整改")
    page.screenshot(path=str(artifacts / "ledger-item.png"), full_page=True)

    item_url = page.url

    sentence = "发现问题1个，制定整改措施2条，已完成1条，正在整改1条"
    page.goto(hall.url("/ledger/"))
    expect(page.locator(f"li[data-village={VILLAGE}]")).to_contain_text(sentence, use_inner_text=True)
    page.screenshot(path=str(artifacts / "ledger-summary.png"), full_page=True)

    # The public page: no login, the village's sentence and the measure done, no internal note.
    public = contexts.phone().new_page()
    public.goto(hall.url("/zhenggai/"))
    place = public.locator("section[data-place='桃园镇杏花村']")
    expect(place.locator("[data-testid=village-summary]")).to_have_text(sentence)
    expect(place).to_contain_text("已完成", use_inner_text=True)
    expect(place).to_contain_text("佐证材料1份", use_inner_text=True)
    assert NOTE not in public.content()
    public.screenshot(path=str(artifacts / "ledger-public.png"), full_page=True)

    # The second measure done, then the closure review: refused without a note when not passed, then closed.
    page.goto(item_url)
    second = page.locator(".measure[data-measure='2']")
    second.locator("textarea[name=evidence]").fill("村务监督委员会审核记录三份")
    second.locator("button", has_text="标记完成").click()
    expect(page.locator(".measure[data-measure='2'] [data-testid=measure-status]")).to_have_text("已完成")
    review = page.locator("#review")
    review.locator("button[name=passed][value=no]").click()
    expect(page.locator("[data-testid=ledger-error]")).to_contain_text("请填写审核意见", use_inner_text=True)
    page.locator("#review textarea[name=note]").fill("两项措施均已落实，群众认可")
    page.locator("#review button[name=passed][value=yes]").click()
    expect(page.locator("main")).to_contain_text("通过，已销号", use_inner_text=True)
    expect(page.locator("#review")).to_have_count(0)
    expect(page.locator("#add-measure")).to_have_count(0)
    page.screenshot(path=str(artifacts / "ledger-closed.png"), full_page=True)

    # The desk lists what is still open; the closed item is one click away.
    item_id = item_url.rstrip("/").rsplit("/", 1)[-1]
    page.goto(hall.url("/ledger/"))
    expect(page.locator(f"tr[data-item={item_id}]")).to_have_count(0)
    page.locator("#closed-toggle a").click()
    expect(page.locator(f"tr[data-item={item_id}]")).to_contain_text("已销号", use_inner_text=True)
