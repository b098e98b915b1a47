"""A command whose answer is lost on the way back is sent again unchanged, and counts once.

The route lets the first request reach the server (sent from here, so that
it is applied for real) and then fails it in the browser as a dropped
connection would: the page must retry with the same Idempotency-Key (the
console) or the same ballot (the phone), and the server answers the retry
with the first outcome.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
from playwright.sync_api import Route, expect

HOP_BY_HOP = {"host", "content-length", "connection", "accept-encoding"}


def lose_first_answer(hall: Any, seen: list[dict[str, Any]]) -> Any:
    """A route handler: the first request is applied by the server, its answer lost; later ones pass."""

    def handle(route: Route) -> None:
        request = route.request
        headers = {k: v for k, v in request.all_headers().items() if k.lower() not in HOP_BY_HOP}
        seen.append({"key": headers.get("idempotency-key"), "body": request.post_data})
        if len(seen) > 1:
            route.continue_()
            return
        # Chromium resolves *.localhost, this process does not: go to the loopback address by name.
        path = re.sub(r"^https?://[^/]+", "", request.url)
        answer = httpx.post(
            f"http://127.0.0.1:{hall.server.port}{path}", content=request.post_data_buffer,
            headers={**headers, "Host": f"{hall.host}:{hall.server.port}"}, timeout=30,
        )
        seen[0]["status"] = answer.status_code
        seen[0]["answer"] = answer.json()
        route.abort("connectionreset")

    return handle


def test_console_retries_with_the_same_idempotency_key(hall: Any, contexts: Any) -> None:
    meeting_id, _, _ = hall.meeting(party_members=2, representatives=0)
    username, password = hall.user("host")
    page = contexts.desk().new_page()
    page.goto(hall.url(f"/login/?next=/hall/{meeting_id}/console/"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")
    expect(page.locator("#phase")).to_have_text("已公告", use_inner_text=True)

    seen: list[dict[str, Any]] = []
    page.route("**/api/meetings/*/check-in/", lose_first_answer(hall, seen))
    # The first answer is lost (the request fails in the page); the first
    # check-in request to finish is the page's retry, 0.5 s later: wait for it.
    with page.expect_event("requestfinished", predicate=lambda r: "/check-in/" in r.url) as retried:
        page.click("[data-checkin=pm0]")
    assert json.loads(retried.value.post_data or "") == {"member_id": "pm0"}
    expect(page.locator("tr[data-member=pm0]")).to_contain_text("已签到", use_inner_text=True)
    expect(page.locator("#quorum li[data-category=party_member]")).to_contain_text("实到 1", use_inner_text=True)
    # The fence for "no third attempt": a later command, whose request comes
    # after everything the first command sent.
    with page.expect_event("requestfinished", predicate=lambda r: "/check-in/" in r.url):
        page.click("[data-checkin=pm1]")
    expect(page.locator("tr[data-member=pm1]")).to_contain_text("已签到", use_inner_text=True)
    assert [json.loads(s["body"]) for s in seen] == [{"member_id": "pm0"}] * 2 + [{"member_id": "pm1"}], seen
    assert seen[0]["status"] == 200 and seen[0]["answer"]["replayed"] is False
    assert seen[1]["key"] == seen[0]["key"], "the retry must carry the same Idempotency-Key"
    assert seen[1]["body"] == seen[0]["body"]
    assert seen[2]["key"] != seen[0]["key"], "another command, another key"
    # A fresh key would have been refused: pm0 had already checked in.
    expect(page.locator("#messages .notice.error")).to_have_count(0)
    expect(page.locator("#quorum li[data-category=party_member]")).to_contain_text("实到 2", use_inner_text=True)


def test_phone_resends_the_same_ballot_and_shows_its_receipt(hall: Any, contexts: Any) -> None:
    meeting_id, host, codes = hall.meeting_in_ballot(codes=1)
    phone = contexts.phone().new_page()
    seen: list[dict[str, Any]] = []
    phone.route("**/api/v/*/ballot/", lose_first_answer(hall, seen))
    phone.goto(hall.url(f"/v/{meeting_id}#{codes[0]}"))
    phone.click('label:has(input[name="m_shuji_zongti"][value="chenzhi"])')
    phone.click('label:has(input[name="m_zhuren_zongti"][value="jiben_chenzhi"])')
    phone.click("#to-confirm")
    phone.click("#cast")
    expect(phone.locator("#receipt")).to_contain_text("投票成功", use_inner_text=True)
    assert len(seen) >= 2, seen
    assert seen[0]["status"] == 201
    assert all(json.loads(s["body"]) == json.loads(seen[0]["body"]) for s in seen), "every retry sends the same ballot"
    receipt = phone.locator("#receipt-code").get_attribute("data-receipt")
    assert receipt == seen[0]["answer"]["receipt"]
    assert host.get(f"meetings/{meeting_id}/")["ballots_cast"] == 1
