"""The ballot: validation, one ballot per code, sealed close, paper double entry, duplicates."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from meeting_given import (
    PARTY_CODES,
    REP_CODES,
    SUBJECTS,
    T0,
    Run,
    code,
    events_until,
    marks,
    with_rules,
)

from events.chain import canonical_json
from meetings.domain.errors import (
    BallotInvalid,
    CodeAlreadyUsed,
    PaperBatchClosed,
    PaperBatchesUnresolved,
    UnknownCode,
)
from meetings.domain.voting import SealedBallot
from meetings.events import (
    BallotCast,
    BallotClosed,
    PaperBallot,
    PaperBatchEntered,
    PaperBatchMismatchDetected,
    PaperBatchReconciled,
    ResultsAnnounced,
    SubjectEntry,
)

LATER = T0 + timedelta(hours=1)


def _receipt(code_hash: str, ballot: dict[str, dict[str, str]]) -> str:
    return hashlib.sha256(canonical_json({"code_hash": code_hash, "marks": ballot})).hexdigest()


@pytest.mark.parametrize(
    ("ballot", "fragment"),
    [
        ({"zhibu": marks()["zhibu"]}, "未对“王建国”作出评价"),
        ({**marks(), "li": marks()["wang"]}, "不评议“li”"),
        ({"zhibu": marks()["zhibu"], "wang": {"sixiang_jianshe": "hao"}}, "未对“王建国”的“工作绩效”作出评价"),
        ({"zhibu": marks()["zhibu"], "wang": {"sixiang_jianshe": "hao", "gongzuo_jixiao": "youxiu"}}, "评价等次“youxiu”不在“好/较好/一般/差”中"),
        ({"zhibu": marks()["zhibu"], "wang": {**marks()["wang"], "chuangxin": "hao"}}, "含未知指标“chuangxin”"),
        ({"zhibu": marks()["zhibu"], "wang": "hao"}, "未对“王建国”作出评价"),
    ],
)
def test_marks_must_grade_every_subject_on_every_criterion(ballot: dict, fragment: str) -> None:
    meeting = Run(events_until("ballot_open")).meeting
    with pytest.raises(BallotInvalid) as info:
        meeting.cast_ballot(code_hash=PARTY_CODES[0], marks=ballot)
    assert info.value.code == "ballot_invalid"
    assert fragment in info.value.message_zh


def test_unknown_codes_are_refused() -> None:
    meeting = Run(events_until("ballot_open")).meeting
    with pytest.raises(UnknownCode) as info:
        meeting.cast_ballot(code_hash=code("forged"), marks=marks())
    assert info.value.message_zh == "测评码无效"


def test_a_category_grades_only_the_subjects_of_the_levels_it_is_named_for() -> None:
    # 四个双向-like: party members here grade the township secretary too, representatives do not.
    subjects = [*SUBJECTS, SubjectEntry(subject_id="zhang", name="张书记", level="township", kind="person")]
    run = Run(events_until("scheduled")[:1])
    run.do(run.meeting.configure(rules=with_rules(), subjects=subjects, roster=list(Run(events_until("scheduled")).meeting.roster.values())))
    run.do(run.meeting.announce(starts_at=T0, place="会议室", agenda=[], channels=["broadcast"], now=T0 - timedelta(days=4)))
    run.do(run.meeting.issue_ballot_codes(category="party_member", code_hashes=PARTY_CODES))
    run.do(run.meeting.issue_ballot_codes(category="representative", code_hashes=REP_CODES))
    run.do(run.meeting.override_quorum(reason="测试", actor="host", now=T0))
    run.do(run.meeting.open_meeting(now=T0))
    for s in subjects:
        run.do(run.meeting.start_report(subject_id=s.subject_id, now=T0))
        run.do(run.meeting.end_report(subject_id=s.subject_id, now=T0))
    run.do(run.meeting.open_ballot(now=T0))
    meeting = run.meeting
    with pytest.raises(BallotInvalid, match="不评议“zhang”"):
        meeting.cast_ballot(code_hash=REP_CODES[0], marks=marks(subjects=["zhibu", "wang", "zhang"]))
    assert meeting.cast_ballot(code_hash=REP_CODES[0], marks=marks())
    with pytest.raises(BallotInvalid, match="未对“张书记”作出评价"):
        meeting.cast_ballot(code_hash=PARTY_CODES[0], marks=marks())
    assert meeting.cast_ballot(code_hash=PARTY_CODES[0], marks=marks(subjects=["zhibu", "wang", "zhang"]))


def test_one_ballot_per_code_and_an_identical_recast_is_idempotent() -> None:
    run = Run(events_until("ballot_open"))
    [cast] = run.do(run.meeting.cast_ballot(code_hash=PARTY_CODES[0], marks=marks("hao")))
    assert cast == BallotCast(code_hash=PARTY_CODES[0], marks=marks("hao"), receipt=_receipt(PARTY_CODES[0], marks("hao")), source="phone")
    assert run.meeting.cast_ballot(code_hash=PARTY_CODES[0], marks=marks("hao")) == []
    with pytest.raises(CodeAlreadyUsed) as info:
        run.meeting.cast_ballot(code_hash=PARTY_CODES[0], marks=marks("cha"))
    assert info.value.code == "code_already_used"


def test_validate_ballot_at_casting_time_uses_the_sealed_codes() -> None:
    meeting = Run(events_until("ballot_open")).meeting
    receipt = _receipt(PARTY_CODES[1], marks("yiban"))
    first = meeting.validate_ballot(code_hash=PARTY_CODES[1], marks=marks("yiban"), used_code_hashes=set())
    assert (first.receipt, first.already_cast) == (receipt, False)
    again = meeting.validate_ballot(code_hash=PARTY_CODES[1], marks=marks("yiban"), used_code_hashes={PARTY_CODES[1]: receipt})
    assert again.already_cast and again.receipt == receipt
    with pytest.raises(CodeAlreadyUsed):
        meeting.validate_ballot(code_hash=PARTY_CODES[1], marks=marks("cha"), used_code_hashes={PARTY_CODES[1]: receipt})
    with pytest.raises(CodeAlreadyUsed):  # a plain set cannot prove identity: refuse
        meeting.validate_ballot(code_hash=PARTY_CODES[1], marks=marks("yiban"), used_code_hashes={PARTY_CODES[1]})


def test_close_ballot_appends_the_sealed_ballots_sorted_by_code_hash() -> None:
    run = Run(events_until("ballot_open"))
    codes = PARTY_CODES[:4] + REP_CODES[:2]
    casting_order = sorted(codes, reverse=True)
    sealed = [SealedBallot(code_hash=c, marks=marks("hao" if i % 2 else "cha")) for i, c in enumerate(casting_order)]
    sealed.append(sealed[0])  # the same ballot sealed twice (a retried request) counts once
    new = run.do(run.meeting.close_ballot(sealed_ballots=sealed, now=LATER))
    *casts, closed = new
    assert closed == BallotClosed(at=LATER.isoformat(), phone_ballots=6)
    assert [c.code_hash for c in casts if isinstance(c, BallotCast)] == sorted(codes)
    assert all(isinstance(c, BallotCast) and c.receipt == _receipt(c.code_hash, dict(c.marks)) for c in casts)
    assert run.meeting.phase == "ballot_closed" and run.meeting.used_code_hashes() == set(codes)


def test_close_ballot_refuses_a_code_sealed_with_two_different_ballots() -> None:
    meeting = Run(events_until("ballot_open")).meeting
    sealed = [SealedBallot(code_hash=PARTY_CODES[0], marks=marks("hao")), SealedBallot(code_hash=PARTY_CODES[0], marks=marks("cha"))]
    with pytest.raises(CodeAlreadyUsed):
        meeting.close_ballot(sealed_ballots=sealed, now=LATER)
    with pytest.raises(BallotInvalid):
        meeting.close_ballot(sealed_ballots=[SealedBallot(code_hash=PARTY_CODES[0], marks={})], now=LATER)


def _paper(codes: list[str], grade: str = "hao") -> list[PaperBallot]:
    return [PaperBallot(code_hash=c, marks=marks(grade)) for c in codes]


def test_paper_batch_entered_twice_and_matching_is_reconciled() -> None:
    run = Run(events_until("ballot_closed", sealed=[]))
    [entered] = run.do(run.meeting.enter_paper_batch(batch_no=1, teller="teller-a", ballots=_paper(REP_CODES), now=LATER))
    assert isinstance(entered, PaperBatchEntered) and run.meeting.paper_batch_status(1) == "pending"
    with pytest.raises(PaperBatchesUnresolved, match="第1批（待第二人录入）"):
        run.meeting.announce_results(now=LATER)
    new = run.do(run.meeting.enter_paper_batch(batch_no=1, teller="teller-b", ballots=list(reversed(_paper(REP_CODES))), now=LATER))
    assert new[1] == PaperBatchReconciled(batch_no=1, tellers=["teller-a", "teller-b"], ballot_count=4, at=LATER.isoformat())
    assert run.meeting.paper_batches() == {1: "reconciled"}
    with pytest.raises(PaperBatchClosed):
        run.meeting.enter_paper_batch(batch_no=1, teller="teller-c", ballots=[], now=LATER)
    [results] = run.meeting.announce_results(now=LATER)
    assert isinstance(results, ResultsAnnounced) and (results.paper_ballots, results.phone_ballots) == (4, 0)


def test_paper_mismatch_is_shown_side_by_side_blocks_results_and_a_third_entry_resolves_it() -> None:
    run = Run(events_until("ballot_closed", sealed=[]))
    a = _paper(REP_CODES[:3])
    b = [*_paper(REP_CODES[:1]), *_paper(REP_CODES[1:2], "cha"), *_paper(REP_CODES[3:4])]  # one differs, one swapped
    run.do(run.meeting.enter_paper_batch(batch_no=2, teller="teller-a", ballots=a, now=LATER))
    new = run.do(run.meeting.enter_paper_batch(batch_no=2, teller="teller-b", ballots=b, now=LATER))
    expected_codes = sorted([REP_CODES[1], REP_CODES[2], REP_CODES[3]])
    assert new[1] == PaperBatchMismatchDetected(batch_no=2, tellers=["teller-a", "teller-b"], code_hashes=expected_codes, at=LATER.isoformat())
    differences = {d.code_hash: d.entries for d in run.meeting.paper_batch_differences(2)}
    assert differences == {
        REP_CODES[1]: {"teller-a": marks("hao"), "teller-b": marks("cha")},
        REP_CODES[2]: {"teller-a": marks("hao"), "teller-b": None},
        REP_CODES[3]: {"teller-a": None, "teller-b": marks("hao")},
    }
    with pytest.raises(PaperBatchesUnresolved) as info:
        run.meeting.announce_results(now=LATER)
    assert "第2批（核对不一致）" in info.value.message_zh
    new = run.do(run.meeting.enter_paper_batch(batch_no=2, teller="teller-c", ballots=list(a), now=LATER))
    assert isinstance(new[1], PaperBatchReconciled) and new[1].tellers == ["teller-a", "teller-c"]
    assert run.meeting.paper_ballots() == {2: {p.code_hash: p.marks for p in a}}
    assert run.meeting.announce_results(now=LATER)


def test_one_teller_entering_a_batch_twice_never_reconciles_it() -> None:
    # Double entry means two people: the same teller typing the same batch
    # again agrees with themself, which proves nothing.
    run = Run(events_until("ballot_closed"))
    first = run.do(run.meeting.enter_paper_batch(batch_no=1, teller="teller-a", ballots=_paper(REP_CODES), now=LATER))
    again = run.do(run.meeting.enter_paper_batch(batch_no=1, teller="teller-a", ballots=_paper(REP_CODES), now=LATER))
    assert [type(e) for e in first + again] == [PaperBatchEntered, PaperBatchEntered]
    assert run.meeting.paper_batch_status(1) == "pending"
    assert run.meeting.paper_ballots() == {}
    with pytest.raises(PaperBatchesUnresolved):
        run.meeting.announce_results(now=LATER)
    confirmed = run.do(run.meeting.enter_paper_batch(batch_no=1, teller="teller-b", ballots=_paper(REP_CODES), now=LATER))
    assert isinstance(confirmed[1], PaperBatchReconciled) and confirmed[1].tellers == ["teller-a", "teller-b"]


def test_a_teller_reentering_a_batch_replaces_the_earlier_entry() -> None:
    run = Run(events_until("ballot_closed", sealed=[]))
    run.do(run.meeting.enter_paper_batch(batch_no=1, teller="teller-a", ballots=_paper(REP_CODES[:2], "cha"), now=LATER))
    run.do(run.meeting.enter_paper_batch(batch_no=1, teller="teller-b", ballots=_paper(REP_CODES[:2]), now=LATER))
    assert run.meeting.paper_batch_status(1) == "mismatch"
    new = run.do(run.meeting.enter_paper_batch(batch_no=1, teller="teller-a", ballots=_paper(REP_CODES[:2]), now=LATER))
    assert isinstance(new[1], PaperBatchReconciled) and run.meeting.paper_batch_status(1) == "reconciled"


def test_paper_entries_are_validated_like_phone_ballots() -> None:
    meeting = Run(events_until("ballot_closed", sealed=[])).meeting
    with pytest.raises(UnknownCode):
        meeting.enter_paper_batch(batch_no=1, teller="t", ballots=_paper([code("forged")]), now=LATER)
    with pytest.raises(BallotInvalid, match="重复"):
        meeting.enter_paper_batch(batch_no=1, teller="t", ballots=_paper([REP_CODES[0], REP_CODES[0]]), now=LATER)
    with pytest.raises(BallotInvalid):
        meeting.enter_paper_batch(batch_no=1, teller="t", ballots=[PaperBallot(code_hash=REP_CODES[0], marks={})], now=LATER)


def test_a_code_counted_on_the_phone_is_not_counted_again_from_paper() -> None:
    phone = [SealedBallot(code_hash=PARTY_CODES[0], marks=marks("hao"))]
    run = Run(events_until("ballot_closed", sealed=phone))
    paper = [PaperBallot(code_hash=PARTY_CODES[0], marks=marks("cha")), *_paper(PARTY_CODES[1:3], "yiban")]
    other_batch = [PaperBallot(code_hash=PARTY_CODES[1], marks=marks("cha"))]
    for teller in ("teller-a", "teller-b"):
        run.do(run.meeting.enter_paper_batch(batch_no=1, teller=teller, ballots=paper, now=LATER))
        run.do(run.meeting.enter_paper_batch(batch_no=2, teller=teller, ballots=other_batch, now=LATER))
    duplicates = {d.code_hash: (d.counted_from, d.ignored_from) for d in run.meeting.duplicate_codes()}
    assert duplicates == {PARTY_CODES[0]: ("phone", ("paper:1",)), PARTY_CODES[1]: ("paper:1", ("paper:2",))}
    counted = {c: (source, m) for c, source, m in run.meeting.counted_ballots()}
    assert counted[PARTY_CODES[0]] == ("phone", marks("hao"))
    assert counted[PARTY_CODES[1]] == ("paper:1", marks("yiban"))
    assert len(counted) == 3
    results = run.meeting.compute_results()
    assert (results.ballots_counted, results.phone_ballots, results.paper_ballots) == (3, 1, 2)
    zhibu = results.subjects[0]
    assert zhibu.counts["sixiang_jianshe"] == {"hao": 1, "jiaohao": 0, "yiban": 2, "cha": 0}
