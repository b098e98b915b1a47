"""The organization department schedules a township's villages in one form, announces one, prints its notice."""

from __future__ import annotations

import io
import re
import uuid
from datetime import timedelta
from typing import Any

from django.utils import timezone
from django_tenants.utils import schema_context
from playwright.sync_api import expect
from pypdf import PdfReader

from accounts.roles import Actor
from meetings.actions.registry import FirstPost, check_register_body, check_register_official
from meetings.actions.rounds import check_open_round
from meetings.models import RosterMember, Township, Village

ADMIN = Actor("zuzhibu", "county_admin")


def _township_with_registry(suffix: str) -> tuple[Township, list[Village]]:
    """A township of three villages, each with a Party branch, its secretary and five Party members."""
    township = Township.objects.create(name=f"柳河镇{suffix}")
    villages = []
    for i, name in enumerate(("上庄村", "下庄村", "河湾村")):
        village = Village.objects.create(township=township, name=f"{name}{suffix}")
        body = check_register_body(actor=ADMIN, name=f"{village.name}党支部", kind="party_branch", township_id=None,
                                   village_id=village.pk, command_id=uuid.uuid4())
        check_register_official(actor=ADMIN, name=f"{'赵钱孙'[i]}建军", gender="male", command_id=uuid.uuid4(),
                                first_post=FirstPost(body, "党支部书记", timezone.localdate()))
        for n in range(5):
            RosterMember.objects.create(village=village, name=f"党员{n}", category="party_member")
        villages.append(village)
    return township, villages


def test_the_county_admin_schedules_a_township_announces_one_meeting_and_downloads_its_notice(
    hall: Any, contexts: Any, artifacts: Any, tmp_path: Any,
) -> None:
    suffix = uuid.uuid4().hex[:4]
    with hall.db(), schema_context(hall.county.schema_name):
        township, villages = _township_with_registry(suffix)
        round_id = check_open_round(actor=ADMIN, name=f"2026年度直评村官{suffix}", year=2026,
                                    variant="zhi_ping_cun_guan", rules=None, command_id=uuid.uuid4())
    host_name, host_password = hall.user("host")
    admin_name, password = hall.user("county_admin")

    page = contexts.desk().new_page()
    page.goto(hall.url("/"))
    page.fill("#id_username", admin_name)
    page.fill("#id_password", password)
    page.click("#login-submit")
    expect(page).to_have_url(re.compile(r"/workspace/$"))

    page.locator(f"[data-round={round_id}] [data-schedule]").click()
    expect(page).to_have_url(re.compile(rf"/rounds/{round_id}/schedule/"))
    page.locator("#township").select_option(str(township.pk))
    page.click("#pick")
    rows = page.locator("#schedule-form tr[data-village]")
    expect(rows).to_have_count(3)
    soon = timezone.localdate() + timedelta(days=1)  # the first village meets inside the 3-day lead time
    later = timezone.localdate() + timedelta(days=12)
    for i, village in enumerate(villages):
        row = page.locator(f"tr[data-village='{village.pk}']")
        expect(row).to_contain_text(f"{'赵钱孙'[i]}建军（党支部书记）", use_inner_text=True)  # pre-filled subjects
        row.locator(f"[name=v{village.pk}-date]").fill((soon if i == 0 else later).isoformat())
        row.locator(f"[name=v{village.pk}-time]").fill(f"{9 + i:02d}:30")
    page.locator(f"[name=v{villages[0].pk}-host]").select_option(host_name)
    page.locator(f"[name=v{villages[0].pk}-place]").fill("上庄村党群服务中心")
    page.locator(f"[name=v{villages[1].pk}-time]").fill("")  # forgotten: refused next to the field
    page.locator(f"[name=v{villages[2].pk}-roster]").select_option("upload")  # a roster file for this village
    page.locator(f"[name=v{villages[2].pk}-roster_file]").set_input_files(files=[{
        "name": "河湾村花名册.csv", "mimeType": "text/csv", "buffer": "姓名,身份类别\n周大勇,党员\n".encode()}])
    page.click("#schedule-submit")
    expect(page.locator("#failed")).to_contain_text("已安排 2 场；1 个村未安排", use_inner_text=True)
    expect(page.locator(f"[data-field=v{villages[1].pk}-time]")).to_have_text("请填写此项", use_inner_text=True)
    page.screenshot(path=str(artifacts / "schedule_one_row_refused.png"), full_page=True)
    page.locator(f"[name=v{villages[1].pk}-time]").fill("10:30")
    page.click("#schedule-submit")
    expect(page.locator("#done")).to_have_text("已安排 1 场会议。", use_inner_text=True)

    page.goto(hall.url("/workspace/"))
    round_card = page.locator(f"[data-round={round_id}]")
    expect(round_card.locator("[data-stage=scheduled]")).to_have_text("3")
    page.screenshot(path=str(artifacts / "schedule_workspace.png"), full_page=True)
    round_card.locator("tr[data-meeting]").filter(has_text=villages[0].name).locator("[data-announce]").click()
    expect(page.locator("#lead-rule")).to_contain_text("至少提前 3 天公告", use_inner_text=True)
    expect(page.locator("[name=place]")).to_have_value("上庄村党群服务中心")
    page.click("#announce-submit")  # inside the lead time, no reason
    expect(page.locator("[data-field=override_reason]")).to_contain_text(
        "会议须至少提前3天公告；如确需缩短，请说明理由", use_inner_text=True)
    page.fill("[name=override_reason]", "春耕前集中召开，经镇党委同意")
    page.click("#announce-submit")
    expect(page.locator("#announced")).to_be_visible()
    expect(page.locator("#override-reason")).to_contain_text("春耕前集中召开", use_inner_text=True)
    page.screenshot(path=str(artifacts / "schedule_announced.png"), full_page=True)

    with page.expect_download() as downloading:
        page.click("#pdf")
    saved = tmp_path / "notice.pdf"
    downloading.value.save_as(saved)
    reader = PdfReader(io.BytesIO(saved.read_bytes()))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points
    text = "".join(p.extract_text() for p in reader.pages).replace(" ", "").replace("\n", "")
    assert "上庄村党群服务中心" in text and f"{soon.month}月{soon.day}日" in text and "09:30" in text
    assert "赵建军" in text and "党支部书记" in text

    # the host given to that meeting finds it first on "my meetings", marked as theirs, and its notice from the console
    host_page = contexts.desk().new_page()
    host_page.goto(hall.url("/"))
    host_page.fill("#id_username", host_name)
    host_page.fill("#id_password", host_password)
    host_page.click("#login-submit")
    expect(host_page).to_have_url(re.compile(r"/my/meetings/$"))
    first = host_page.locator("[data-section=upcoming] tr[data-meeting]").first
    expect(first).to_contain_text(villages[0].name, use_inner_text=True)
    expect(first.locator("[data-mine]")).to_have_text("我主持", use_inner_text=True)
    first.locator("a[href$='/console/']").click()
    host_page.locator("#announce-link").click()
    expect(host_page.locator("#override-reason")).to_contain_text("春耕前集中召开", use_inner_text=True)
    host_page.screenshot(path=str(artifacts / "schedule_host_notice.png"), full_page=True)
