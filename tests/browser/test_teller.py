"""Two tellers enter the same paper batch; a different mark shows side by side until corrected."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Page, expect


def open_teller(hall: Any, contexts: Any, meeting_id: str) -> tuple[Page, str]:
    username, password = hall.user("teller")
    page = contexts.desk().new_page()
    page.goto(hall.url(f"/hall/{meeting_id}/teller/"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")
    expect(page).to_have_url(re.compile(f"/hall/{meeting_id}/teller/$"))
    expect(page.locator("#entry-table tbody tr")).to_have_count(3)
    return page, username


def enter(page: Page, batch_no: int, rows: list[tuple[str, str, str]]) -> None:
    """Type a batch: rows of (code, grade of shuji, grade of zhuren), then submit."""
    page.fill("#batch-no", str(batch_no))
    for i, (code, shuji, zhuren) in enumerate(rows):
        row = page.locator("#entry-table tbody tr").nth(i)
        row.locator("input.code").fill(code)
        row.locator("select[name=m_shuji_zongti]").select_option(shuji)
        row.locator("select[name=m_zhuren_zongti]").select_option(zhuren)
    page.click("#submit-batch")


def test_two_tellers_reconcile_a_batch(hall: Any, contexts: Any, artifacts: Any) -> None:
    meeting_id, host, codes = hall.meeting_in_ballot(codes=2)
    first, first_name = open_teller(hall, contexts, meeting_id)
    second, second_name = open_teller(hall, contexts, meeting_id)
    rows = [(codes[0], "chenzhi", "chenzhi"), (codes[1], "jiben_chenzhi", "chenzhi")]

    enter(first, 1, rows)
    for page in (first, second):
        expect(page.locator(".batch[data-batch='1']")).to_have_attribute("data-status", "pending")
        expect(page.locator(".batch[data-batch='1']")).to_contain_text("待第二人录入", use_inner_text=True)

    # The second teller misreads one mark of the second ballot.
    enter(second, 1, [rows[0], (codes[1], "jiben_chenzhi", "bu_chenzhi")])
    for page in (first, second):
        batch = page.locator(".batch[data-batch='1']")
        expect(batch).to_have_attribute("data-status", "mismatch")
        expect(batch).to_contain_text("核对不一致", use_inner_text=True)
        diff = batch.locator("table.diff")
        expect(diff.locator("thead th")).to_have_text(["选票", *sorted([first_name, second_name])], use_inner_text=True)
        expect(diff.locator("tbody tr")).to_have_count(1)  # only the ballot that differs
        mine = diff.locator(f"td[data-teller={first_name}] [data-subject=zhuren]")
        theirs = diff.locator(f"td[data-teller={second_name}] [data-subject=zhuren]")
        expect(mine).to_have_attribute("data-grade", "chenzhi")
        expect(theirs).to_have_attribute("data-grade", "bu_chenzhi")
        expect(theirs).to_have_class(re.compile(r"\bno\b"))
        expect(diff.locator(f"td[data-teller={second_name}] [data-subject=shuji]")).not_to_have_class(re.compile(r"\bno\b"))
    # The teller who typed the codes sees the ballot named by its code, not only its hash.
    expect(second.locator("table.diff tbody tr td").first).to_have_text(codes[1], use_inner_text=True)
    second.screenshot(path=str(artifacts / "teller-mismatch.png"), full_page=True)

    # Results cannot be announced over a mismatch.
    host.post(f"meetings/{meeting_id}/ballot/close/", expect=200)
    refused = host.post(f"meetings/{meeting_id}/results/announce/", expect=400)
    assert refused["error"]["code"] == "paper_batches_unresolved"

    # The second teller checks the paper ballot and enters the batch again, corrected.
    second.locator("#entry-table tbody tr").nth(1).locator("select[name=m_zhuren_zongti]").select_option("chenzhi")
    second.click("#submit-batch")
    for page in (first, second):
        batch = page.locator(".batch[data-batch='1']")
        expect(batch).to_have_attribute("data-status", "reconciled")
        expect(batch).to_contain_text("核对一致", use_inner_text=True)
        expect(batch.locator("table.diff")).to_have_count(0)
    host.post(f"meetings/{meeting_id}/results/announce/", expect=200)
    results = host.get(f"meetings/{meeting_id}/results/")
    assert results["paper_ballots"] == 2
