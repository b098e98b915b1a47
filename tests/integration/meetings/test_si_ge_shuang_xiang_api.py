"""A 四个双向 meeting (seed 002) through the HTTP API only.

The township Party secretary (level township) reports to the villages and is
graded by the village secretaries (上述下评); each village secretary (level
village) reports to the township and is graded by the township's members
(下述上评), in the same meeting. A voter's form lists only the subjects their
category grades, a ballot for anyone else is refused, and the announced
tallies, rates, groups and weighted scores equal an independent computation
from the ballots as cast.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest

from tests.integration.meetings.api_client import Api

pytestmark = pytest.mark.django_db

CRITERIA = ("sixiang_jianshe", "zuzhi_jianshe", "dangfeng_lianzheng", "gongzuo_jixiao", "gongzuo_chuangxin")
GRADES = ("hao", "jiaohao", "yiban", "cha")
TOWNSHIP = ("xiang_shuji", "柳林乡党委书记 陈志刚")
VILLAGES = [(f"cun{i}_shuji", f"{name}村党支部书记") for i, name in enumerate(
    ("杨庄", "李家", "王屯", "河湾", "东岗", "西坡", "南洼", "北寨"), start=1)]
VILLAGE_IDS = [sid for sid, _ in VILLAGES]
SECRETARIES, MEMBERS = 8, 12
POOR = "cun3_shuji"  # graded mostly 差: must be flagged for an admonishment interview


def percent(rate: Fraction) -> str:
    """Half up to one decimal, written here independently of the platform."""
    tenths = (rate * 1000 + Fraction(1, 2)).__floor__()
    return f"{tenths // 10}.{tenths % 10}%"


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def marks_for(subjects: list[str], rng: random.Random) -> dict[str, dict[str, str]]:
    marks = {}
    for sid in subjects:
        weights = (1, 1, 2, 6) if sid == POOR else (5, 3, 2, 1)
        marks[sid] = {c: rng.choices(GRADES, weights=weights)[0] for c in CRITERIA}
    return marks


def expected(cast: list[tuple[str, dict[str, dict[str, str]]]], sid: str, graders: list[str], scale: dict[str, Any],
             weights: dict[str, int], min_group: int) -> dict[str, Any]:
    """From the tally docstring: marks pooled over criteria; groups per category; weighted mean of points."""
    points = {g["id"]: g["points"] for g in scale["grades"]}
    favourable = {g["id"] for g in scale["grades"] if g["favourable"]}
    unfavourable = {g["id"] for g in scale["grades"] if g["unfavourable"]}
    ballots = [(cat, marks[sid]) for cat, marks in cast if cat in graders]
    n = len(ballots)
    all_marks = Counter(grade for _cat, m in ballots for grade in m.values())
    total_marks = n * len(CRITERIA)
    assert sum(all_marks.values()) == total_marks
    groups = {}
    for cat in graders:
        mine = [m for c, m in ballots if c == cat]
        assert len(mine) >= min_group  # every category is big enough to be shown on its own here
        groups[cat] = {
            "ballots": len(mine),
            "counts": {c: {g: sum(1 for m in mine if m[c] == g) for g in GRADES} for c in CRITERIA},
            "mean": Fraction(sum(points[g] for m in mine for g in m.values()), len(mine) * len(CRITERIA)),
        }
    weight_sum = sum(weights.get(cat, 1) for cat in groups)
    score = sum((weights.get(cat, 1) * g["mean"] for cat, g in groups.items()), Fraction(0)) / weight_sum
    unfav = Fraction(sum(all_marks[g] for g in unfavourable), total_marks)
    return {
        "ballots": n,
        "counts": {c: {g: sum(1 for _cat, m in ballots if m[c] == g) for g in GRADES} for c in CRITERIA},
        "grade_percent": {g: percent(Fraction(all_marks[g], total_marks)) for g in GRADES},
        "favourable_percent": percent(Fraction(sum(all_marks[g] for g in favourable), total_marks)),
        "unfavourable_percent": percent(unfav),
        "score": f"{score.numerator}/{score.denominator}",
        "flagged": unfav >= Fraction(3, 10),
        "groups": groups,
    }


def test_a_full_si_ge_shuang_xiang_meeting_through_the_api(county_a) -> None:
    admin, host, auditor = Api(county_a, "county_admin"), Api(county_a, "host"), Api(county_a, "auditor")
    voter = Api(county_a)
    rng = random.Random(2)

    rules = admin.get("presets/")["si_ge_shuang_xiang"]
    assert rules["graders"] == {"township": ["village_secretary"], "village": ["township_member"]}
    assert [c["id"] for c in rules["criteria"]] == list(CRITERIA)
    assert [g["id"] for g in rules["scales"]["person"]["grades"]] == list(GRADES)
    assert rules["scales"]["body"] == rules["scales"]["person"]  # one scale for every subject here
    round_id = admin.post("rounds/", {"name": "2026年第一季度四个双向", "year": 2026, "variant": "si_ge_shuang_xiang"},
                          expect=201)["round_id"]
    roster = [{"member_id": f"vs{i}", "name": f"{VILLAGES[i][1]}", "category": "village_secretary"} for i in range(SECRETARIES)]
    roster += [{"member_id": f"tm{i}", "name": f"乡党委委员{i}", "category": "township_member"} for i in range(MEMBERS)]
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": "柳林乡2026年第一季度四个双向述职评议会", "township": "柳林乡", "village": "",
        "starts_at": in_days(1), "place": "柳林乡政府三楼会议室",
        "subjects": [{"subject_id": TOWNSHIP[0], "name": TOWNSHIP[1], "level": "township"}]
        + [{"subject_id": sid, "name": name, "level": "village"} for sid, name in VILLAGES],
        "roster": roster,
    }, expect=201)["meeting_id"]
    m = f"meetings/{mid}/"

    # One day ahead breaks the 3-day rule; with a recorded reason the host may go ahead.
    announce = {"starts_at": in_days(1), "place": "柳林乡政府三楼会议室", "agenda": ["上述下评", "下述上评", "双向承诺"],
                "channels": ["乡村干部微信群", "电话通知"]}
    too_soon = host.post(m + "announce/", announce, expect=400)
    assert too_soon.error_code == "lead_time_too_short" and "理由" in too_soon["error"]["message"]
    blank = host.post(m + "announce/", {**announce, "override_reason": "   "}, expect=400)
    assert blank.error_code == "invalid_input" and "override_reason" in blank["error"]["details"]
    reason = "县委组织部季度督查提前，经乡党委会议研究决定提前召开"
    host.post(m + "announce/", {**announce, "override_reason": reason}, expect=200)
    log = [json.loads(line) for line in auditor.get(m + "log/")["raw"].decode("utf-8").splitlines()]
    assert log[0]["stream"] == f"meeting-{mid}" and log[0]["event_count"] == len(log) - 1  # header line
    announced = [e for e in log[1:] if e["type"] == "MeetingAnnounced"]
    assert len(announced) == 1 and announced[0]["data"]["lead_time_override_reason"] == reason
    assert announced[0]["metadata"]["actor"] == host.username

    # Quorum is 4/5 of each category: 7 of 8 secretaries, 10 of 12 members.
    for i in range(SECRETARIES):
        host.post(m + "check-in/", {"member_id": f"vs{i}"}, expect=200)
    for i in range(MEMBERS - 1):  # one township member is away
        host.post(m + "check-in/", {"member_id": f"tm{i}"}, expect=200)
    state = host.get(m)
    assert {q["category"]: (q["required"], q["present"]) for q in state["quorum"]} == {
        "village_secretary": (7, 8), "township_member": (10, 11)}
    assert state["quorum_met"]

    host.post(m + "open/", expect=200)
    # The township secretary reports first; then each village secretary in turn.
    early = host.post(m + "reports/start/", {"subject_id": VILLAGE_IDS[0]}, expect=400)
    assert early.error_code == "report_out_of_order"
    for sid in [TOWNSHIP[0], *VILLAGE_IDS]:
        host.post(m + "reports/start/", {"subject_id": sid}, expect=200)
        host.post(m + "reports/end/", {"subject_id": sid}, expect=200)
    limits = {r["subject_id"]: r["limit_seconds"] for r in host.get(m)["reports"]}
    assert limits[TOWNSHIP[0]] == 600 and {limits[s] for s in VILLAGE_IDS} == {480}

    secretary_codes = host.post(m + "codes/", {"category": "village_secretary", "count": SECRETARIES}, expect=200)["codes"]
    member_codes = host.post(m + "codes/", {"category": "township_member", "count": MEMBERS - 1}, expect=200)["codes"]
    host.post(m + "ballot/open/", expect=200)

    # Each category's form lists only the subjects it grades.
    form = voter.post(f"v/{mid}/form/", {"code": secretary_codes[0]}, expect=200)
    assert form["category"] == "village_secretary"
    assert form["subjects"] == [{"subject_id": TOWNSHIP[0], "name": TOWNSHIP[1], "kind": "person"}]
    assert [c["id"] for c in form["criteria"]] == list(CRITERIA) and form["voted"] is False
    form = voter.post(f"v/{mid}/form/", {"code": member_codes[0]}, expect=200)
    assert form["category"] == "township_member"
    assert form["subjects"] == [{"subject_id": sid, "name": name, "kind": "person"} for sid, name in VILLAGES]

    # Grading a subject one's category does not grade is refused, and nothing is sealed.
    wrong = {TOWNSHIP[0]: dict.fromkeys(CRITERIA, "hao"), VILLAGE_IDS[0]: dict.fromkeys(CRITERIA, "cha")}
    refused = voter.post(f"v/{mid}/ballot/", {"code": secretary_codes[0], "marks": wrong}, expect=400)
    assert refused.error_code == "ballot_invalid"
    assert "村党组织书记不评议" in refused["error"]["message"] and VILLAGE_IDS[0] in refused["error"]["message"]
    member_wrong = {**{sid: dict.fromkeys(CRITERIA, "hao") for sid in VILLAGE_IDS}, TOWNSHIP[0]: dict.fromkeys(CRITERIA, "cha")}
    refused = voter.post(f"v/{mid}/ballot/", {"code": member_codes[0], "marks": member_wrong}, expect=400)
    assert refused.error_code == "ballot_invalid" and "乡镇党委班子成员不评议" in refused["error"]["message"]
    only_one = voter.post(f"v/{mid}/ballot/", {"code": member_codes[0], "marks": {VILLAGE_IDS[0]: dict.fromkeys(CRITERIA, "hao")}},
                          expect=400)
    assert only_one.error_code == "ballot_invalid" and VILLAGES[1][1] in only_one["error"]["message"]
    assert host.get(m)["ballots_cast"] == 0
    assert voter.post(f"v/{mid}/form/", {"code": secretary_codes[0]}, expect=200)["voted"] is False

    # Everyone votes (the refused codes too, now correctly).
    slips = [("village_secretary", c) for c in secretary_codes] + [("township_member", c) for c in member_codes]
    rng.shuffle(slips)
    cast: list[tuple[str, dict[str, dict[str, str]]]] = []
    for category, code in slips:
        subjects = [TOWNSHIP[0]] if category == "village_secretary" else VILLAGE_IDS
        marks = marks_for(subjects, rng)
        voter.post(f"v/{mid}/ballot/", {"code": code, "marks": marks}, expect=201)
        cast.append((category, marks))
    assert host.get(m)["ballots_cast"] == SECRETARIES + MEMBERS - 1
    assert voter.post(f"v/{mid}/form/", {"code": secretary_codes[0]}, expect=200)["voted"] is True

    host.post(m + "ballot/close/", expect=200)
    host.post(m + "results/announce/", expect=200)
    results = auditor.get(m + "results/")

    counted = SECRETARIES + MEMBERS - 1
    assert results["ballots_counted"] == counted and results["phone_ballots"] == counted and results["paper_ballots"] == 0
    assert results["eligible"] == SECRETARIES + MEMBERS
    assert results["participation_percent"] == percent(Fraction(counted, SECRETARIES + MEMBERS)) == "95.0%"
    by_subject = {s["subject_id"]: s for s in results["subjects"]}
    assert list(by_subject) == [TOWNSHIP[0], *VILLAGE_IDS]
    flagged = []
    for sid in [TOWNSHIP[0], *VILLAGE_IDS]:
        graders = ["village_secretary"] if sid == TOWNSHIP[0] else ["township_member"]
        want = expected(cast, sid, graders, rules["scales"]["person"], rules["category_weights"], rules["min_group_size"])
        got = by_subject[sid]
        assert got["ballots"] == want["ballots"] == (SECRETARIES if sid == TOWNSHIP[0] else MEMBERS - 1)
        assert got["counts"] == want["counts"], sid
        assert got["grade_percent"] == want["grade_percent"], sid
        assert got["favourable_percent"] == want["favourable_percent"], sid
        assert got["unfavourable_percent"] == want["unfavourable_percent"], sid
        assert got["score"] == want["score"], sid
        assert got["flagged"] == want["flagged"], sid
        assert [(g["group_id"], g["categories"], g["ballots"]) for g in got["groups"]] == [
            (cat, [cat], want["groups"][cat]["ballots"]) for cat in graders]
        for group in got["groups"]:
            assert group["counts"] == want["groups"][group["group_id"]]["counts"]
        if want["flagged"]:
            flagged.append(sid)
    assert POOR in flagged and results["flagged_subjects"] == flagged
    # The announced event carries the same numbers as the results view.
    event = results["announced"]
    assert event["ballots_counted"] == counted and event["flagged_subjects"] == flagged
    for outcome in event["subjects"]:
        got = by_subject[outcome["subject_id"]]
        assert (outcome["favourable_percent"], outcome["unfavourable_percent"]) == (
            got["favourable_percent"], got["unfavourable_percent"])
        assert f"{outcome['score_numerator']}/{outcome['score_denominator']}" == got["score"]
