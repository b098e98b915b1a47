"""Codes and counts that add up, through the HTTP API on real PostgreSQL.

Each refusal is asserted as a person sees it (the stable code and the Chinese
message) and as the log sees it: the stream's events are not one more.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from events.reading import read_stream
from meetings.domain.rules import preset
from tests.integration.meetings.api_client import Api, Result

pytestmark = pytest.mark.django_db

SUBJECTS = [("cun_shuji", "村党支部书记 周永福"), ("cun_zhuren", "村委会主任 郑秀梅")]
MARKS = {sid: {"zongti": "chenzhi"} for sid, _ in SUBJECTS}
PARTY, REPS = 4, 30


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def events_of(county: Any, stream: str) -> list[str]:
    with schema_context(county.schema_name):
        return [e.type for e in read_stream(stream)]


def all_events(county: Any) -> int:
    with schema_context(county.schema_name), connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events")
        return int(cursor.fetchone()[0])


def refused(result: Result, status: int, code: str, zh: str) -> None:
    assert result.status == status, (result.status, result)
    assert result.error_code == code, result
    assert zh in result["error"]["message"], result["error"]["message"]
    assert result["error"]["message_en"]


def scheduled(county: Any) -> tuple[Api, Api, str]:
    admin, host = Api(county, "county_admin"), Api(county, "host")
    round_id = admin.post("rounds/", {"name": "2026年度直评村官", "year": 2026, "variant": "zhi_ping_cun_guan"},
                          expect=201)["round_id"]
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": "桃源村2026年度直评村官大会", "township": "柳林乡", "village": "桃源村",
        "starts_at": in_days(4), "place": "桃源村村委会会议室",
        "subjects": [{"subject_id": sid, "name": name, "level": "village"} for sid, name in SUBJECTS],
        "roster": [{"member_id": f"pm{i}", "name": f"党员{i}", "category": "party_member"} for i in range(PARTY)]
        + [{"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(REPS)],
    }, expect=201)["meeting_id"]
    return admin, host, mid


def announced(county: Any) -> tuple[Api, str]:
    _admin, host, mid = scheduled(county)
    host.post(f"meetings/{mid}/announce/", {"starts_at": in_days(4), "place": "桃源村村委会会议室",
                                            "agenda": ["述职", "测评"], "channels": ["公示栏"]}, expect=200)
    return host, mid


# -- the refusals of the bar: a clear Chinese error, nothing appended -------------------------------


def test_a_round_with_a_zero_or_negative_report_time_is_refused_and_records_nothing(county_a) -> None:
    admin = Api(county_a, "county_admin")
    before = all_events(county_a)
    for seconds in (0, -60):
        rules = preset("zhi_ping_cun_guan").to_data()
        rules["time_limits"] = {"village": seconds, "township": 600}
        answer = admin.post("rounds/", {"name": "零秒述职", "year": 2026, "variant": "zhi_ping_cun_guan", "rules": rules})
        refused(answer, 400, "invalid_time_limit", "述职时限须为正的秒数")
    assert all_events(county_a) == before


def test_a_rule_with_a_threshold_over_100_percent_or_under_0_is_refused_and_records_nothing(county_a) -> None:
    admin = Api(county_a, "county_admin")
    before = all_events(county_a)
    for threshold, code, zh in (
        ("3/2", "invalid_threshold", "诫勉谈话阈值须在0到1之间"),
        ("0", "invalid_threshold", "诫勉谈话阈值须在0到1之间"),
        ("-1/10", "rules_field_invalid", "admonish_threshold"),
    ):
        rules = preset("zhi_ping_cun_guan").to_data()
        rules["admonish_threshold"] = threshold
        answer = admin.post("rounds/", {"name": "阈值", "year": 2026, "variant": "zhi_ping_cun_guan", "rules": rules})
        refused(answer, 400, code, zh)
    rules = preset("zhi_ping_cun_guan").to_data()
    rules["quorum"] = [{"category": "party_member", "min_count": 0, "min_share": "6/5"}]
    refused(admin.post("rounds/", {"name": "法定人数", "year": 2026, "variant": "zhi_ping_cun_guan", "rules": rules}),
            400, "invalid_quorum", "比例在0到1之间")
    assert all_events(county_a) == before


def test_the_reveal_policy_live_is_refused_and_records_nothing(county_a) -> None:
    admin = Api(county_a, "county_admin")
    before = all_events(county_a)
    rules = preset("zhi_ping_cun_guan").to_data()
    rules["reveal"] = "live"
    answer = admin.post("rounds/", {"name": "实时公布", "year": 2026, "variant": "zhi_ping_cun_guan", "rules": rules})
    refused(answer, 400, "reveal_not_offered", "不支持投票中实时公布结果")
    assert all_events(county_a) == before


def test_an_announcement_inside_the_lead_time_needs_a_reason_which_is_recorded(county_a) -> None:
    _admin, host, mid = scheduled(county_a)
    stream = f"meeting-{mid}"
    before = events_of(county_a, stream)
    body = {"starts_at": in_days(1), "place": "桃源村村委会会议室", "agenda": ["述职", "测评"], "channels": ["广播"]}
    refused(host.post(f"meetings/{mid}/announce/", body), 400, "lead_time_too_short", "会议须至少提前3天公告")
    blank = host.post(f"meetings/{mid}/announce/", {**body, "override_reason": "   "})
    assert blank.status == 400 and blank.error_code == "invalid_input" and "override_reason" in blank["error"]["details"]
    assert events_of(county_a, stream) == before
    host.post(f"meetings/{mid}/announce/", {**body, "override_reason": "防汛任务，经乡党委同意提前召开"}, expect=200)
    with schema_context(county_a.schema_name):
        [announcement] = [e for e in read_stream(stream) if e.type == "MeetingAnnounced"]
    assert announcement.data["lead_time_override_reason"] == "防汛任务，经乡党委同意提前召开"


def test_a_code_batch_over_the_roster_plus_margin_is_refused_and_records_nothing(county_a) -> None:
    host, mid = announced(county_a)
    stream = f"meeting-{mid}"
    m = f"meetings/{mid}/"
    host.post(m + "codes/", {"category": "party_member", "count": PARTY}, expect=200)
    before = events_of(county_a, stream)
    refused(host.post(m + "codes/", {"category": "party_member", "count": 1}), 400, "codes_over_roster",
            "党员测评码不能超过名册人数加余量")
    refused(host.post(m + "codes/slips/", {"category": "representative", "count": 200}), 400, "codes_over_roster",
            "最多还能发30个")
    refused(host.post(m + "codes/", {"category": "guest", "count": 1}), 400, "codes_over_roster", "列席人员")
    assert events_of(county_a, stream) == before
    spare = host.post(m + "codes/", {"category": "party_member", "count": 1, "margin": 1}, expect=200)
    assert spare["batch_no"] == 2 and len(spare["codes"]) == 1
    with schema_context(county_a.schema_name):
        batches = [e.data for e in read_stream(stream) if e.type == "BallotCodesIssued"]
    assert [(b["category"], b["count"], b["margin"]) for b in batches] == [("party_member", PARTY, 0), ("party_member", 1, 1)]


def _to_close(host: Api, mid: str, *, present_party: int) -> list[str]:
    """Check in `present_party` party members and every representative, vote with every party code, close."""
    m = f"meetings/{mid}/"
    for i in range(present_party):
        host.post(m + "check-in/", {"member_id": f"pm{i}"}, expect=200)
    for i in range(REPS):
        host.post(m + "check-in/", {"member_id": f"rep{i}"}, expect=200)
    host.post(m + "quorum-override/", {"reason": "党员外出务工"}, expect=200)
    host.post(m + "open/", expect=200)
    for sid, _ in SUBJECTS:
        host.post(m + "reports/start/", {"subject_id": sid}, expect=200)
        host.post(m + "reports/end/", {"subject_id": sid}, expect=200)
    codes = host.post(m + "codes/", {"category": "party_member", "count": PARTY}, expect=200)["codes"]
    host.post(m + "ballot/open/", expect=200)
    voter = Api(host.county)
    for code in codes:
        voter.post(f"v/{mid}/ballot/", {"code": code, "marks": MARKS}, expect=201)
    host.post(m + "ballot/close/", expect=200)
    return codes


def test_more_ballots_than_people_checked_in_block_the_results_until_the_host_records_a_decision(county_a) -> None:
    host, mid = announced(county_a)
    m = f"meetings/{mid}/"
    _to_close(host, mid, present_party=2)  # four party ballots, two party members checked in
    check = host.get(m)["count_check"]
    assert check["over"] == [{"category": "party_member", "ballots": 4, "present": 2}] and not check["accepted"]
    stream = f"meeting-{mid}"
    before = events_of(county_a, stream)
    refused(host.post(m + "results/announce/"), 400, "ballots_exceed_attendance", "党员收回4票，到会2人")
    refused(host.post(m + "results/accept-count/", {"reason": ""}), 400, "invalid_input", "")
    assert events_of(county_a, stream) == before
    host.post(m + "results/accept-count/", {"reason": "两名党员未经签到入场，已补登记核实"}, expect=200)
    with schema_context(county_a.schema_name):
        decision = [e for e in read_stream(stream) if e.type == "CountDiscrepancyAccepted"][0].data
    assert decision["reason"] == "两名党员未经签到入场，已补登记核实"
    assert decision["categories"] == [{"category": "party_member", "ballots": 4, "present": 2}]
    assert decision["actor"] == host.username
    host.post(m + "results/announce/", expect=200)
    assert host.get(m)["count_check"]["decision"]["reason"] == "两名党员未经签到入场，已补登记核实"


def test_counts_that_add_up_announce_without_a_decision(county_a) -> None:
    host, mid = announced(county_a)
    m = f"meetings/{mid}/"
    _to_close(host, mid, present_party=PARTY)
    assert host.get(m)["count_check"]["over"] == []
    refused(host.post(m + "results/accept-count/", {"reason": "无"}), 400, "counts_add_up", "无需登记")
    host.post(m + "results/announce/", expect=200)


# -- the print list ------------------------------------------------------------------------------------


def test_every_batch_stays_listed_until_marked_printed_and_its_codes_print_from_the_console(county_a) -> None:
    host, mid = announced(county_a)
    m = f"meetings/{mid}/"
    first = host.post(m + "codes/", {"category": "representative", "count": 3}, expect=200)
    second = host.post(m + "codes/", {"category": "party_member", "count": 2}, expect=200)
    assert (first["batch_no"], second["batch_no"]) == (1, 2)
    batches = host.get(m)["code_batches"]
    assert [(b["batch_no"], b["category"], b["count"], b["printed"]) for b in batches] == [
        (1, "representative", 3, False), (2, "party_member", 2, False),
    ]
    sheet = host.client.post(f"/api/{m}codes/sheet/", {"codes": first["codes"]}, content_type="application/json",
                             HTTP_HOST=host.host, **host.headers)
    assert sheet.status_code == 200 and sheet["Content-Type"].startswith("text/html")
    page = sheet.content.decode()
    assert set(re.findall(r"\b[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}\b", page)) == set(first["codes"]) and "村民代表" in page
    stream = f"meeting-{mid}"
    before = events_of(county_a, stream)
    refused(host.post(m + "codes/sheet/", {"codes": [*first["codes"], *second["codes"]]}), 400, "mixed_categories", "一个参评类别")
    refused(host.post(m + "codes/sheet/", {"codes": ["AAAA-BBBB-CCCC"]}), 404, "unknown_code", "不是本次会议发放的")
    refused(host.post(m + "codes/9/printed/"), 404, "unknown_code_batch", "没有第9批测评码")
    assert events_of(county_a, stream) == before  # the sheet is a read: printing records nothing
    host.post(m + "codes/1/printed/", expect=200)
    refused(host.post(m + "codes/1/printed/"), 409, "code_batch_printed", "已登记为已打印")
    assert [b["printed"] for b in host.get(m)["code_batches"]] == [True, False]


def test_paper_ballots_print_one_a4_form_per_code_with_what_its_category_grades(county_a) -> None:
    host, mid = announced(county_a)
    m = f"meetings/{mid}/"
    issued = host.post(m + "codes/", {"category": "representative", "count": 3}, expect=200)
    before = events_of(county_a, f"meeting-{mid}")
    response = host.client.post(f"/api/{m}codes/paper-forms/", {"codes": issued["codes"]},
                                content_type="application/json", HTTP_HOST=host.host, **host.headers)
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    assert "css/paper_ballots.css" in page  # A4 from the stylesheet (the CSP allows no inline style)
    assert "@page { size: A4" in (Path(__file__).parents[3] / "frontend/static/css/paper_ballots.css").read_text()
    assert page.count('class="ballot"') == 3
    forms = re.findall(r'<section class="ballot".*?</section>', page, flags=re.S)
    for code, form in zip(issued["codes"], forms, strict=True):
        assert code in form and "村民代表" in form and "桃源村村委会会议室" in form
        for _sid, name in SUBJECTS:  # 直评村官: one row per subject on 总体评价, boxes for 称职/基本称职/不称职
            assert name in form
        assert form.count('class="box"') == len(SUBJECTS) * 3
        assert all(grade in form for grade in ("称职", "基本称职", "不称职"))
    assert events_of(county_a, f"meeting-{mid}") == before  # printing records nothing
    refused(host.post(m + "codes/paper-forms/", {"codes": ["AAAA-BBBB-CCCC"]}), 404, "unknown_code", "不是本次会议发放的")
