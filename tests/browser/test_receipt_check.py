"""A voter checks their receipt on a phone, on the county's public page, without logging in."""

from __future__ import annotations

import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from django.db import connection
from django_tenants.utils import schema_context
from playwright.sync_api import expect

from events.records import NO_STREAM
from events.store import append
from tests.unit.meetings.meeting_given import events_until


def test_a_voter_finds_their_receipt_counted_and_sees_no_marks(hall: Any, contexts: Any, artifacts: Path) -> None:
    meeting_id = f"p{uuid.uuid4().hex[:10]}"
    events = events_until("closed")
    events[0] = replace(events[0], meeting_id=meeting_id)  # type: ignore[type-var]
    with hall.db(), schema_context(hall.county.schema_name):
        append(f"meeting-{meeting_id}", events, expected_version=NO_STREAM, command_id=uuid.uuid4(), actor="host:测试")
        with connection.cursor() as cursor:
            cursor.execute("SELECT data->>'receipt' FROM events WHERE stream_id = %s AND type = 'BallotCast'"
                           " ORDER BY stream_version LIMIT 1", [f"meeting-{meeting_id}"])
            [receipt] = cursor.fetchone()
    page = contexts.phone().new_page()
    page.goto(hall.url("/yanzheng/"))
    expect(page.locator("h1")).to_contain_text("核对我的选票是否计入")
    page.fill("#receipt", receipt)
    page.click("#receipt-submit")
    answer = page.locator("#receipt-answer")
    expect(answer).to_contain_text("已计入")
    expect(answer).to_contain_text("2026年一季度述评大会")
    text = answer.inner_text()
    assert receipt not in text and "好" not in text and "hao" not in text  # no marks, no receipt echoed
    # One column on a phone: nothing wider than the screen.
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    with page.expect_download() as download:
        answer.get_by_role("link").click()
    assert download.value.suggested_filename == f"shuping-public-{meeting_id}.jsonl"
    page.screenshot(path=str(artifacts / "receipt-check-phone.png"), full_page=True)

    page.fill("#receipt", "0" * 64)
    page.click("#receipt-submit")
    expect(page.locator("#receipt-answer")).to_contain_text("未找到")
    page.fill("#receipt", "这不是回执")
    page.click("#receipt-submit")
    expect(page.locator("#receipt-answer")).to_contain_text("回执格式不对")
