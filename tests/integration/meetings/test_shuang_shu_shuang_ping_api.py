"""A 双述双评 meeting (seed 000) through the HTTP API: bodies and persons graded on their own scales.

The village's Party branch (a body) is graded 好/较好/一般/差 and its
secretary (a person) 称职/基本称职/不称职 on the same ballot. A mark from the
other scale is refused (phone and paper) and nothing is recorded; the printed
paper ballot offers each subject its own grades; the results give each subject
its scale, its 差评率 or 不称职率, and the log still verifies.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from events.verify import verify_lines
from tests.integration.meetings.api_client import Api

pytestmark = pytest.mark.django_db

CRITERIA = ("sixiang_jianshe", "zuzhi_jianshe", "dangfeng_lianzheng", "gongzuo_jixiao", "gongzuo_chuangxin")
BODY, PERSON = "zhibu", "wang_shuji"
PARTY, REPS = 6, 5


def ballot(body: str, person: str) -> dict[str, dict[str, str]]:
    return {BODY: dict.fromkeys(CRITERIA, body), PERSON: dict.fromkeys(CRITERIA, person)}


def log_of(auditor: Api, m: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in auditor.get(m + "log/")["raw"].decode("utf-8").splitlines()]


def test_a_shuang_shu_shuang_ping_meeting_grades_bodies_and_persons_on_their_own_scales(county_a: Any) -> None:
    admin, host, auditor, teller = (Api(county_a, role) for role in ("county_admin", "host", "auditor", "teller"))
    voter = Api(county_a)

    rules = admin.get("presets/")["shuang_shu_shuang_ping"]
    assert {kind: scale["id"] for kind, scale in rules["scales"].items()} == {
        "body": "hao_jiaohao_yiban_cha", "person": "chenzhi"}
    # Quorum aside (seed 003's 30 representatives would need a bigger village), the preset as it is.
    round_id = admin.post("rounds/", {"name": "2026年度双述双评", "year": 2026, "variant": "shuang_shu_shuang_ping",
                                      "rules": {**rules, "quorum": []}}, expect=201)["round_id"]
    roster = [{"member_id": f"pm{i}", "name": f"党员{i}", "category": "party_member"} for i in range(PARTY)]
    roster += [{"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(REPS)]
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": "杨庄村2026年度双述双评大会", "township": "柳林乡", "village": "杨庄村",
        "starts_at": (datetime.now(UTC) + timedelta(days=5)).isoformat(), "place": "杨庄村党群服务中心",
        "subjects": [{"subject_id": BODY, "name": "杨庄村党支部", "level": "village", "kind": "body"},
                     {"subject_id": PERSON, "name": "村党支部书记 王建国", "level": "village"}],  # kind: person
        "roster": roster,
    }, expect=201)["meeting_id"]
    m = f"meetings/{mid}/"
    host.post(m + "announce/", {"starts_at": (datetime.now(UTC) + timedelta(days=5)).isoformat(),
                                "place": "杨庄村党群服务中心", "agenda": ["双述", "双评"], "channels": ["公示栏"]}, expect=200)
    for entry in roster:
        host.post(m + "check-in/", {"member_id": entry["member_id"]}, expect=200)
    host.post(m + "open/", expect=200)
    for sid in (BODY, PERSON):
        host.post(m + "reports/start/", {"subject_id": sid}, expect=200)
        host.post(m + "reports/end/", {"subject_id": sid}, expect=200)
    party = host.post(m + "codes/", {"category": "party_member", "count": PARTY}, expect=200)["codes"]
    reps = host.post(m + "codes/", {"category": "representative", "count": REPS}, expect=200)["codes"]

    # The printed paper ballot offers the body 好…差 and the person 称职…不称职.
    sheet = host.client.post(f"/api/{m}codes/paper-forms/", {"codes": reps[:1]}, content_type="application/json",
                             HTTP_HOST=host.host, **host.headers).content.decode()
    tables = sheet.split("</table>")
    body_table = next(t for t in tables if "杨庄村党支部</th>" in t).split("</thead>")[1]
    person_table = next(t for t in tables if "王建国</th>" in t).split("</thead>")[1]
    assert "较好" in body_table and "称职" not in body_table
    assert "基本称职" in person_table and "较好" not in person_table

    host.post(m + "ballot/open/", expect=200)
    form = voter.post(f"v/{mid}/form/", {"code": party[0]}, expect=200)
    assert [(s["subject_id"], s["kind"]) for s in form["subjects"]] == [(BODY, "body"), (PERSON, "person")]
    assert [g["name_zh"] for g in form["scales"]["body"]["grades"]] == ["好", "较好", "一般", "差"]
    assert [g["name_zh"] for g in form["scales"]["person"]["grades"]] == ["称职", "基本称职", "不称职"]

    # A mark from the other scale is refused, in Chinese, and nothing is recorded.
    events_before = len(log_of(auditor, m))
    refused = voter.post(f"v/{mid}/ballot/", {"code": party[0], "marks": ballot("hao", "hao")}, expect=400)
    assert refused.error_code == "ballot_invalid"
    assert "王建国" in refused["error"]["message"] and "称职/基本称职/不称职" in refused["error"]["message"]
    refused = voter.post(f"v/{mid}/ballot/", {"code": party[0], "marks": ballot("chenzhi", "chenzhi")}, expect=400)
    assert "杨庄村党支部" in refused["error"]["message"] and "好/较好/一般/差" in refused["error"]["message"]
    refused = teller.post(m + "paper-batches/", {"batch_no": 1, "ballots": [
        {"code": reps[0], "marks": ballot("bu_chenzhi", "chenzhi")}]}, expect=400)
    assert refused.error_code == "ballot_invalid" and "杨庄村党支部" in refused["error"]["message"]
    assert host.get(m)["ballots_cast"] == 0 and len(log_of(auditor, m)) == events_before

    # Party members: the branch gets 差 from 3 of 6, the secretary 不称职 from 1 of 6.
    for code, marks in zip(party, [ballot("cha", "chenzhi"), ballot("cha", "bu_chenzhi"), ballot("cha", "chenzhi"),
                                   ballot("hao", "jiben_chenzhi"), ballot("jiaohao", "chenzhi"), ballot("hao", "chenzhi")],
                           strict=True):
        voter.post(f"v/{mid}/ballot/", {"code": code, "marks": marks}, expect=201)
    for code in reps:  # representatives: all 好 and 称职
        voter.post(f"v/{mid}/ballot/", {"code": code, "marks": ballot("hao", "chenzhi")}, expect=201)
    host.post(m + "ballot/close/", expect=200)
    host.post(m + "results/announce/", expect=200)

    results = auditor.get(m + "results/")
    by_subject = {s["subject_id"]: s for s in results["subjects"]}
    assert (by_subject[BODY]["scale_id"], by_subject[PERSON]["scale_id"]) == ("hao_jiaohao_yiban_cha", "chenzhi")
    # Rates pool all marks: 差 3 of 11 ballots (27.3%, under the 30% line); 不称职 1 of 11.
    assert by_subject[BODY]["unfavourable_percent"] == "27.3%" and by_subject[BODY]["favourable_percent"] == "72.7%"
    assert by_subject[PERSON]["unfavourable_percent"] == "9.1%" and by_subject[PERSON]["favourable_percent"] == "81.8%"
    assert by_subject[PERSON]["grade_percent"] == {"chenzhi": "81.8%", "jiben_chenzhi": "9.1%", "bu_chenzhi": "9.1%"}
    assert set(by_subject[BODY]["grade_percent"]) == {"hao", "jiaohao", "yiban", "cha"}
    assert [(s["subject_id"], s["scale_id"]) for s in results["announced"]["subjects"]] == [
        (BODY, "hao_jiaohao_yiban_cha"), (PERSON, "chenzhi")]

    log = log_of(auditor, m)
    [announced] = [e for e in log[1:] if e["type"] == "ResultsAnnounced"]
    assert announced["schema_version"] == 2 and [s["scale_id"] for s in announced["data"]["subjects"]] == [
        "hao_jiaohao_yiban_cha", "chenzhi"]
    [configured] = [e for e in log[1:] if e["type"] == "MeetingConfigured"]
    assert set(configured["data"]["rules"]["scales"]) == {"body", "person"}
    lines = auditor.get(m + "log/")["raw"].decode("utf-8").splitlines()
    assert verify_lines(lines, trusted_heads=[results["head_hash"]]).ok
