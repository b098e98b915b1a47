"""A notice in Chromium: the county publishes it from the workspace, the public reads it and objects on a
phone without logging in, the county answers, and the public page shows the answer without the contact.

The hall screen (after the close), the public page and the downloaded PDF show one head hash.
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

from django_tenants.utils import schema_context
from playwright.sync_api import expect
from pypdf import PdfReader

from meetings.streams import load_meeting
from tests.integration.followup.closed_meeting import closed_meeting

CONTACT = "13700001234"


def test_the_county_publishes_the_public_objects_and_reads_the_answer(hall: Any, contexts: Any, artifacts: Any,
                                                                       tmp_path: Path) -> None:
    with hall.db(), schema_context(hall.county.schema_name):
        meeting_id = closed_meeting(village="梨花村")
        head_at_close = load_meeting(meeting_id).head
        token = hall.screen_token(meeting_id)
    name, password = hall.user("county_admin")

    # The hall screen, after the close, shows the head the notice must carry.
    screen = contexts.screen().new_page()
    screen.goto(hall.url(f"/hall/{meeting_id}/screen/?t={token}"))
    expect(screen.locator("[data-head-hash]")).to_have_text(head_at_close, use_inner_text=True)

    desk = contexts.desk().new_page()
    desk.goto(hall.url("/login/?next=/workspace/"))
    desk.fill("#id_username", name)
    desk.fill("#id_password", password)
    desk.click("#login-submit")
    desk.click("#notices-link")
    desk.locator(f"#to-publish tr[data-meeting={meeting_id}] [data-open-notice]").click()
    expect(desk.locator("#draft-head")).to_have_text(head_at_close)
    desk.fill("#notice-title", "关于梨花村述职评议结果的公示")
    desk.click("#publish-notice")
    published = desk.locator("section[data-notice]")
    expect(published).to_have_count(1)
    notice_id = published.get_attribute("data-notice")
    desk.screenshot(path=str(artifacts / "notice-desk-published.png"), full_page=True)

    phone = contexts.phone().new_page()
    phone.goto(hall.url("/gongshi/"))
    phone.click("text=关于梨花村述职评议结果的公示")
    expect(phone.locator("#head-hash")).to_have_text(head_at_close)
    expect(phone.locator("#results")).to_contain_text("须诫勉谈话")
    with phone.expect_download() as download:
        phone.click("#pdf")
    saved = tmp_path / "notice.pdf"
    download.value.save_as(saved)
    printed = "".join(page.extract_text() for page in PdfReader(io.BytesIO(saved.read_bytes())).pages)
    assert re.findall(r"\b[0-9a-f]{64}\b", printed) == [head_at_close]
    phone.fill("#objection-text", "第三组的计票与现场唱票不一致，请复核")
    phone.fill("#objection-contact", CONTACT)
    phone.click("#objection-submit")
    expect(phone.locator("#sent")).to_be_visible()
    expect(phone.locator("#objections")).to_contain_text("第三组的计票与现场唱票不一致")
    assert CONTACT not in phone.content()
    phone.screenshot(path=str(artifacts / "notice-public-objection.png"), full_page=True)

    desk.reload()
    objection = desk.locator("#objections .objection").first
    expect(objection.locator("[data-contact]")).to_have_text(CONTACT)
    objection.locator("textarea[name=answer]").fill("经复核，第三组计票无误，已向反映人说明")
    objection.locator("[data-answer]").click()
    expect(desk.locator("#objections .answer")).to_contain_text("经复核")

    phone.goto(hall.url(f"/gongshi/{notice_id}/"))
    expect(phone.locator("#objections .answer")).to_contain_text("经复核，第三组计票无误")
    assert CONTACT not in phone.content()
    phone.screenshot(path=str(artifacts / "notice-public-answered.png"), full_page=True)
