"""The county's year in Chromium: the county records a quarter's scores, the ranking page shows the ranks and the
tie rule, and a phone without login reads a village's commitment and its progress on the public page."""

from __future__ import annotations

from datetime import date
from typing import Any

from django_tenants.utils import schema_context
from playwright.sync_api import expect

from followup.actions import commitments as commitment_doors
from tests.integration.followup.year_county import ADMIN, HOST, cid, plan, township_with_villages

SCORES = {"东坡村": (50, 30), "西坡村": (50, 30), "南坡村": (40, 30), "北坡村": (30, 20)}


def log_in(page: Any, hall: Any, username: str, password: str, path: str) -> None:
    page.goto(hall.url(f"/login/?next={path}"))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-submit")
    page.wait_for_url(hall.url(path))


def test_the_county_scores_a_quarter_and_a_phone_reads_the_commitment(hall: Any, contexts: Any, artifacts: Any) -> None:
    with hall.db(), schema_context(hall.county.schema_name):
        place = township_with_villages("胜利镇", list(SCORES))
        tasks, goals = plan()
        commitment = commitment_doors.check_sign_commitment(
            actor=ADMIN, direction="village_to_township", official_id=place.secretaries["东坡村"],
            village_id=place.villages["东坡村"], year=2026, tasks=tasks, goals=goals, signed_on=date(2026, 1, 6),
            command_id=cid())
        commitment_doors.check_report_commitment_progress(
            actor=HOST, commitment_id=commitment, month=1, text="修缮党群服务中心屋顶", evidence="验收单编号2026-01",
            today=date(2026, 1, 30), command_id=cid())

    admin, password = hall.user("county_admin")
    page = contexts.desk().new_page()
    log_in(page, hall, admin, password, "/rankings/")
    # The criteria, typed one a line; a mark that is not a number is refused, then corrected.
    criteria = page.locator("#set-criteria")
    criteria.locator("textarea[name=criteria]").fill("组织建设 五十\n工作绩效 50")
    criteria.locator("button").click()
    expect(page.locator("[data-testid=ledger-error]")).to_contain_text("分数须为整数")
    page.locator("#set-criteria textarea[name=criteria]").fill("组织建设 50\n工作绩效 50")
    page.locator("#set-criteria input[name=reason]").fill("县委组织部年度考核办法")
    page.locator("#set-criteria button").click()
    page.wait_for_url(hall.url("/rankings/"))
    expect(page.locator("#set-criteria textarea[name=criteria]")).to_have_value("组织建设 50\n工作绩效 50")
    chooser = page.locator("#choose-township")
    chooser.locator("select[name=township]").select_option(label="胜利镇")
    chooser.locator("input[name=score_quarter]").fill("2026Q1")
    chooser.locator("button").click()
    sheet = page.locator("#record-scores")
    for village, (first, second) in SCORES.items():
        row = sheet.locator(f"tr[data-village={village}]")
        row.locator("input").nth(0).fill(str(first))
        row.locator("input").nth(1).fill(str(second))
    sheet.locator("button.primary").click()
    page.wait_for_url(hall.url("/rankings/?quarter=2026Q1"))
    table = page.locator("[data-testid=township-ranking][data-township=胜利镇]")
    ranks = [table.locator(f"tr[data-village={v}] [data-testid=rank]").inner_text() for v in SCORES]
    assert ranks == ["1", "1", "3", "4"]
    expect(page.locator("[data-testid=tie-rule]")).to_contain_text("得分相同者名次并列，其后的名次顺延跳过（例如 1、1、3）")
    page.screenshot(path=str(artifacts / "year-rankings.png"), full_page=True)

    phone = contexts.phone().new_page()
    phone.goto(hall.url(f"/gongkai/{place.villages['东坡村']}/"))
    expect(phone.locator("[data-testid=public-heading]")).to_have_text("胜利镇东坡村")
    upward = phone.locator("[data-testid=upward]")
    expect(upward).to_contain_text("东坡村书记（党支部书记）")
    expect(upward).to_contain_text("第1季度：完成阵地建设第1步")
    expect(upward.locator("[data-testid=commitment-progress]")).to_contain_text("修缮党群服务中心屋顶")
    expect(upward.locator("[data-testid=commitment-progress]")).to_contain_text("验收单编号2026-01")
    phone.screenshot(path=str(artifacts / "year-public.png"), full_page=True)


