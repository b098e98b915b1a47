"""A whole meeting run from the host console, with a hall screen and two phones watching and voting."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from playwright.sync_api import Page, expect

from tests.live.server import SUBJECTS


def login(page: Page, username: str, password: str) -> None:
    expect(page.locator("#id_username")).to_be_visible()
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")


def phase_is(page: Page, zh: str) -> None:
    expect(page.locator("#phase")).to_have_text(zh, use_inner_text=True)


PLACE = "柳林村村委会会议室"  # where tests.live.server.demo_meeting announces its meetings


def vote(phone: Page, grades: dict[str, str]) -> int:
    """Tap a grade for each subject on the phone's form; return how many choices are marked."""
    expect(phone.locator("#ballot-form")).to_be_visible()
    for subject_id, grade in grades.items():
        phone.click(f'label:has(input[name="m_{subject_id}_zongti"][value="{grade}"])')
    return phone.locator("#ballot-form").evaluate("f => f.querySelectorAll('input:checked').length")


def test_host_runs_a_whole_meeting_from_the_console(hall: Any, contexts: Any, artifacts: Any) -> None:
    meeting_id, host_api, setup = hall.meeting(party_members=2, representatives=3)
    username, password = hall.user("host")

    # -- the host logs in through /login/ and lands on the console ------------------------------
    console = contexts.desk().new_page()
    console.on("dialog", lambda dialog: dialog.accept())
    console.goto(hall.url(f"/hall/{meeting_id}/console/"))
    expect(console).to_have_url(re.compile(r"/login/\?next="))
    expect(console.locator("h1")).to_contain_text("登录述评平台", use_inner_text=True)
    login(console, username, password)
    expect(console).to_have_url(re.compile(f"/hall/{meeting_id}/console/$"))
    phase_is(console, "已公告")
    expect(console.locator("[data-cmd=open]")).to_be_enabled()
    expect(console.locator("[data-cmd=ballot-open]")).to_be_disabled()

    # -- the hall screen, from the link the console shows ----------------------------------------
    screen_url = console.input_value("#screen-url")
    assert f"/hall/{meeting_id}/screen/?t=" in screen_url
    screen = contexts.screen().new_page()
    screen.goto(screen_url)
    phase_is(screen, "已公告")
    # before the meeting the screen says when, where and who reports first
    info = screen.locator("#info-panel")
    expect(info.locator("[data-info=time]")).to_have_text(re.compile(r"^\d{4}年\d{1,2}月\d{1,2}日 \d\d:\d\d$"), use_inner_text=True)
    expect(info.locator("[data-info=place]")).to_have_text(PLACE, use_inner_text=True)
    expect(info.locator("[data-info=next]")).to_have_text(SUBJECTS[0][1], use_inner_text=True)

    # -- check-in: both party members (4/5 of 2), a guest; representatives short: override --------
    for member_id in ("pm0", "pm1"):
        console.click(f"[data-checkin={member_id}]")
        expect(console.locator(f"tr[data-member={member_id}]")).to_contain_text("已签到", use_inner_text=True)
    expect(console.locator("#quorum li[data-category=party_member]")).to_contain_text("实到 2 / 应到 2", use_inner_text=True)
    console.fill("#guest-form input[name=guest_name]", "县妇联 张红")
    console.click("#guest-form button")
    expect(console.locator("#guests")).to_contain_text("张红", use_inner_text=True)
    expect(console.locator("#quorum-verdict")).to_contain_text("尚未达到法定人数", use_inner_text=True)
    console.fill("#override-form textarea", "多数村民代表外出务工，经乡镇党委同意继续开会")
    console.click("#override-form button")
    expect(console.locator("#quorum-verdict")).to_contain_text("已批准不足法定人数继续", use_inner_text=True)
    expect(screen.locator("#quorum-panel")).to_contain_text("经主持人批准继续", use_inner_text=True)

    console.click("[data-cmd=open]")
    phase_is(console, "会议进行中")
    expect(console.locator("[data-cmd=open]")).to_be_disabled()

    # -- reports in order; the screen counts down from 08:00 on the server's clock -------------------
    first, second = (sid for sid, _ in SUBJECTS)
    expect(console.locator(f"[data-start-report={second}]")).to_be_disabled()
    console.click(f"[data-start-report={first}]")
    expect(screen.locator("#speaker")).to_have_text(SUBJECTS[0][1], use_inner_text=True)
    expect(screen.locator("#info-panel [data-info=next]")).to_have_text(SUBJECTS[1][1], use_inner_text=True)
    # Events, not sleeps: the clock leaves 08:00 for 07:5x, then its next tick is lower still.
    expect(screen.locator("#timer")).to_have_text(re.compile(r"^07:5\d$"), use_inner_text=True)
    shown = screen.locator("#timer").inner_text()
    assert re.fullmatch(r"07:5\d", shown), shown
    screen.wait_for_function("shown => document.querySelector('#timer').innerText !== shown", arg=shown)
    later = screen.locator("#timer").inner_text()
    assert re.fullmatch(r"07:5\d", later) and later < shown, (shown, later)
    screen.screenshot(path=str(artifacts / "screen-report.png"))
    # Over time the clock turns red and counts up: move the screen's idea of the server clock 490 s on.
    screen.evaluate("window.shupingLive.offsetMs += 490000")
    expect(screen.locator("#timer")).to_have_text(re.compile(r"^超时 \+00:1\d$"), use_inner_text=True)
    expect(screen.locator("#timer")).to_have_class(re.compile(r"\bovertime\b"))
    screen.screenshot(path=str(artifacts / "screen-overtime.png"))
    screen.evaluate("window.shupingLive.resync()")  # a fresh snapshot brings the real clock back
    expect(screen.locator("#timer")).to_have_text(re.compile(r"^07:\d\d$"), use_inner_text=True)

    # a comment and two questions: one answered on the spot, one deferred with a promise
    console.select_option("#comment-form select[name=subject_id]", first)
    console.fill("#comment-form textarea", "带头作用明显，集体经济有起色；矛盾调处还要加强。")
    console.fill("#comment-form input[name=author]", "乡党委书记 刘明")
    console.click("#comment-form button")
    expect(console.locator("#comments")).to_contain_text("矛盾调处还要加强", use_inner_text=True)

    console.select_option("#question-form select[name=subject_id]", first)
    console.select_option("#asked-by", "pm0")
    console.fill("#question-form textarea", "村道硬化什么时候完工？")
    console.click("#question-form button")
    console.select_option("#question-form select[name=subject_id]", first)
    console.fill("#question-form textarea", "集体收入的账目什么时候公开？")
    console.click("#question-form button")
    expect(console.locator("[data-question]")).to_have_count(2)
    expect(screen.locator("#questions-panel")).to_contain_text("村道硬化什么时候完工？", use_inner_text=True)

    road = console.locator("[data-question]", has_text="村道硬化")
    road.locator("textarea[name=answer]").fill("已列入今年计划，十月底前完工。")
    road.locator("button[type=submit]").click()
    expect(road).to_contain_text("已答复", use_inner_text=True)
    books = console.locator("[data-question]", has_text="账目")
    books.locator("textarea[name=answer]").fill("下月村务公开栏公布全年账目。")
    books.locator("input[name=due_on]").fill("2026-12-31")
    books.locator("[data-defer]").click()
    expect(books).to_contain_text("承诺会后答复", use_inner_text=True)
    expect(screen.locator("#questions-panel")).to_contain_text("会后答复", use_inner_text=True)

    console.click(f"[data-end-report={first}]")
    console.click(f"[data-start-report={second}]")
    expect(screen.locator("#speaker")).to_have_text(SUBJECTS[1][1], use_inner_text=True)
    console.click(f"[data-end-report={second}]")
    expect(console.locator(f"li[data-subject={second}]")).to_contain_text("已述职", use_inner_text=True)
    expect(console.locator("[data-cmd=ballot-open]")).to_be_enabled()

    # -- ballot codes, shown once on the console ----------------------------------------------------
    console.select_option("#code-category", "party_member")
    console.fill("#codes-form input[name=count]", "2")
    console.click("#codes-form button[type=submit]")
    codes = console.locator("#code-batches [data-code]")
    expect(codes).to_have_count(2)
    code_a, code_b = codes.all_inner_texts()

    # a phone opened before voting waits, then shows the form when the ballot opens
    phone_a = contexts.phone().new_page()
    phone_a.goto(hall.url(f"/v/{meeting_id}#{code_a}"))
    expect(phone_a.locator("#waiting")).to_contain_text("投票尚未开始", use_inner_text=True)
    # while waiting, a voter may ask a question, anonymously
    phone_a.select_option("#question-form select[name=subject_id]", second)
    phone_a.fill("#question-form textarea", "低保评定名单能不能在公开栏公示？")
    phone_a.click("#question-form button")
    expect(phone_a.locator("#notice")).to_contain_text("问题已提交", use_inner_text=True)
    asked = console.locator("[data-question]", has_text="低保评定名单")
    expect(asked).to_contain_text("匿名", use_inner_text=True)
    expect(screen.locator("#questions-panel")).to_contain_text("低保评定名单", use_inner_text=True)
    console.click("[data-cmd=ballot-open]")
    phase_is(console, "测评进行中")
    # the phase buttons stay in reach at the bottom of the console
    console.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    expect(console.locator("[data-cmd=ballot-close]")).to_be_in_viewport()
    expect(phone_a.locator("#ballot-form")).to_be_visible()

    phone_b = contexts.phone().new_page()
    phone_b.goto(hall.url(f"/v/{meeting_id}#{code_b}"))

    chosen = {"a": {first: "chenzhi", second: "chenzhi"}, "b": {first: "chenzhi", second: "bu_chenzhi"}}
    receipts = {}
    for name, phone in (("a", phone_a), ("b", phone_b)):
        assert vote(phone, chosen[name]) == 2
        if name == "a":
            phone.screenshot(path=str(artifacts / "phone-form.png"), full_page=True)
        phone.click("#to-confirm")
        expect(phone.locator("#confirm")).to_contain_text(SUBJECTS[1][1], use_inner_text=True)
        expect(phone.locator("#confirm")).to_contain_text("不称职" if name == "b" else "称职", use_inner_text=True)
        phone.click("#cast")
        expect(phone.locator("#receipt")).to_contain_text("投票成功", use_inner_text=True)
        receipts[name] = phone.locator("#receipt-code").get_attribute("data-receipt")
        assert re.fullmatch(r"[0-9a-f]{64}", receipts[name] or ""), receipts[name]
    phone_a.screenshot(path=str(artifacts / "phone-receipt.png"), full_page=True)
    assert receipts["a"] != receipts["b"]

    # the receipt survives a reload (localStorage), and the code cannot vote again
    phone_a.reload()
    expect(phone_a.locator("#receipt-code")).to_have_attribute("data-receipt", receipts["a"])
    elsewhere = contexts.phone().new_page()
    elsewhere.goto(hall.url(f"/v/{meeting_id}#{code_a}"))
    expect(elsewhere.locator("#voted")).to_contain_text("此测评码已经投过票", use_inner_text=True)
    expect(elsewhere.locator("#ballot-form")).to_have_count(0)

    # -- turnout on the screen, then close, announce, compare with the API's tally -------------------
    # over the eligible voters (roster of 5 + the guest), the denominator of the announced 参评率
    expect(screen.locator("#turnout")).to_have_text(re.compile(r"^已投 2/6"), use_inner_text=True)
    console.click("[data-cmd=ballot-close]")
    phase_is(console, "测评已结束")
    expect(console.locator("#count-check")).to_contain_text("收回票数未超过到会人数", use_inner_text=True)
    expect(console.locator("#count-check li[data-category=party_member]")).to_contain_text("收回 2 票 / 到会 2 人", use_inner_text=True)
    expect(screen.locator("[data-head-hash]")).to_have_text(re.compile(r"^[0-9a-f]{64}$"), use_inner_text=True)
    console.click("[data-cmd=announce-results]")
    phase_is(screen, "结果已公布")
    expect(screen.locator(".subject-result")).to_have_count(2)

    results = host_api.get(f"meetings/{meeting_id}/results/")
    assert results["ballots_counted"] == 2
    expect(screen.locator("[data-total=ballots]")).to_have_text("2", use_inner_text=True)
    for subject in results["subjects"]:
        expected: Counter[str] = Counter()
        for per_grade in subject["counts"].values():
            expected.update(per_grade)
        card = screen.locator(f".subject-result[data-subject={subject['subject_id']}]")
        for grade in ("chenzhi", "jiben_chenzhi", "bu_chenzhi"):
            row = card.locator(f".bar-row[data-grade={grade}]")
            assert int(row.get_attribute("data-count") or -1) == expected[grade], (subject["subject_id"], grade)
            assert int(row.locator(".count").inner_text()) == expected[grade]
            assert row.locator(".pct").inner_text() == subject["grade_percent"][grade]
        expect(card.locator(".unfav")).to_have_text(subject["unfavourable_percent"], use_inner_text=True)
        expect(card.locator(".flag")).to_have_count(1 if subject["flagged"] else 0)
        # the score as announced (the recorded ResultsAnnounced, rounded to a tenth): the frame carries it once
        score = next(s["score"] for s in results["announced"]["subjects"] if s["subject_id"] == subject["subject_id"])
        expect(card.locator(".rates b", has_text=re.compile(rf"^{re.escape(score)}$"))).to_have_count(1)
    # zhuren got one 不称职 of two ballots: 50% >= 30%, flagged for an admonishment interview
    assert results["flagged_subjects"] == [second]
    expect(screen.locator("[data-head-hash]")).to_have_text(results["head_hash"], use_inner_text=True)
    screen.screenshot(path=str(artifacts / "screen-results.png"))

    expect(phone_b.locator("#phone-results .subject-result")).to_have_count(2)
    console.click("[data-cmd=close-meeting]")
    phase_is(console, "会议已结束")
    phase_is(screen, "会议已结束")
    # the question deferred with a promise is answered after the meeting, from the console
    books = console.locator("[data-question]", has_text="账目")
    books.locator("textarea[name=answer]").fill("全年账目已于村务公开栏公布。")
    books.locator("button[type=submit]").click()
    expect(books).to_contain_text("已答复：全年账目已于村务公开栏公布。", use_inner_text=True)
    expect(books).to_contain_text("承诺会后答复", use_inner_text=True)
    console.screenshot(path=str(artifacts / "console-closed.png"), full_page=True)

    # the county dashboard lists the meeting with its results summary
    console.goto(hall.url("/dashboard/"))
    row = console.locator(f"tr[data-meeting={meeting_id}]")
    expect(row).to_contain_text("会议已结束", use_inner_text=True)
    expect(row.locator("[data-turnout]")).to_have_text("2/6", use_inner_text=True)  # the screen's figure
    expect(row.locator("[data-participation]")).to_have_text("33.3%", use_inner_text=True)  # 2 of 6 eligible
    expect(row).to_contain_text(f"须诫勉谈话：{SUBJECTS[1][1]}（50.0%）", use_inner_text=True)
    expect(row.locator(f"a[href='/hall/{meeting_id}/console/']")).to_have_count(1)
    console.screenshot(path=str(artifacts / "dashboard-results.png"), full_page=True)

    for name in ("screen-report.png", "screen-results.png", "phone-form.png", "phone-receipt.png"):
        assert (artifacts / name).stat().st_size > 10_000, name
