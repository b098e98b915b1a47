"""A whole 直评村官 meeting at seed 003's scale, driven through the HTTP API only.

323 attendees check in (party members, village representatives, invited
guests), quorum is computed per the rule and blocks the ballot until met, 7
village officials report with timers, 20 questions are asked and answered,
every attendee votes with a ballot code, and the announced tallies and rates
equal an independent computation from the ballots the voters cast.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from django_tenants.utils import schema_context

from events.reading import read_stream
from events.verify import verify_lines
from meetings.events import ballot_receipt
from tests.integration.meetings.api_client import Api
from tests.integration.meetings.sealed_box import opened

pytestmark = pytest.mark.django_db

GRADES = ("chenzhi", "jiben_chenzhi", "bu_chenzhi")
SUBJECTS = [
    ("cun_shuji", "村党支部书记 王建国"),
    ("cun_zhuren", "村委会主任 李秀英"),
    ("jianwei_zhuren", "村务监督委员会主任 张卫民"),
    ("fu_shuji", "村党支部副书记 刘国强"),
    ("wenshu", "村文书 赵丽娟"),
    ("funu_zhuren", "妇女主任 孙桂兰"),
    ("kuaiji", "村会计 吴建华"),
]
PARTY_ROSTER, PARTY_PRESENT = 140, 125  # 125 >= 4/5 x 140 = 112
REPS_ROSTER, REPS_PRESENT = 190, 175  # >= 30
GUESTS = 23  # 125 + 175 + 23 = 323 attendees, as in seed 003


def percent(rate: Fraction) -> str:
    """The stated rounding rule, written independently: half up, one decimal."""
    tenths = (rate * 1000 + Fraction(1, 2)).__floor__()
    return f"{tenths // 10}.{tenths % 10}%"


def test_a_full_zhi_ping_cun_guan_meeting_through_the_api(county_a) -> None:
    admin, host, auditor = Api(county_a, "county_admin"), Api(county_a, "host"), Api(county_a, "auditor")
    voter = Api(county_a)  # no login: a code is all a voter has
    rng = random.Random(3)

    round_id = admin.post("rounds/", {"name": "2026年度直评村官", "year": 2026, "variant": "zhi_ping_cun_guan"}, expect=201)["round_id"]
    roster = [{"member_id": f"pm{i}", "name": f"党员{i}", "category": "party_member"} for i in range(PARTY_ROSTER)]
    roster += [{"member_id": f"rep{i}", "name": f"村民代表{i}", "category": "representative"} for i in range(REPS_ROSTER)]
    meeting = admin.post("meetings/", {
        "round_id": round_id, "title": "杨庄村2026年度直评村官大会", "township": "柳林乡", "village": "杨庄村",
        "starts_at": (datetime.now(UTC) + timedelta(days=5)).isoformat(), "place": "杨庄村党群服务中心",
        "subjects": [{"subject_id": sid, "name": name, "level": "village"} for sid, name in SUBJECTS],
        "roster": roster,
    }, expect=201)
    mid = meeting["meeting_id"]
    m = f"meetings/{mid}/"

    # Announcing two days ahead breaks the 3-day rule, unless a reason is recorded.
    too_soon = host.post(m + "announce/", {
        "starts_at": (datetime.now(UTC) + timedelta(days=2)).isoformat(), "place": "杨庄村党群服务中心",
        "agenda": ["述职", "质询", "测评"], "channels": ["公示栏", "微信群", "广播"],
    }, expect=400)
    assert too_soon.error_code == "lead_time_too_short" and "3" in too_soon["error"]["message"]
    host.post(m + "announce/", {
        "starts_at": (datetime.now(UTC) + timedelta(days=5)).isoformat(), "place": "杨庄村党群服务中心",
        "agenda": ["述职", "点评", "质询", "测评", "公布结果"], "channels": ["公示栏", "微信群", "广播", "入户通知"],
    }, expect=200)

    # Check-in: the first 100 party members, all representatives present, all guests.
    for i in range(100):
        host.post(m + "check-in/", {"member_id": f"pm{i}"}, expect=200)
    for i in range(REPS_PRESENT):
        host.post(m + "check-in/", {"member_id": f"rep{i}"}, expect=200)
    for i in range(GUESTS):
        host.post(m + "guests/", {"guest_id": f"g{i}", "name": f"列席代表{i}"}, expect=200)
    again = host.post(m + "check-in/", {"member_id": "pm0"}, expect=409)
    assert again.error_code == "already_checked_in"
    unknown = host.post(m + "check-in/", {"member_id": "pm9999"})
    assert unknown.status == 400 and unknown.error_code == "not_on_roster"

    state = host.get(m)
    quorum = {q["category"]: q for q in state["quorum"]}
    assert quorum["party_member"] == {"category": "party_member", "roster": 140, "present": 100, "required": 112, "met": False}
    assert quorum["representative"]["met"] and not state["quorum_met"]

    host.post(m + "open/", expect=200)
    for sid, _name in SUBJECTS:
        host.post(m + "reports/start/", {"subject_id": sid}, expect=200)
        host.post(m + "reports/end/", {"subject_id": sid}, expect=200)
    # Quorum blocks the ballot: 100 of 140 party members is below 4/5.
    blocked = host.post(m + "ballot/open/")
    assert blocked.status == 400 and blocked.error_code == "quorum_not_met"
    assert "党员" in blocked["error"]["message"]
    for i in range(100, PARTY_PRESENT):
        host.post(m + "check-in/", {"member_id": f"pm{i}"}, expect=200)

    # 20 questions: 16 answered on the spot, 4 deferred with a promise.
    for q in range(20):
        sid = SUBJECTS[q % len(SUBJECTS)][0]
        asked = host.post(m + "questions/", {"subject_id": sid, "text": f"第{q + 1}个问题：村务公开为何不及时？",
                                             "asked_by": None if q % 3 else f"rep{q}"}, expect=200)
        qid = asked["question_id"]
        if q % 5 == 4:
            host.post(m + f"questions/{qid}/defer/", {"promise": "会后一周内书面答复", "due_on": "2026-12-10"}, expect=200)
        else:
            host.post(m + f"questions/{qid}/answer/", {"answer": "已在公开栏补充公开，今后每月公开一次。"}, expect=200)
    state = host.get(m)
    assert len(state["questions"]) == 20 and sum(q["deferred"] for q in state["questions"]) == 4
    assert all(r["duration_seconds"] is not None for r in state["reports"]) and len(state["reports"]) == 7
    assert sum(state["checked_in"].values()) == 323 and state["quorum_met"]

    # Ballot codes per category, one for each attendee present.
    slips: list[tuple[str, str]] = []
    for category, count in (("party_member", PARTY_PRESENT), ("representative", REPS_PRESENT), ("guest", GUESTS)):
        issued = host.post(m + "codes/", {"category": category, "count": count}, expect=200)
        assert len(issued["codes"]) == count and all(u.endswith(c.replace("-", "")) for u, c in zip(issued["urls"], issued["codes"], strict=True))
        slips += [(category, code) for code in issued["codes"]]
    host.post(m + "ballot/open/", expect=200)

    rng.shuffle(slips)  # people vote in no particular order
    cast: list[tuple[str, dict[str, dict[str, str]]]] = []
    receipts = set()
    for category, code in slips:
        form = voter.post(f"v/{mid}/form/", {"code": code}, expect=200)
        assert form["category"] == category and [s["subject_id"] for s in form["subjects"]] == [s for s, _ in SUBJECTS]
        weights = (6, 3, 1) if category != "guest" else (8, 2, 0)
        marks = {sid: {"zongti": rng.choices(GRADES, weights=weights)[0]} for sid, _ in SUBJECTS}
        answer = voter.post(f"v/{mid}/ballot/", {"code": code, "marks": marks}, expect=201)
        receipts.add(answer["receipt"])
        cast.append((category, marks))
    assert len(receipts) == 323
    assert host.get(m)["ballots_cast"] == 323

    host.post(m + "ballot/close/", expect=200)
    host.post(m + "results/announce/", expect=200)
    results = auditor.get(m + "results/")

    # Independent computation from the ballots as cast.
    assert results["ballots_counted"] == 323 and results["phone_ballots"] == 323
    assert results["participation_percent"] == percent(Fraction(323, PARTY_ROSTER + REPS_ROSTER + GUESTS))
    by_subject = {s["subject_id"]: s for s in results["subjects"]}
    for sid, _name in SUBJECTS:
        counts = Counter(marks[sid]["zongti"] for _cat, marks in cast)
        got = by_subject[sid]
        assert got["ballots"] == 323
        assert got["counts"] == {"zongti": {g: counts[g] for g in GRADES}}
        assert got["favourable_percent"] == percent(Fraction(counts["chenzhi"], 323))
        assert got["unfavourable_percent"] == percent(Fraction(counts["bu_chenzhi"], 323))
        assert got["flagged"] == (Fraction(counts["bu_chenzhi"], 323) >= Fraction(3, 10))
        groups = {g["group_id"]: g for g in got["groups"]}
        for category in ("party_member", "representative", "guest"):
            per = Counter(marks[sid]["zongti"] for cat, marks in cast if cat == category)
            assert groups[category]["ballots"] == sum(per.values())
            assert {g: n for g, n in groups[category]["counts"]["zongti"].items() if n} == dict(per)

    # The log verifies offline, holds every receipt, and its head is what the results show.
    exported = auditor.get(m + "log/")
    lines = exported["raw"].decode("utf-8").splitlines()
    assert verify_lines(lines, trusted_heads=[results["head_hash"]]).ok
    ballots_in_log = [json.loads(line)["data"] for line in lines[1:] if json.loads(line)["type"] == "BallotCast"]
    assert {b["receipt"] for b in ballots_in_log} == receipts


def test_ballot_secrecy_in_the_log_and_the_box(county_a) -> None:
    """No voter, time or casting order can be read from the ballots that are stored."""
    admin, host = Api(county_a, "county_admin"), Api(county_a, "host")
    voter = Api(county_a)
    round_id = admin.post("rounds/", {"name": "保密测试", "year": 2026, "variant": "zhi_ping_cun_guan"}, expect=201)["round_id"]
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": "保密测试会", "township": "柳林乡", "village": "杨庄村",
        "starts_at": (datetime.now(UTC) + timedelta(days=4)).isoformat(), "place": "村部",
        "subjects": [{"subject_id": "cun_shuji", "name": "书记", "level": "village"}],
        "roster": [{"member_id": f"pm{i}", "name": f"党员{i}", "category": "party_member"} for i in range(10)]
        + [{"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(30)],
    }, expect=201)["meeting_id"]
    m = f"meetings/{mid}/"
    host.post(m + "announce/", {"starts_at": (datetime.now(UTC) + timedelta(days=4)).isoformat(), "place": "村部",
                                "agenda": ["测评"], "channels": ["广播"]}, expect=200)
    for i in range(10):
        host.post(m + "check-in/", {"member_id": f"pm{i}"}, expect=200)
    for i in range(30):
        host.post(m + "check-in/", {"member_id": f"rep{i}"}, expect=200)
    host.post(m + "open/", expect=200)
    host.post(m + "reports/start/", {"subject_id": "cun_shuji"}, expect=200)
    host.post(m + "reports/end/", {"subject_id": "cun_shuji"}, expect=200)
    plain = host.post(m + "codes/", {"category": "representative", "count": 30}, expect=200)["codes"]
    host.post(m + "ballot/open/", expect=200)
    with schema_context(county_a.schema_name):
        logged_before_voting = _log_size()
    casting_order = []
    for n, code in enumerate(plain):
        answer = voter.post(f"v/{mid}/ballot/", {"code": code, "marks": {"cun_shuji": {"zongti": GRADES[n % 3]}}}, expect=201)
        # The voter's answer carries no serial number or time either.
        assert set(answer) == {"receipt", "repeated"}
        casting_order.append(answer["receipt"])

    with schema_context(county_a.schema_name):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = 'meetings_ballot_box' "
                "AND table_schema = current_schema() ORDER BY column_name"
            )
            # No voter, session, IP, time or serial column: only the ballot itself, sealed.
            assert [r[0] for r in cursor.fetchall()] == ["meeting_id", "sealed", "slot"]
        boxed = [(b.code_hash, b.marks, b.receipt) for b in opened(mid)]
        # Nothing of a ballot is in the log before the close: casting appends
        # nothing at all, to any stream of the county (no times, no order).
        assert _log_size() == logged_before_voting
        assert not [e for e in read_stream(f"meeting-{mid}") if e.type == "BallotCast"]
    assert len(boxed) == 30
    # A receipt is a function of the ballot alone (its code's hash and its marks): no time, no counter.
    for code_hash, marks, receipt in boxed:
        assert receipt == ballot_receipt(code_hash, marks)
    assert sorted(receipt for _, _, receipt in boxed) == sorted(casting_order)

    host.post(m + "ballot/close/", expect=200)
    with schema_context(county_a.schema_name):
        events = read_stream(f"meeting-{mid}")
    ballots = [e for e in events if e.type == "BallotCast"]
    closed = [e for e in events if e.type == "BallotClosed"]
    check_ins = [e for e in events if e.type == "AttendeeCheckedIn"]
    assert len(ballots) == 30 and len(closed) == 1
    # Sorted by code hash, not by casting order, in every order the log has
    # (stream version, position); one timestamp and one transaction for all.
    hashes = [b.data["code_hash"] for b in ballots]
    assert hashes == sorted(hashes) and len(set(hashes)) == 30
    assert [b.position for b in ballots] == sorted(b.position for b in ballots)
    assert [b.stream_version for b in ballots] == list(range(ballots[0].stream_version, ballots[0].stream_version + 30))
    assert [b.data["receipt"] for b in ballots] != casting_order
    assert sorted(b.data["receipt"] for b in ballots) == sorted(casting_order)
    assert len({b.recorded_at for b in ballots}) == 1 and len({b.transaction_id for b in ballots}) == 1
    assert ballots[0].recorded_at == closed[0].recorded_at  # the time of the close, not of any cast
    assert all(set(b.data) == {"code_hash", "marks", "receipt", "source"} and b.data["source"] == "phone" for b in ballots)
    assert all(b.data["receipt"] == ballot_receipt(b.data["code_hash"], b.data["marks"]) for b in ballots)
    # Metadata names no voter and tells no ballot from another: every BallotCast
    # carries exactly the metadata of the close command (its id, and as actor
    # the host who closed the ballot).
    assert all(b.metadata == closed[0].metadata for b in ballots)
    assert set(closed[0].metadata) <= {"command_id", "actor"} and closed[0].metadata.get("actor") == host.username
    # No other event names a cast code: check-ins record who came, never a code;
    # the close records a count. Only the list of issued codes holds them all.
    codes_hashes = set(hashes)
    assert not any(set(map(str, c.data.values())) & codes_hashes for c in check_ins)
    for event in events:
        mentioned = {h for h in codes_hashes if h in json.dumps(event.data)}
        if event.type == "BallotCast":
            assert mentioned == {event.data["code_hash"]}
        elif event.type == "BallotCodesIssued":
            assert mentioned == codes_hashes
        else:
            assert not mentioned, event.type
    assert set(closed[0].data) == {"at", "phone_ballots"} and closed[0].data["phone_ballots"] == 30
    with schema_context(county_a.schema_name):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM meetings_ballot_box WHERE meeting_id = %s", [mid])
            assert cursor.fetchone()[0] == 0  # the box is empty once the ballots are in the log


def test_the_log_does_not_keep_the_order_the_codes_were_handed_out_in(county_a) -> None:
    from meetings.codes import code_hash

    admin, host = Api(county_a, "county_admin"), Api(county_a, "host")
    round_id = admin.post("rounds/", {"name": "发码顺序", "year": 2026, "variant": "zhi_ping_cun_guan"}, expect=201)["round_id"]
    starts = (datetime.now(UTC) + timedelta(days=4)).isoformat()
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": "发码顺序测试会", "township": "柳林乡", "village": "杨庄村",
        "starts_at": starts, "place": "村部",
        "subjects": [{"subject_id": "cun_shuji", "name": "书记", "level": "village"}],
        "roster": [{"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(30)],
    }, expect=201)["meeting_id"]
    host.post(f"meetings/{mid}/announce/", {"starts_at": starts, "place": "村部", "agenda": ["测评"], "channels": ["广播"]},
              expect=200)
    # The slips are printed, and handed out, in the order of this answer.
    handed_out = host.post(f"meetings/{mid}/codes/", {"category": "representative", "count": 30}, expect=200)["codes"]
    with schema_context(county_a.schema_name):
        (issued,) = [e for e in read_stream(f"meeting-{mid}") if e.type == "BallotCodesIssued"]
    assert set(issued.data["code_hashes"]) == {code_hash(county_a.schema_name, mid, c) for c in handed_out}
    # The order of the slips (whoever watched them handed out knows it) is not in the log: the hashes are sorted.
    assert issued.data["code_hashes"] == sorted(code_hash(county_a.schema_name, mid, c) for c in handed_out)


def _log_size() -> tuple[int, int]:
    """(events, recorded commands) of the current county: what any append would grow."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM event_commands)")
        events, commands = cursor.fetchone()
    return int(events), int(commands)