def test_the_county_records_a_signed_commitment_from_its_desk(hall: Any, contexts: Any, artifacts: Any) -> None:
    """The desk narrows the pickers to a township, picks the secretary and the village, fills the plan, records."""
    with hall.db(), schema_context(hall.county.schema_name):
        place = township_with_villages("红旗乡", ["枣林村", "杏花村"])
        other = township_with_villages("白沙镇", ["沙湾村"])
    admin, password = hall.user("county_admin")
    page = contexts.desk().new_page()
    log_in(page, hall, admin, password, "/commitments/")
    picker = page.locator("#pick-official")
    picker.locator("select[name=township]").select_option(label="红旗乡")
    picker.locator("button").click()
    page.wait_for_url(lambda url: f"township={place.township_id}" in url)
    form = page.locator("#sign-commitment")
    officials = form.locator("select[name=official_id] option")
    expect(officials).to_have_count(3)  # the township's member and its two secretaries
    expect(form.locator("select[name=official_id]")).not_to_contain_text("沙湾村书记")
    form.locator("select[name=direction]").select_option("village_to_township")
    form.locator("select[name=official_id]").select_option(place.secretaries["杏花村"])
    form.locator("select[name=village_id]").select_option(label="红旗乡杏花村")
    form.locator("input[name=signed_on]").fill("2026-01-08")
    for q in range(1, 5):
        form.locator(f"input[name=goal_{q}]").fill(f"村集体经济第{q}季度增收")
    for m in range(1, 13):
        form.locator(f"input[name=task_{m}]").fill(f"{m}月开展主题党日")
    page.screenshot(path=str(artifacts / "year-commitment-desk.png"), full_page=True)
    form.locator("button.primary").click()
    page.wait_for_url(lambda url: "/commitments/" in url and "township" not in url and url.rstrip("/") != hall.url("/commitments"))
    expect(page.locator("main")).to_contain_text("杏花村书记")
    expect(page.locator("main")).to_contain_text("村集体经济第2季度增收")
    expect(page.locator("main")).to_contain_text("3月开展主题党日")
    page.screenshot(path=str(artifacts / "year-sign-commitment.png"), full_page=True)
    signed_at = page.url

    # The year goes on from the same page: progress with its evidence, a quarter's score, a new version.
    report = page.locator("#report-progress")
    report.locator("select[name=month]").select_option("2")
    report.locator("input[name=text]").fill("召开主题党日，党员到会28人")
    report.locator("textarea[name=evidence]").fill("会议记录本第12页")
    report.locator("button.primary").click()
    page.wait_for_url(signed_at)
    expect(page.locator("[data-testid=commitment-progress]")).to_contain_text("召开主题党日，党员到会28人")
    score = page.locator("#score-commitment")
    score.locator("select[name=quarter]").select_option("1")
    score.locator("input[name=score]").fill("一百")
    score.locator("button.primary").click()
    expect(page.locator("[data-testid=ledger-error]")).to_contain_text("兑现评分")  # refused in Chinese
    expect(page.locator("[data-testid=commitment-scores]")).to_have_count(0)  # and nothing recorded
    page.locator("#score-commitment input[name=score]").fill("92")
    page.locator("#score-commitment button.primary").click()
    page.wait_for_url(signed_at)
    expect(page.locator("[data-testid=commitment-scores]")).to_have_text("第1季度：92分")
    amend = page.locator("#amend-commitment")
    amend.locator("input[name=goal_3]").fill("村集体经济第3季度增收两万元")
    amend.locator("input[name=reason]").fill("乡党委调整年度目标")
    amend.locator("button.primary").click()
    page.wait_for_url(signed_at)
    expect(page.locator("[data-testid=commitment-version]").first).to_have_text("现行第2版")
    expect(page.locator("main")).to_contain_text("村集体经济第3季度增收两万元")

    page.goto(hall.url("/commitments/"))
    expect(page.locator("[data-testid=commitments]")).to_contain_text("杏花村书记")
    assert other.secretaries["沙湾村"] not in page.locator("[data-testid=commitments]").inner_html()
