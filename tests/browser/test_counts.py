"""More ballots than people checked in: the console and the hall screen say so, and the host decides."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from tests.browser.fit import CUT_OFF
from tests.live.server import SUBJECTS


def test_ballots_over_attendance_wait_for_the_hosts_recorded_decision(hall: Any, contexts: Any, artifacts: Any) -> None:
    meeting_id, host, _ = hall.meeting(party_members=3, representatives=0)
    m = f"meetings/{meeting_id}/"
    host.post(m + "check-in/", {"member_id": "pm0"}, expect=200)  # one of three party members came
    host.post(m + "quorum-override/", {"reason": "测试：只到一人"}, expect=200)
    host.post(m + "open/", expect=200)
    for subject_id, _ in SUBJECTS:
        host.post(m + "reports/start/", {"subject_id": subject_id}, expect=200)
        host.post(m + "reports/end/", {"subject_id": subject_id}, expect=200)
    codes = host.post(m + "codes/", {"category": "party_member", "count": 3}, expect=200)["codes"]
    host.post(m + "ballot/open/", expect=200)
    voter = hall.api(None)
    for code in codes:  # three ballots, one person present
        voter.post(f"v/{meeting_id}/ballot/", {"code": code, "marks": {sid: {"zongti": "chenzhi"} for sid, _ in SUBJECTS}},
                   expect=201)

    username, password = hall.user("host")
    console = contexts.desk().new_page()
    console.on("dialog", lambda dialog: dialog.accept())
    console.goto(hall.url(f"/login/?next=/hall/{meeting_id}/console/"))
    console.fill("#id_username", username)
    console.fill("#id_password", password)
    console.click("#login-submit")
    expect(console.locator("#phase")).to_have_text("测评进行中", use_inner_text=True)
    screen = contexts.screen().new_page()
    screen.goto(hall.url(f"/hall/{meeting_id}/screen/?t={hall.screen_token(meeting_id)}"))
    # While voting the screen counts against the eligible voters (3 on the roster), never "3/1", and says
    # plainly that more ballots came in than people checked in.
    expect(screen.locator("#turnout")).to_have_text("已投 3/3", use_inner_text=True)
    expect(screen.locator("[data-present]")).to_have_text("到会 1 人", use_inner_text=True)
    expect(screen.locator("[data-count-over]")).to_contain_text("收回票数（3）多于到会人数（1）", use_inner_text=True)
    assert screen.evaluate(CUT_OFF) == []
    english = contexts.screen().new_page()
    english.goto(hall.url(f"/hall/{meeting_id}/screen/?t={hall.screen_token(meeting_id)}&lang=en"))
    expect(english.locator("[data-count-over]")).to_contain_text("More ballots (3) than people checked in (1)",
                                                                 use_inner_text=True)
    english.screenshot(path=str(artifacts / "screen-count-over-voting-en.png"))
    assert english.evaluate(CUT_OFF) == []
    english.close()

    console.click("[data-cmd=ballot-close]")
    expect(console.locator("#phase")).to_have_text("测评已结束", use_inner_text=True)
    expect(console.locator("#count-over")).to_contain_text("收回票数多于到会人数", use_inner_text=True)
    expect(console.locator("#count-check li[data-category=party_member]")).to_contain_text("收回 3 票 / 到会 1 人", use_inner_text=True)
    expect(console.locator("[data-cmd=announce-results]")).to_be_disabled()
    expect(console.locator("#phase-hint")).to_contain_text("须先登记处理决定", use_inner_text=True)
    expect(screen.locator("#count-over")).to_contain_text("党员收回3票，到会1人", use_inner_text=True)
    screen.screenshot(path=str(artifacts / "screen-count-over.png"))
    assert screen.evaluate(CUT_OFF) == []

    console.fill("#accept-count-form textarea[name=reason]", "经核对，两名党员入场时未签到，已补登记")
    console.click("#accept-count-form button[type=submit]")
    expect(console.locator("#count-check")).to_contain_text("已登记处理决定：经核对，两名党员入场时未签到，已补登记",
                                                            use_inner_text=True)
    expect(screen.locator("#count-over")).to_contain_text("主持人已登记处理决定", use_inner_text=True)
    expect(console.locator("[data-cmd=announce-results]")).to_be_enabled()
    console.click("[data-cmd=announce-results]")
    expect(screen.locator("#phase")).to_have_text("结果已公布", use_inner_text=True)
    decision = host.get(m)["count_check"]["decision"]
    assert decision["reason"] == "经核对，两名党员入场时未签到，已补登记" and decision["actor"] == username
