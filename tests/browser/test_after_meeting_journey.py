"""Issue 14's journey in Chromium: one meeting from its results to its filing, and what the results lead to.

The county publishes the notice; the public page and the printed PDF carry the head hash the hall screen
showed at the close, and the exported log verifies against the hash read from the PDF; a member of the
public objects from a phone and the county answers; the notice period ends because time moves through the
job queue (`shuping jobs tick --now … --wait`, never a sleep); the results are filed; the flagged subject's
interview (opened by the rule) is recorded with a plan; a two-measure rectification item follows, one
measure done with a photo; the public rectification page and the ledger's sentence show it.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.utils import timezone
from django_tenants.utils import schema_context
from PIL import Image
from playwright.sync_api import expect
from pypdf import PdfReader

from events.export import export_stream_to_file
from meetings.streams import load_meeting, meeting_stream
from tests.integration.followup.closed_meeting import closed_meeting
from tests.time_travel import jobs_tick

VILLAGE = "荷花村"
PLACE = "城关镇荷花村"
FLAGGED = "村党支部书记 张德明"
CONTACT = "13900005678"


def photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 120, 40)).save(out, format="JPEG")
    return out.getvalue()


def test_one_meeting_from_its_results_to_filing_and_rectification(hall: Any, contexts: Any, artifacts: Any,
                                                                   tmp_path: Path) -> None:
    shots = artifacts / "after-meeting"
    shots.mkdir(exist_ok=True)
    with hall.db(), schema_context(hall.county.schema_name):
        meeting_id = closed_meeting(village=VILLAGE)
        head_at_close = load_meeting(meeting_id).head
        token = hall.screen_token(meeting_id)
        exported = tmp_path / "meeting.jsonl"
        export_stream_to_file(meeting_stream(meeting_id), exported)
    name, password = hall.user("county_admin")

    screen = contexts.screen().new_page()
    screen.goto(hall.url(f"/hall/{meeting_id}/screen/?t={token}"))
    expect(screen.locator("[data-head-hash]")).to_have_text(head_at_close, use_inner_text=True)
    screen.screenshot(path=str(shots / "01-screen-at-close.png"))

    # The organization department publishes the notice drafted from the results.
    desk = contexts.desk().new_page()
    desk.goto(hall.url("/"))
    desk.fill("#id_username", name)
    desk.fill("#id_password", password)
    desk.click("#login-submit")
    desk.wait_for_url(hall.url("/workspace/"))
    desk.click("#notices-link")
    desk.locator(f"#to-publish tr[data-meeting={meeting_id}] [data-open-notice]").click()
    expect(desk.locator("#draft-head")).to_have_text(head_at_close)
    desk.fill("#notice-title", f"关于{VILLAGE}直评村官结果的公示")
    desk.screenshot(path=str(shots / "02-notice-draft.png"), full_page=True)
    desk.click("#publish-notice")
    expect(desk.locator("section[data-notice]")).to_have_count(1)
    notice_id = desk.locator("section[data-notice]").get_attribute("data-notice")
    expect(desk.locator("#file-waits")).to_be_visible()  # not before the period has ended

    # The public: the notice page and its PDF carry the head; the log verifies against the printed hash.
    phone = contexts.phone().new_page()
    phone.goto(hall.url("/gongshi/"))
    phone.click(f"text=关于{VILLAGE}直评村官结果的公示")
    expect(phone.locator("#head-hash")).to_have_text(head_at_close)
    with phone.expect_download() as download:
        phone.click("#pdf")
    pdf = tmp_path / "notice.pdf"
    download.value.save_as(pdf)
    printed_text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.read_bytes())).pages)
    printed = re.findall(r"\b[0-9a-f]{64}\b", printed_text)
    assert printed == [head_at_close]
    verified = subprocess.run([sys.executable, "-m", "shuping.cli", "log", "verify", str(exported), "--head", printed[0]],
                              capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # Anyone can do the same with the public log the notice links to (voters' data taken out).
    with phone.expect_download() as download:
        phone.click(".proof-links a[download][href*='/yanzheng/logs/']")
    public_log = tmp_path / "public.jsonl"
    download.value.save_as(public_log)
    verified = subprocess.run([sys.executable, "-m", "shuping.cli", "log", "verify", str(public_log), "--head", printed[0]],
                              capture_output=True, text=True, timeout=120)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    phone.fill("#objection-text", "张德明的测评票数与现场清点不一致，请复核")
    phone.fill("#objection-contact", CONTACT)
    phone.click("#objection-submit")
    expect(phone.locator("#sent")).to_be_visible()
    phone.screenshot(path=str(shots / "03-public-objection.png"), full_page=True)

    desk.reload()
    objection = desk.locator("#objections .objection").first
    expect(objection.locator("[data-contact]")).to_have_text(CONTACT)
    objection.locator("textarea[name=answer]").fill("经复核，票数与现场清点一致，已向反映人说明")
    objection.locator("[data-answer]").click()
    expect(desk.locator("#objections .answer")).to_contain_text("经复核")
    # An objection can lead to a rectification item: its link opens the ledger's form filled in.
    desk.locator("#objections [data-to-ledger]").first.click()
    expect(desk.locator("select[name=source_kind]")).to_have_value("objection")
    expect(desk.locator("textarea[name=problem]")).to_have_value("张德明的测评票数与现场清点不一致，请复核")
    desk.go_back()

    # Time passes through the job queue: ten days on, the five working days are over.
    jobs_tick(datetime.now(UTC) + timedelta(days=10))
    phone.goto(hall.url(f"/gongshi/{notice_id}/"))
    expect(phone.locator("body")).to_contain_text("已结束")
    expect(phone.locator("#objections .answer")).to_contain_text("经复核")
    assert CONTACT not in phone.content()
    phone.screenshot(path=str(shots / "04-public-period-ended.png"), full_page=True)

    desk.reload()
    desk.click("#file-results")
    expect(desk.locator("#filing")).to_contain_text(head_at_close)
    desk.screenshot(path=str(shots / "05-filed.png"), full_page=True)
    desk.goto(hall.url("/notices/"))
    desk.screenshot(path=str(shots / "06-notices-desk.png"), full_page=True)

    # The flagged subject's interview, opened by the rule (the sweep above or the results' own trigger).
    desk.goto(hall.url("/interviews/"))
    card = desk.locator("section.interview", has_text=VILLAGE)
    expect(card).to_contain_text(FLAGGED)
    card.locator("select[name=kind]").select_option("admonishment")
    card.locator("input[name=interviewer]").fill("县委组织部 李华")
    card.locator("textarea[name=record]").fill("指出群众测评不称职率偏高，村务决策不民主")
    card.locator("button", has_text="记录谈话").click()
    card = desk.locator("section.interview", has_text=VILLAGE)
    card.locator("textarea[name=plan]").fill("建立四议两公开台账，两个月内整改到位")
    card.locator("input[name=deadline]").fill((timezone.localdate() + timedelta(days=60)).isoformat())
    card.locator("button", has_text="登记整改方案").click()
    expect(desk.locator("section.interview", has_text=VILLAGE).locator("[data-testid=interview-state]")) \
        .to_have_text("已交整改方案")
    desk.screenshot(path=str(shots / "07-interview.png"), full_page=True)

    desk.locator("section.interview", has_text=VILLAGE).locator("a", has_text="列入整改台账").click()
    desk.fill("textarea[name=problem]", "村务决策不民主，重大事项未经村民代表会议")
    desk.click("button[name=raise]")
    for text, owner, days in (("重大事项一律提交村民代表会议表决", "张德明", 30), ("每月公开决策记录", "刘桂兰", 45)):
        form = desk.locator("#add-measure")
        form.locator("textarea[name=text]").fill(text)
        form.locator("input[name=owner]").fill(owner)
        form.locator("input[name=deadline]").fill((timezone.localdate() + timedelta(days=days)).isoformat())
        form.locator("button").click()
        expect(desk.locator(".measure", has_text=text)).to_contain_text("正在整改", use_inner_text=True)
    first = desk.locator(".measure[data-measure='1']")
    first.locator("textarea[name=evidence]").fill("11月村民代表会议表决记录已公开")
    first.locator("input[type=file]").set_input_files(
        files=[{"name": "会议记录.jpg", "mimeType": "image/jpeg", "buffer": photo()}])
    first.locator("button", has_text="标记完成").click()
    expect(desk.locator(".measure[data-measure='1'] [data-testid=measure-status]")).to_have_text("已完成")
    desk.screenshot(path=str(shots / "08-ledger-item.png"), full_page=True)

    sentence = "发现问题1个，制定整改措施2条，已完成1条，正在整改1条"
    desk.goto(hall.url("/ledger/"))
    expect(desk.locator(f"li[data-village={VILLAGE}]")).to_contain_text(sentence, use_inner_text=True)
    desk.screenshot(path=str(shots / "09-ledger.png"), full_page=True)

    public = contexts.phone().new_page()
    public.goto(hall.url("/zhenggai/"))
    place = public.locator(f"section[data-place='{PLACE}']")
    expect(place.locator("[data-testid=village-summary]")).to_have_text(sentence)
    expect(place).to_contain_text("佐证材料1份", use_inner_text=True)
    public.screenshot(path=str(shots / "10-public-rectification.png"), full_page=True)
