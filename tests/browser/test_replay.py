"""The auditor replays a finished meeting: slider, steps and a time input move the replayed hall screen."""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import expect

from tests.live.server import SUBJECTS


def finished_meeting(hall: Any, contexts: Any) -> tuple[str, str]:
    """A meeting run through the API to its results; returns (meeting id, the head hash the hall screen showed at the close)."""
    meeting_id, host, _ = hall.meeting(party_members=6, representatives=0)
    m = f"meetings/{meeting_id}/"
    for i in range(6):
        host.post(m + "check-in/", {"member_id": f"pm{i}"}, expect=200)
    host.post(m + "quorum-override/", {"reason": "测试：村民代表不在场"}, expect=200)
    host.post(m + "open/", expect=200)
    for subject_id, _ in SUBJECTS:
        host.post(m + "reports/start/", {"subject_id": subject_id}, expect=200)
        time.sleep(1.1)  # the log's times have seconds: the second report's start gets a second of its own
        host.post(m + "reports/end/", {"subject_id": subject_id}, expect=200)
    codes = host.post(m + "codes/", {"category": "party_member", "count": 6}, expect=200)["codes"]
    host.post(m + "ballot/open/", expect=200)
    voter = hall.api(None)
    for n, code in enumerate(codes[:4]):
        grade = "bu_chenzhi" if n < 2 else "chenzhi"
        voter.post(f"v/{meeting_id}/ballot/", {"code": code, "marks": {sid: {"zongti": grade} for sid, _ in SUBJECTS}},
                   expect=201)
    # Two ballots on paper, entered by two tellers.
    batch = [{"code": code, "marks": {sid: {"zongti": "jiben_chenzhi"} for sid, _ in SUBJECTS}} for code in codes[4:]]
    for _teller in range(2):
        hall.api("teller").post(m + "paper-batches/", {"batch_no": 1, "ballots": batch}, expect=200)
    screen = contexts.screen().new_page()
    screen.goto(hall.url(f"/hall/{meeting_id}/screen/?t={hall.screen_token(meeting_id)}"))
    expect(screen.locator("#phase")).to_have_text("测评进行中", use_inner_text=True)
    host.post(m + "ballot/close/", expect=200)
    expect(screen.locator("#phase")).to_have_text("测评已结束", use_inner_text=True)
    shown = screen.locator("[data-head-hash]").inner_text()
    host.post(m + "results/announce/", expect=200)
    expect(screen.locator("#phase")).to_have_text("结果已公布", use_inner_text=True)
    return meeting_id, shown


def test_the_auditor_steps_through_a_finished_meeting_and_sees_the_screen_as_it_was(
    hall: Any, contexts: Any, artifacts: Any,
) -> None:
    meeting_id, head_at_close = finished_meeting(hall, contexts)
    username, password = hall.user("auditor")
    page = contexts.desk().new_page()
    page.goto(hall.url("/login/?next=/audit/"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")
    row = page.locator(f"tr[data-meeting='{meeting_id}']")
    expect(row.locator("[data-verdict]")).to_contain_text("校验通过", use_inner_text=True)
    row.locator("[data-replay]").click()

    # It opens at the last position: the results, as the hall screen showed them.
    replay = page.locator("#replay")
    expect(page.locator("#screen #phase")).to_have_text("结果已公布", use_inner_text=True)
    expect(page.locator("#replay-verdict")).to_contain_text("重新计票与公布结果一致", use_inner_text=True)
    expect(page.locator("#tally-state [data-counted]")).to_have_text("6")
    for grade in ("chenzhi", "jiben_chenzhi", "bu_chenzhi"):  # two phone ballots each way, two on paper
        expect(page.locator(f"#tally-table tr[data-subject=shuji] [data-grade={grade}]")).to_have_text("2")
    page.screenshot(path=str(artifacts / "replay-results.png"), full_page=True)

    # Just after the 5th check-in: the quorum numbers of that moment.
    page.locator("#timeline li[data-type=AttendeeCheckedIn]").nth(4).locator("button").click()
    fifth = page.locator("#timeline li[data-type=AttendeeCheckedIn]").nth(4).get_attribute("data-version")
    expect(replay).to_have_attribute("data-version", str(fifth))
    expect(page.locator("#screen #checked-in")).to_have_text("已签到 5 人", use_inner_text=True)
    expect(page.locator("#console-quorum [data-quorum=party_member] b")).to_have_text("5")
    expect(page.locator("#screen #phase")).to_have_text("已公告", use_inner_text=True)
    page.screenshot(path=str(artifacts / "replay-check-in-5.png"), full_page=True)

    # One step on with the slider's keyboard, one with the button: the count moves with them.
    page.locator("#replay-slider").press("ArrowRight")
    expect(page.locator("#screen #checked-in")).to_have_text("已签到 6 人", use_inner_text=True)
    page.click("[data-step=prev]")
    expect(page.locator("#screen #checked-in")).to_have_text("已签到 5 人", use_inner_text=True)

    # "What did the screen show at the moment the second report started?"
    second = str(page.locator("#timeline li[data-type=ReportStarted]").nth(1).get_attribute("data-at"))
    page.fill("#replay-at", second)
    page.click("#replay-time button[type=submit]")
    expect(page.locator("#screen #speaker")).to_have_text(SUBJECTS[1][1], use_inner_text=True)
    expect(page.locator("#screen #timer")).not_to_have_text("--:--")
    expect(page.locator("#timeline li.current")).to_have_attribute("data-type", "ReportStarted")
    # Before the first event the log has nothing to show, and says so.
    page.fill("#replay-at", "2000-01-01T00:00:00")
    page.click("#replay-time button[type=submit]")
    expect(page.locator("#replay-position")).to_contain_text("该时刻之前会议日志中还没有事件", use_inner_text=True)

    # The ballot's close: the head hash the hall screen showed then.
    page.locator("#timeline li[data-type=BallotClosed] button").click()
    expect(page.locator("#screen #phase")).to_have_text("测评已结束", use_inner_text=True)
    expect(page.locator("#screen [data-head-hash]")).to_have_text(head_at_close)
    expect(page.locator("#tally-state [data-phone]")).to_have_text("4")
    expect(page.locator("#tally-state [data-paper]")).to_have_text("2")
    expect(page.locator("#console-state [data-batch='1']")).to_have_text("第 1 批：核对一致", use_inner_text=True)
    page.screenshot(path=str(artifacts / "replay-ballot-closed.png"), full_page=True)
    # While voting, the replay has no phone count: the ballots were sealed outside the log.
    page.locator("#timeline li[data-type=BallotOpened] button").click()
    expect(page.locator("#tally-state [data-phone-sealed]")).to_be_visible()
    expect(page.locator("#sealed-note")).to_be_visible()
    page.screenshot(path=str(artifacts / "replay-voting.png"), full_page=True)
    page.click("[data-step=last]")
    expect(page.locator("#screen #phase")).to_have_text("结果已公布", use_inner_text=True)
    expect(page.locator("#sealed-note")).to_be_hidden()
