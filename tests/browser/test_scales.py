"""A 双述双评 meeting (seed 000) in a real browser: the body graded 好/较好/一般/差, the person 称职/基本称职/不称职.

The voter's phone shows each subject its own grades, and the results on the
phone and the hall screen name each subject's rates: 差评率 for the Party
branch, 不称职率 for its secretary.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from playwright.sync_api import expect

from tests.browser.test_teller import open_teller

BODY, PERSON = ("zhibu", "杨庄村党支部"), ("shuji", "王建国（村党支部书记）")


def test_a_phone_ballot_grades_a_body_and_a_person_on_their_own_scales(hall: Any, contexts: Any, artifacts: Any) -> None:
    admin, host, voter = hall.api("county_admin"), hall.api("host"), hall.api(None)
    preset = admin.get("presets/")["shuang_shu_shuang_ping"]
    rules = {**preset, "criteria": [{"id": "zongti", "name_zh": "总体评价"}], "quorum": [], "min_group_size": 1}
    round_id = admin.post("rounds/", {"name": "2026年度双述双评", "year": 2026, "variant": "shuang_shu_shuang_ping",
                                      "rules": rules}, expect=201)["round_id"]
    starts = (datetime.now(UTC) + timedelta(days=4)).isoformat()
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": "杨庄村2026年度双述双评大会", "township": "柳林乡", "village": "杨庄村",
        "starts_at": starts, "place": "杨庄村党群服务中心",
        "subjects": [{"subject_id": BODY[0], "name": BODY[1], "level": "village", "kind": "body"},
                     {"subject_id": PERSON[0], "name": PERSON[1], "level": "village", "kind": "person"}],
        "roster": [{"member_id": f"pm{i}", "name": f"党员{i}", "category": "party_member"} for i in range(2)],
    }, expect=201)["meeting_id"]
    m = f"meetings/{mid}/"
    host.post(m + "announce/", {"starts_at": starts, "place": "杨庄村党群服务中心", "agenda": ["双述", "双评"],
                                "channels": ["公开栏"]}, expect=200)
    for i in range(2):
        host.post(m + "check-in/", {"member_id": f"pm{i}"}, expect=200)
    host.post(m + "open/", expect=200)
    for sid, _name in (BODY, PERSON):
        host.post(m + "reports/start/", {"subject_id": sid}, expect=200)
        host.post(m + "reports/end/", {"subject_id": sid}, expect=200)
    code_a, code_b = host.post(m + "codes/", {"category": "party_member", "count": 2}, expect=200)["codes"]
    host.post(m + "ballot/open/", expect=200)

    phone = contexts.phone().new_page()
    phone.goto(hall.url(f"/v/{mid}#{code_a}"))
    expect(phone.locator("#ballot-form")).to_be_visible()
    body_card = phone.locator(f"section.ballot-subject[data-subject={BODY[0]}]")
    person_card = phone.locator(f"section.ballot-subject[data-subject={PERSON[0]}]")
    assert [v for v in body_card.locator("input[type=radio]").evaluate_all("xs => xs.map(x => x.value)")] == [
        "hao", "jiaohao", "yiban", "cha"]
    assert [v for v in person_card.locator("input[type=radio]").evaluate_all("xs => xs.map(x => x.value)")] == [
        "chenzhi", "jiben_chenzhi", "bu_chenzhi"]
    body_labels = body_card.locator(".grades label").all_inner_texts()
    person_labels = person_card.locator(".grades label").all_inner_texts()
    assert [label.split()[0] for label in body_labels] == ["好", "较好", "一般", "差"], body_labels
    assert [label.split()[0] for label in person_labels] == ["称职", "基本称职", "不称职"], person_labels
    phone.screenshot(path=str(artifacts / "phone-two-scales.png"), full_page=True)

    phone.click(f'label:has(input[name="m_{BODY[0]}_zongti"][value="cha"])')
    phone.click(f'label:has(input[name="m_{PERSON[0]}_zongti"][value="chenzhi"])')
    phone.click("#to-confirm")
    confirm = phone.locator("#confirm")
    expect(confirm.locator("li", has_text=BODY[1]).locator("b")).to_contain_text("差", use_inner_text=True)
    expect(confirm.locator("li", has_text=PERSON[1]).locator("b")).to_contain_text("称职", use_inner_text=True)
    phone.click("#cast")
    expect(phone.locator("#receipt")).to_contain_text("投票成功", use_inner_text=True)
    voter.post(f"v/{mid}/ballot/", {"code": code_b, "marks": {BODY[0]: {"zongti": "hao"}, PERSON[0]: {"zongti": "bu_chenzhi"}}},
               expect=201)

    # The teller's entry table offers each subject's column its own grades too.
    teller, _ = open_teller(hall, contexts, mid)
    row = teller.locator("#entry-table tbody tr").first
    assert row.locator(f"select[name=m_{BODY[0]}_zongti] option").all_inner_texts() == ["—", "好", "较好", "一般", "差"]
    assert row.locator(f"select[name=m_{PERSON[0]}_zongti] option").all_inner_texts() == ["—", "称职", "基本称职", "不称职"]

    screen = contexts.screen().new_page()
    screen.goto(hall.url(f"/hall/{mid}/screen/?t={hall.screen_token(mid)}"))
    host.post(m + "ballot/close/", expect=200)
    host.post(m + "results/announce/", expect=200)

    for page, root in ((phone, "#phone-results"), (screen, "")):
        body = page.locator(f"{root} .subject-result[data-subject={BODY[0]}]".strip())
        person = page.locator(f"{root} .subject-result[data-subject={PERSON[0]}]".strip())
        expect(body.locator(".rates")).to_contain_text("差评率", use_inner_text=True)
        expect(body.locator(".rates")).to_contain_text("好评率", use_inner_text=True)
        expect(person.locator(".rates")).to_contain_text("不称职率", use_inner_text=True)
        expect(body.locator(".rates")).not_to_contain_text("称职", use_inner_text=True)
        expect(person.locator(".rates")).not_to_contain_text("差评率", use_inner_text=True)
        # one 差 of two ballots for the branch, one 不称职 of two for the secretary
        expect(body.locator(".unfav")).to_have_text("50.0%", use_inner_text=True)
        expect(person.locator(".unfav")).to_have_text("50.0%", use_inner_text=True)
        assert body.locator(".bar-row").evaluate_all("xs => xs.map(x => x.dataset.grade)") == ["hao", "jiaohao", "yiban", "cha"]
        assert person.locator(".bar-row").evaluate_all("xs => xs.map(x => x.dataset.grade)") == [
            "chenzhi", "jiben_chenzhi", "bu_chenzhi"]
        assert body.locator(".bar-row[data-grade=cha]").get_attribute("data-count") == "1"
        assert person.locator(".bar-row[data-grade=bu_chenzhi]").get_attribute("data-count") == "1"
    screen.screenshot(path=str(artifacts / "screen-two-scales.png"))
