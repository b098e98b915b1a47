"""A meeting voted on paper, entered by tellers (计票员) through the HTTP API.

Paper slips carry ballot codes like phones do. Each numbered batch is entered
by two different tellers: identical entries reconcile the batch; a difference
is shown side by side and blocks the results until a third entry (or a
re-entry) agrees with one side. A code voted by phone is counted once, from
the phone, and the paper duplicate is reported.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest

from meetings.codes import code_hash
from tests.integration.meetings.api_client import Api

pytestmark = pytest.mark.django_db

GRADES = ("chenzhi", "jiben_chenzhi", "bu_chenzhi")
SUBJECTS = [("cun_shuji", "村党支部书记 周永福"), ("cun_zhuren", "村委会主任 郑秀梅")]
PARTY, REPS = 10, 30

Marks = dict[str, dict[str, str]]


def percent(rate: Fraction) -> str:
    """Half up to one decimal, written here independently of the platform."""
    tenths = (rate * 1000 + Fraction(1, 2)).__floor__()
    return f"{tenths // 10}.{tenths % 10}%"


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def slip(rng: random.Random) -> Marks:
    return {sid: {"zongti": rng.choices(GRADES, weights=(6, 3, 1))[0]} for sid, _ in SUBJECTS}


def other_grade(grade: str) -> str:
    return GRADES[(GRADES.index(grade) + 1) % len(GRADES)]


def batch(codes: list[str], marks: dict[str, Marks], batch_no: int, *, skip: str | None = None,
          changed: dict[str, Marks] | None = None) -> dict[str, Any]:
    changed = changed or {}
    return {"batch_no": batch_no, "ballots": [
        {"code": code, "marks": changed.get(code, marks[code])} for code in codes if code != skip]}


def test_a_paper_meeting_with_double_entry_reconciliation(county_a) -> None:
    admin, host, auditor = Api(county_a, "county_admin"), Api(county_a, "host"), Api(county_a, "auditor")
    t1, t2, t3 = Api(county_a, "teller"), Api(county_a, "teller"), Api(county_a, "teller")
    voter = Api(county_a)
    rng = random.Random(7)

    round_id = admin.post("rounds/", {"name": "2026年度直评村官（纸质票）", "year": 2026, "variant": "zhi_ping_cun_guan"},
                          expect=201)["round_id"]
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": "河湾村2026年度直评村官大会", "township": "柳林乡", "village": "河湾村",
        "starts_at": in_days(4), "place": "河湾村小学礼堂",
        "subjects": [{"subject_id": sid, "name": name, "level": "village"} for sid, name in SUBJECTS],
        "roster": [{"member_id": f"pm{i}", "name": f"党员{i}", "category": "party_member"} for i in range(PARTY)]
        + [{"member_id": f"rep{i}", "name": f"村民代表{i}", "category": "representative"} for i in range(REPS)],
    }, expect=201)["meeting_id"]
    m = f"meetings/{mid}/"
    host.post(m + "announce/", {"starts_at": in_days(4), "place": "河湾村小学礼堂", "agenda": ["述职", "测评"],
                                "channels": ["公示栏", "广播"]}, expect=200)
    for i in range(PARTY):
        host.post(m + "check-in/", {"member_id": f"pm{i}"}, expect=200)
    for i in range(REPS):
        host.post(m + "check-in/", {"member_id": f"rep{i}"}, expect=200)
    host.post(m + "open/", expect=200)
    for sid, _ in SUBJECTS:
        host.post(m + "reports/start/", {"subject_id": sid}, expect=200)
        host.post(m + "reports/end/", {"subject_id": sid}, expect=200)

    # Codes are printed on the paper slips too.
    party_codes = host.post(m + "codes/", {"category": "party_member", "count": PARTY}, expect=200)["codes"]
    rep_codes = host.post(m + "codes/", {"category": "representative", "count": REPS}, expect=200)["codes"]
    category = {**dict.fromkeys(party_codes, "party_member"), **dict.fromkeys(rep_codes, "representative")}
    h = {code: code_hash(county_a.schema_name, mid, code) for code in category}
    paper = {code: slip(rng) for code in category}  # what is written on each slip

    # Paper ballots are entered once the ballot is open; not before.
    early = t1.post(m + "paper-batches/", batch(rep_codes[:2], paper, 1))
    assert early.status == 409 and early.error_code == "wrong_phase"
    host.post(m + "ballot/open/", expect=200)

    # One party member votes by phone and also puts a (different) paper slip in the box.
    double = party_codes[0]
    phone_marks = {sid: {"zongti": other_grade(paper[double][sid]["zongti"])} for sid, _ in SUBJECTS}
    voter.post(f"v/{mid}/ballot/", {"code": double, "marks": phone_marks}, expect=201)

    # Only tellers enter paper batches.
    refused = host.post(m + "paper-batches/", batch(rep_codes[:15], paper, 1))
    assert refused.status == 403 and refused.error_code == "forbidden" and refused["error"]["message"]
    host.post(m + "ballot/close/", expect=200)
    late = voter.post(f"v/{mid}/ballot/", {"code": party_codes[1], "marks": paper[party_codes[1]]})
    assert late.status == 409 and late.error_code == "wrong_phase"

    # Batch 1: two tellers, identical entries -> reconciled.
    first = t1.post(m + "paper-batches/", batch(rep_codes[:15], paper, 1), expect=200)
    assert first["status"] == "pending" and first["events"] == ["PaperBatchEntered"]
    assert auditor.get(m + "paper-batches/1/") == {"batch_no": 1, "status": "pending", "differences": []}
    second = t2.post(m + "paper-batches/", batch(rep_codes[:15], paper, 1), expect=200)
    assert second["status"] == "reconciled" and second["events"] == ["PaperBatchEntered", "PaperBatchReconciled"]
    closed = t3.post(m + "paper-batches/", batch(rep_codes[:15], paper, 1))
    assert closed.status == 400 and closed.error_code == "paper_batch_reconciled" and "第1批" in closed["error"]["message"]

    # Batch 2: the second teller misreads one slip -> mismatch, shown side by side.
    misread = rep_codes[25]
    wrong = {misread: {**paper[misread], "cun_zhuren": {"zongti": other_grade(paper[misread]["cun_zhuren"]["zongti"])}}}
    t1.post(m + "paper-batches/", batch(rep_codes[15:], paper, 2), expect=200)
    answer = t2.post(m + "paper-batches/", batch(rep_codes[15:], paper, 2, changed=wrong), expect=200)
    assert answer["status"] == "mismatch" and answer["events"] == ["PaperBatchEntered", "PaperBatchMismatchDetected"]
    shown = t1.get(m + "paper-batches/2/")
    assert shown == {"batch_no": 2, "status": "mismatch", "differences": [
        {"code_hash": h[misread], "entries": {t1.username: paper[misread], t2.username: wrong[misread]}}]}

    # A batch still waiting for its second teller also blocks the results.
    t1.post(m + "paper-batches/", batch(party_codes, paper, 3), expect=200)
    before = host.get(m)
    assert before["paper_batches"] == {"1": "reconciled", "2": "mismatch", "3": "pending"}
    blocked = host.post(m + "results/announce/")
    assert blocked.status == 400 and blocked.error_code == "paper_batches_unresolved"
    assert "第2批" in blocked["error"]["message"] and "第3批" in blocked["error"]["message"]
    assert host.get(m)["version"] == before["version"] and host.get(m)["phase"] == "ballot_closed"
    not_yet = auditor.get(m + "results/", expect=409)
    assert not_yet.error_code == "results_not_announced"

    # A third teller agrees with the first: batch 2 is reconciled on the right reading.
    third = t3.post(m + "paper-batches/", batch(rep_codes[15:], paper, 2), expect=200)
    assert third["status"] == "reconciled"
    # The outvoted reading stays visible beside the two that agree (for the record).
    assert t1.get(m + "paper-batches/2/") == {"batch_no": 2, "status": "reconciled", "differences": [
        {"code_hash": h[misread],
         "entries": {t1.username: paper[misread], t2.username: wrong[misread], t3.username: paper[misread]}}]}

    # Batch 3: the second teller skips a slip, then re-enters the batch correctly.
    skipped = party_codes[9]
    answer = t2.post(m + "paper-batches/", batch(party_codes, paper, 3, skip=skipped), expect=200)
    assert answer["status"] == "mismatch"
    assert t2.get(m + "paper-batches/3/")["differences"] == [
        {"code_hash": h[skipped], "entries": {t1.username: paper[skipped], t2.username: None}}]
    assert host.post(m + "results/announce/").error_code == "paper_batches_unresolved"
    assert t2.post(m + "paper-batches/", batch(party_codes, paper, 3), expect=200)["status"] == "reconciled"

    host.post(m + "results/announce/", expect=200)
    results = auditor.get(m + "results/")

    # Independent count: every code once; the phone ballot wins over its paper slip.
    counted = {code: paper[code] for code in category}
    counted[double] = phone_marks
    total = PARTY + REPS
    assert (results["ballots_counted"], results["phone_ballots"], results["paper_ballots"]) == (total, 1, total - 1)
    assert results["participation_percent"] == "100.0%"
    assert results["duplicate_codes"] == [{"code_hash": h[double], "counted_from": "phone", "ignored_from": ["paper:3"]}]
    by_subject = {s["subject_id"]: s for s in results["subjects"]}
    for sid, _name in SUBJECTS:
        counts = Counter(marks[sid]["zongti"] for marks in counted.values())
        got = by_subject[sid]
        assert got["ballots"] == total
        assert got["counts"] == {"zongti": {g: counts[g] for g in GRADES}}
        assert got["favourable_percent"] == percent(Fraction(counts["chenzhi"], total))
        assert got["unfavourable_percent"] == percent(Fraction(counts["bu_chenzhi"], total))
        groups = {g["group_id"]: g for g in got["groups"]}
        for cat, size in (("party_member", PARTY), ("representative", REPS)):
            per = Counter(marks[sid]["zongti"] for code, marks in counted.items() if category[code] == cat)
            assert groups[cat]["ballots"] == size
            assert groups[cat]["counts"] == {"zongti": {g: per[g] for g in GRADES}}
        # The phone ballot, not the slip, is in the count.
        paper_only = Counter(paper[code][sid]["zongti"] for code in category)
        assert paper_only != counts


def test_a_paper_ballot_must_carry_an_issued_code(county_a) -> None:
    admin, host, teller = Api(county_a, "county_admin"), Api(county_a, "host"), Api(county_a, "teller")
    round_id = admin.post("rounds/", {"name": "纸质票测评码", "year": 2026, "variant": "zhi_ping_cun_guan"}, expect=201)["round_id"]
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": "纸质票测评码", "township": "柳林乡", "village": "河湾村", "starts_at": in_days(4),
        "place": "村部", "subjects": [{"subject_id": "cun_shuji", "name": "书记", "level": "village"}],
        "roster": [{"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(30)],
    }, expect=201)["meeting_id"]
    m = f"meetings/{mid}/"
    host.post(m + "announce/", {"starts_at": in_days(4), "place": "村部", "agenda": ["测评"], "channels": ["广播"]}, expect=200)
    for i in range(30):
        host.post(m + "check-in/", {"member_id": f"rep{i}"}, expect=200)
    host.post(m + "open/", expect=200)
    host.post(m + "reports/start/", {"subject_id": "cun_shuji"}, expect=200)
    host.post(m + "reports/end/", {"subject_id": "cun_shuji"}, expect=200)
    plain = host.post(m + "codes/", {"category": "representative", "count": 3}, expect=200)["codes"]
    host.post(m + "ballot/open/", expect=200)
    version = host.get(m)["version"]
    good = {"code": plain[0], "marks": {"cun_shuji": {"zongti": "chenzhi"}}}
    malformed = teller.post(m + "paper-batches/", {"batch_no": 1, "ballots": [good, {**good, "code": "12"}]})
    assert malformed.status == 400 and malformed.error_code == "malformed_code"
    unknown = next(c for c in ("K7QM-X2PA-9F3R", "K7QM-X2PA-9F3S") if c not in plain)
    refused = teller.post(m + "paper-batches/", {"batch_no": 1, "ballots": [good, {**good, "code": unknown}]})
    assert refused.status == 404 and refused.error_code == "unknown_code" and refused["error"]["message"]
    twice = teller.post(m + "paper-batches/", {"batch_no": 1, "ballots": [good, good]})
    assert twice.status == 400 and twice.error_code == "ballot_invalid" and "重复" in twice["error"]["message"]
    bad_grade = teller.post(m + "paper-batches/", {"batch_no": 1, "ballots": [
        {"code": plain[1], "marks": {"cun_shuji": {"zongti": "hao"}}}]})
    assert bad_grade.status == 400 and bad_grade.error_code == "ballot_invalid"
    assert host.get(m)["version"] == version and host.get(m)["paper_batches"] == {}
