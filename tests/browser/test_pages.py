"""Who may open which page, the Chinese error pages, the language toggle, the login."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect


def test_a_forged_screen_token_gets_a_chinese_error(hall: Any, contexts: Any) -> None:
    meeting_id, _, _ = hall.meeting(party_members=1, representatives=0)
    other_id, _, _ = hall.meeting(party_members=1, representatives=0)
    good = hall.screen_token(meeting_id)
    forged = good[:-6] + ("AAAAAA" if not good.endswith("AAAAAA") else "BBBBBB")
    cases = {
        forged: "访问令牌无效",
        "": "缺少访问令牌",
        hall.screen_token(other_id): "访问令牌不属于此会议",
    }
    page = contexts.screen().new_page()
    for token, message in cases.items():
        url = hall.url(f"/hall/{meeting_id}/screen/?t={token}")
        response = page.goto(url)
        assert response is not None and response.status == 403
        expect(page.locator("h1")).to_have_text("无法打开此页面", use_inner_text=True)
        expect(page.locator("#error-message")).to_contain_text(message, use_inner_text=True)
    # The real token opens it.
    response = page.goto(hall.url(f"/hall/{meeting_id}/screen/?t={good}"))
    assert response is not None and response.status == 200
    expect(page.locator("#phase")).to_have_text("已公告", use_inner_text=True)


def test_a_refused_websocket_shows_why_and_does_not_retry(hall: Any, contexts: Any) -> None:
    """Close code 4403 (here: a forged token on the socket) is final: the message, no reconnect."""
    meeting_id, _, _ = hall.meeting(party_members=1, representatives=0)
    page = contexts.screen().new_page()
    page.goto(hall.url(f"/hall/{meeting_id}/screen/?t={hall.screen_token(meeting_id)}"))
    expect(page.locator("#phase")).to_have_text("已公告", use_inner_text=True)
    page.evaluate(f"""import('/static/js/live.js').then(m => m.connectLive({{
        path: '/ws/m/{meeting_id}/screen/', token: 'forged-token', onState: () => {{}} }}))""")
    expect(page.locator("#live-banner")).to_have_text("访问令牌无效", use_inner_text=True)
    assert page.evaluate("window.shupingLive.fatal.code") == "token_invalid"
    assert page.evaluate("window.shupingLive.lastClose.code") == 4403
    # The fence is the page's own timer queue, not a sleep here: a retry would
    # have been armed when the socket closed, before the timer armed now, for
    # at most the first backoff (live.js backoffSeconds(0): 1 s + up to 0.5 s
    # jitter). Timers fire in deadline order, so by the time this 2 s one
    # fires, a retry would have run, however slow the machine is.
    page.evaluate("new Promise(resolve => setTimeout(resolve, 2000))")
    assert page.evaluate("window.shupingLive.reconnects") == 0
    assert page.evaluate("window.shupingLive.connected") is False
    expect(page.locator("#live-banner")).to_have_text("访问令牌无效", use_inner_text=True)


def test_roles_and_the_chinese_forbidden_page(hall: Any, contexts: Any, artifacts: Any) -> None:
    meeting_id, _, _ = hall.meeting(party_members=1, representatives=0)
    observer, password = hall.user("observer")
    page = contexts.desk().new_page()
    page.goto(hall.url("/login/"))
    page.fill("#id_username", observer)
    page.fill("#id_password", "wrong password")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_contain_text("用户名或密码不正确", use_inner_text=True)
    page.fill("#id_username", observer)
    page.fill("#id_password", password)
    page.click("#login-submit")
    expect(page).to_have_url(re.compile(r"/meetings/$"))  # an observer's own page: the read-only list
    expect(page.locator(f"tr[data-meeting={meeting_id}]")).to_contain_text("已公告", use_inner_text=True)
    page.goto(hall.url("/dashboard/"))
    row = page.locator(f"tr[data-meeting={meeting_id}]")
    expect(row).to_contain_text("已公告", use_inner_text=True)
    expect(row.locator("a")).to_have_count(0)  # an observer opens no meeting page, nor mints a screen link
    page.screenshot(path=str(artifacts / "dashboard.png"), full_page=True)

    for path in (f"/hall/{meeting_id}/console/", f"/hall/{meeting_id}/teller/"):
        response = page.goto(hall.url(path))
        assert response is not None and response.status == 403
        expect(page.locator("#error-message")).to_contain_text("您的角色无权打开此页面", use_inner_text=True)
    page.screenshot(path=str(artifacts / "forbidden.png"))

    # Only hosts and administrators mint hall-screen links.
    response = page.goto(hall.url(f"/hall/{meeting_id}/screen/open/"))
    assert response is not None and response.status == 403
    expect(page.locator("#error-message")).to_contain_text("您的角色无权打开此页面", use_inner_text=True)

    page.goto(hall.url("/dashboard/"))
    page.click("header.top form button")
    expect(page).to_have_url(re.compile(r"/login/$"))
    page.goto(hall.url("/dashboard/"))
    expect(page).to_have_url(re.compile(r"/login/\?next=/dashboard/"))


def test_the_screen_speaks_the_language_of_its_link_and_desk_pages_remember_the_choice(hall: Any, contexts: Any) -> None:
    meeting_id, _, _ = hall.meeting(party_members=1, representatives=0)
    screen_url = hall.url(f"/hall/{meeting_id}/screen/?t={hall.screen_token(meeting_id)}")
    context = contexts.screen()
    page = context.new_page()
    page.goto(screen_url)
    expect(page.locator("#phase")).to_have_text("已公告", use_inner_text=True)
    expect(page.locator("[data-lang-toggle]")).to_have_count(0)  # read-only: nothing to press
    page.goto(screen_url + "&lang=en")
    expect(page.locator("#phase")).to_have_text("announced", use_inner_text=True)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    # A language chosen earlier on this device does not change what the link says.
    page.evaluate("localStorage.setItem('shuping.lang', 'en')")
    page.goto(screen_url)
    expect(page.locator("#phase")).to_have_text("已公告", use_inner_text=True)
    expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")

    desk = contexts.desk().new_page()
    desk.goto(hall.url("/login/"))
    expect(desk.locator("h1")).to_contain_text("登录述评平台", use_inner_text=True)
    desk.click("[data-lang-toggle]")
    expect(desk.locator("html")).to_have_attribute("lang", "en")
    desk.reload()
    expect(desk.locator("html")).to_have_attribute("lang", "en")
    desk.click("[data-lang-toggle]")
    assert desk.evaluate("localStorage.getItem('shuping.lang')") == "zh"

    phone = contexts.phone().new_page()
    phone.goto(hall.url(f"/v/{meeting_id}"))
    phone.fill("#code-input", "0000-1111")
    phone.click("#code-form button")
    expect(phone.locator("#notice")).to_contain_text("测评码格式不对", use_inner_text=True)
    phone.fill("#code-input", "ABCD-EFGH-JKMN")
    phone.click("#code-form button")
    expect(phone.locator("#notice")).to_contain_text("测评码无效", use_inner_text=True)


def test_console_prints_code_slips(hall: Any, contexts: Any, artifacts: Any) -> None:
    meeting_id, _, _ = hall.meeting(party_members=2, representatives=3)
    username, password = hall.user("host")
    page = contexts.desk().new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(hall.url(f"/login/?next=/hall/{meeting_id}/console/"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")
    expect(page.locator("#phase")).to_have_text("已公告", use_inner_text=True)
    page.select_option("#code-category", "representative")
    page.fill("#codes-form input[name=count]", "3")
    with page.expect_popup() as opened:
        page.click("#print-slips")
    sheet = opened.value
    expect(sheet.locator(".slip")).to_have_count(3)
    expect(sheet.locator(".slip .category").first).to_have_text("村民代表")
    expect(page.locator("#codes-issued")).to_contain_text("已发 3 个", use_inner_text=True)
    # Every batch stays listed until marked printed: the slips' batch, then two more issued here.
    batch = page.locator("#code-batches tr[data-batch='1']")
    expect(batch).to_contain_text("未打印", use_inner_text=True)
    page.select_option("#code-category", "party_member")
    page.fill("#codes-form input[name=count]", "1")
    page.click("#codes-form button[type=submit]")
    expect(page.locator("[data-codes-batch='2'] [data-code]")).to_have_count(1)
    page.fill("#codes-form input[name=count]", "2")
    page.click("#codes-form button[type=submit]")
    expect(page.locator("#messages")).to_contain_text("党员测评码不能超过名册人数加余量", use_inner_text=True)
    page.fill("#codes-form input[name=margin]", "1")
    page.click("#codes-form button[type=submit]")
    expect(page.locator("[data-codes-batch='3'] [data-code]")).to_have_count(2)
    expect(page.locator("[data-codes-batch='2'] [data-code]")).to_have_count(1)  # the second batch hides nothing
    page.reload()  # the codes stay in this tab until printed
    expect(page.locator("[data-codes-batch='2'] [data-code]")).to_have_count(1)
    with page.expect_popup() as opened_again:
        page.click("[data-print-batch='2']")
    expect(opened_again.value.locator(".slip")).to_have_count(1)
    with page.expect_popup() as paper:
        page.click("[data-print-paper='3']")
    expect(paper.value.locator("section.ballot")).to_have_count(2)  # one A4 paper ballot per code
    expect(paper.value.locator("section.ballot").first).to_contain_text("民主测评票", use_inner_text=True)
    paper.value.screenshot(path=str(artifacts / "paper-ballot.png"), full_page=False)
    page.click("[data-printed-batch='2']")
    expect(page.locator("#code-batches tr[data-batch='2']")).to_contain_text("已打印", use_inner_text=True)
    expect(page.locator("[data-codes-batch='2']")).to_have_count(0)
    expect(page.locator("#code-batches tr[data-batch='3']")).to_contain_text("未打印", use_inner_text=True)
    assert "2" not in page.evaluate(f"Object.keys(JSON.parse(sessionStorage.getItem('shuping.codes.{meeting_id}') || '{{}}'))")
