"""The hall screen at 1920x1080 with a full results page: 10 subjects on 5 criteria, the 双评 split and a
pooled group, in Chinese and in English. Nothing may be cut off or lie outside the screen."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.fit import CUT_OFF

SURNAMES = "王李张刘陈杨赵黄周吴"
POSTS = ["村党支部书记", "村委会主任", "村党支部副书记", "村委会副主任", "村监委会主任",
         "村妇联主席", "村委会委员（兼报账员）", "村党支部组织委员", "村团支部书记", "村民兵连长"]
# Two bodies graded 好…差 and eight persons graded 称职…不称职 (双述双评 grades each kind on its own scale).
SUBJECTS = [("b0", "柳林村党支部", "body"), ("b1", "柳林村村民委员会", "body")]
SUBJECTS += [(f"s{i}", f"{SURNAMES[i]}建华（{post}）", "person") for i, post in enumerate(POSTS[:8])]
PARTY, REPS, GUESTS = 6, 5, 2  # guests (<5) are pooled with the smallest group: the representatives


def full_meeting(hall: Any) -> tuple[str, str]:
    """A 双述双评 meeting with guests grading too, run by the API to announced results; returns its id and a used code."""
    admin, host, voter = hall.api("county_admin"), hall.api("host"), hall.api(None)
    rules = admin.get("presets/")["shuang_shu_shuang_ping"]
    rules["voter_categories"] = ["party_member", "representative", "guest"]
    rules["graders"] = {level: ["party_member", "representative", "guest"] for level in rules["graders"]}
    round_id = admin.post("rounds/", {"name": "2026年度双述双评", "year": 2026, "variant": "shuang_shu_shuang_ping",
                                      "rules": rules}, expect=201)["round_id"]
    roster = [{"member_id": f"pm{i}", "name": f"党员{i}", "category": "party_member"} for i in range(PARTY)]
    roster += [{"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(REPS)]
    starts = (datetime.now(UTC) + timedelta(days=4)).isoformat()
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": "柳林乡柳林村2026年度双述双评大会", "township": "柳林乡", "village": "柳林村",
        "starts_at": starts, "place": "柳林村村委会会议室",
        "subjects": [{"subject_id": sid, "name": name, "level": "village", "kind": kind} for sid, name, kind in SUBJECTS],
        "roster": roster,
    }, expect=201)["meeting_id"]
    m = f"meetings/{mid}/"
    host.post(m + "announce/", {"starts_at": starts, "place": "柳林村村委会会议室", "agenda": ["述职", "测评"],
                                "channels": ["公开栏"]}, expect=200)
    for member in roster:
        host.post(m + "check-in/", {"member_id": member["member_id"]}, expect=200)
    for i in range(GUESTS):
        host.post(m + "guests/", {"guest_id": f"g{i}", "name": f"列席{i}"}, expect=200)
    host.post(m + "quorum-override/", {"reason": "测试：村民代表不足30人"}, expect=200)
    host.post(m + "open/", expect=200)
    for sid, _, _ in SUBJECTS:
        host.post(m + "reports/start/", {"subject_id": sid}, expect=200)
        host.post(m + "reports/end/", {"subject_id": sid}, expect=200)
    codes = [code for category, n in (("party_member", PARTY), ("representative", REPS), ("guest", GUESTS))
             for code in host.post(m + "codes/", {"category": category, "count": n}, expect=200)["codes"]]
    host.post(m + "ballot/open/", expect=200)
    pick = random.Random(13)
    criteria = [c["id"] for c in rules["criteria"]]
    grades = {kind: [g["id"] for g in scale["grades"]] for kind, scale in rules["scales"].items()}
    for code in codes:
        marks = {sid: {c: pick.choice(grades[kind]) for c in criteria} for sid, _, kind in SUBJECTS}
        voter.post(f"v/{mid}/ballot/", {"code": code, "marks": marks}, expect=201)
    host.post(m + "ballot/close/", expect=200)
    host.post(m + "results/announce/", expect=200)
    return mid, codes[0]


@pytest.fixture(scope="module")
def announced(hall: Any) -> tuple[str, str]:
    return full_meeting(hall)


def test_results_of_ten_subjects_with_the_split_fit_a_1920x1080_screen_in_both_languages(
    hall: Any, contexts: Any, artifacts: Any, announced: tuple[str, str],
) -> None:
    mid, _ = announced
    results = hall.api("county_admin").get(f"meetings/{mid}/results/")
    groups = {(g["group_id"], tuple(g["categories"])) for g in results["subjects"][0]["groups"]}
    assert groups == {("party_member", ("party_member",)), ("other", ("representative", "guest"))}
    screen = contexts.screen()
    for lang, heading, note, formula in (
        ("zh", "党员评议", "列席人员不足5人，已并入村民代表合并计票", "得分的计算方法"),
        ("en", "Evaluation by Party members", "fewer than 5 ballots of invited guests: merged with village representatives",
         "How the score is computed"),
    ):
        page: Page = screen.new_page()
        page.goto(hall.url(f"/hall/{mid}/screen/?t={hall.screen_token(mid)}" + ("&lang=en" if lang == "en" else "")))
        expect(page.locator(".subject-result")).to_have_count(len(SUBJECTS))
        split = page.locator("#split")
        expect(split).to_contain_text(heading, use_inner_text=True)
        expect(split.locator(".group-split")).to_have_count(2)
        expect(split.locator(".group-split[data-group=other] tbody tr")).to_have_count(len(SUBJECTS))
        expect(split.locator(".merge-note")).to_contain_text(note, use_inner_text=True)
        if lang == "zh":  # a group's table names both scales' rates: bodies 好评率, persons 称职率
            expect(split.locator(".group-split").first.locator("thead")).to_contain_text("好评率／称职率",
                                                                                     use_inner_text=True)
        expect(page.locator("#score-formula summary")).to_have_text(formula, use_inner_text=True)
        expect(page.locator("[data-participation-rule]")).to_be_visible()
        page.wait_for_timeout(300)  # the results' fit to the screen runs after the render
        page.screenshot(path=str(artifacts / f"screen-results-1920-{lang}.png"))
        cut = page.evaluate(CUT_OFF)
        assert cut == [], "\n".join(cut)
        page.close()


def test_the_workspace_opens_a_meetings_results_per_voter_group(hall: Any, contexts: Any, artifacts: Any,
                                                               announced: tuple[str, str]) -> None:
    mid, _ = announced
    username, password = hall.user("county_admin")
    page = contexts.desk().new_page()
    page.goto(hall.url("/login/?next=/workspace/"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")
    page.click(f"tr[data-meeting={mid}] a[data-results]")
    first = page.locator(f"section[data-subject={SUBJECTS[2][0]}]")  # a person: 称职…不称职
    expect(first.locator("tr[data-group=party_member] th")).to_have_text("党员评议", use_inner_text=True)
    expect(first.locator("tr[data-group=other] th")).to_have_text("合并评议（村民代表、列席人员）", use_inner_text=True)
    expect(first.locator(".merge-note")).to_contain_text("列席人员不足5人，已并入村民代表合并计票", use_inner_text=True)
    expect(first.locator("thead")).to_contain_text("不称职率", use_inner_text=True)  # each subject's own scale
    expect(page.locator(f"section[data-subject={SUBJECTS[0][0]}] thead")).to_contain_text("差评率", use_inner_text=True)
    expect(page.locator("[data-participation-rule]")).to_contain_text("参评率＝收回票数÷应参评人数", use_inner_text=True)
    page.click("#score-formula summary")
    expect(page.locator("#score-formula")).to_contain_text("得分＝Σ（组权重×组平均分）÷Σ组权重", use_inner_text=True)
    page.screenshot(path=str(artifacts / "workspace-meeting-results.png"), full_page=True)


def test_a_voters_phone_shows_the_split_without_scrolling_sideways(hall: Any, contexts: Any, artifacts: Any,
                                                                  announced: tuple[str, str]) -> None:
    mid, code = announced
    phone = contexts.phone().new_page()
    phone.goto(hall.url(f"/v/{mid}#{code}"))
    split = phone.locator("#phone-results #split")
    expect(split).to_contain_text("党员评议", use_inner_text=True)
    expect(split.locator(".merge-note")).to_contain_text("列席人员不足5人", use_inner_text=True)
    expect(phone.locator("#phone-results #score-formula")).to_have_count(1)
    width = phone.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    phone.screenshot(path=str(artifacts / "phone-results-split.png"), full_page=True)
    assert width[0] <= width[1], f"the phone's page is {width[0]} px wide in a {width[1]} px window"
