"""Interviews and ledger items as given events, when command, then events (no database)."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from PIL import Image

from common.refusal import Refusal
from followup.interviews import (
    Interview,
    InterviewHeld,
    InterviewOpened,
    RectificationPlanFiled,
    interview_id_of,
    open_command_id,
)
from followup.ledger import (
    LedgerItem,
    LedgerItemRaised,
    LedgerItemReviewed,
    MeasureAdded,
    MeasureCompleted,
    MeasureDeadlinePassed,
    overdue_command_id,
    summary_sentence,
)
from followup.ledger_files import MAX_BYTES, Upload, content_type_of, inspect

TODAY = date(2026, 12, 2)
RAISED = LedgerItemRaised(item_id="zg1", source_kind="comment", source_ref="c3", meeting_id="m1", township="城关镇",
                          village="东关村", problem="村道失修", note="", raised_by="zuzhibu")
M1 = MeasureAdded(item_id="zg1", measure_no=1, text="修缮村道", owner="王建国", deadline="2026-12-20")
M2 = MeasureAdded(item_id="zg1", measure_no=2, text="公开账目", owner="李秀英", deadline="2027-01-31")
DONE1 = MeasureCompleted(item_id="zg1", measure_no=1, completed_on="2026-12-10", evidence="已修好", files=[],
                         completed_by="zuzhibu")
OPENED = InterviewOpened(interview_id="iv1", meeting_id="m1", subject_id="shuji", subject_name="王建国",
                         township="城关镇", village="东关村", unfavourable_percent="40.0%", kind="admonishment",
                         opened_on="2026-12-01", due_on="2026-12-31")


def given(aggregate: type, *events: object) -> object:
    state = aggregate()
    for event in events:
        state.apply(event)
    return state


def item(*events: object) -> LedgerItem:
    return given(LedgerItem, *events)  # type: ignore[return-value]


def interview(*events: object) -> Interview:
    return given(Interview, *events)  # type: ignore[return-value]


def refused_code(call: object) -> str:
    with pytest.raises(Refusal) as refused:
        call()  # type: ignore[operator]
    return refused.value.code


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "blue").save(out, format="JPEG")
    return out.getvalue()


# -- the summary -------------------------------------------------------------------------------------


def test_the_summary_reads_exactly_like_seed_004() -> None:
    assert summary_sentence(problems=10, measures=12, done=9) == "发现问题10个，制定整改措施12条，已完成9条，正在整改3条"
    assert summary_sentence(problems=0, measures=0, done=0) == "发现问题0个，制定整改措施0条，已完成0条，正在整改0条"


# -- ledger items ------------------------------------------------------------------------------------


def test_a_measure_needs_an_owner_and_a_deadline_not_in_the_past() -> None:
    state = item(RAISED)
    assert refused_code(lambda: state.add_measure(text="修缮村道", owner="王建国", deadline=None, today=TODAY)) \
        == "measure_needs_deadline"
    assert refused_code(lambda: state.add_measure(text="修缮村道", owner="", deadline=TODAY, today=TODAY)) \
        == "owner_required"
    assert refused_code(lambda: state.add_measure(text="修缮村道", owner="王建国", deadline=TODAY - timedelta(days=1),
                                                  today=TODAY)) == "deadline_past"
    assert state.add_measure(text=" 修缮村道 ", owner="王建国", deadline=date(2026, 12, 20), today=TODAY) == [M1]


def test_measures_are_numbered_in_order_and_no_measure_before_the_item() -> None:
    assert item(RAISED, M1).add_measure(text="公开账目", owner="李秀英", deadline=date(2027, 1, 31), today=TODAY) == [M2]
    assert refused_code(lambda: item().add_measure(text="x", owner="y", deadline=TODAY, today=TODAY)) == "unknown_item"


def test_an_item_cannot_be_raised_from_an_unknown_source_nor_without_a_problem() -> None:
    def raise_(kind: str, problem: str) -> object:
        return lambda: item().raise_item(item_id="zg1", source_kind=kind, source_ref="", meeting_id="m1", township="t",
                                         village="v", problem=problem, note="", by="a")
    assert refused_code(raise_("rumour", "村道失修")) == "unknown_source_kind"
    assert refused_code(raise_("comment", "  ")) == "problem_required"
    assert refused_code(lambda: item(RAISED).raise_item(
        item_id="zg1", source_kind="comment", source_ref="", meeting_id="m1", township="t", village="v", problem="p",
        note="", by="a")) == "item_exists"


def test_completing_needs_evidence_and_happens_once() -> None:
    state = item(RAISED, M1)
    assert refused_code(lambda: state.complete_measure(measure_no=1, evidence=" ", files=[], on=TODAY, by="a")) \
        == "evidence_required"
    assert refused_code(lambda: state.complete_measure(measure_no=9, evidence="x", files=[], on=TODAY, by="a")) \
        == "unknown_measure"
    assert refused_code(lambda: item(RAISED, M1, DONE1).complete_measure(
        measure_no=1, evidence="again", files=[], on=TODAY, by="a")) == "measure_done"


def test_overdue_marks_undone_measures_past_their_deadline_once() -> None:
    state = item(RAISED, M1, M2)
    assert state.mark_overdue(today=date(2026, 12, 20)) == []  # the deadline day itself is not overdue
    marked = state.mark_overdue(today=date(2026, 12, 21))
    assert marked == [MeasureDeadlinePassed(item_id="zg1", measure_no=1, deadline="2026-12-20")]
    assert item(RAISED, M1, M2, *marked).mark_overdue(today=date(2026, 12, 21)) == []
    assert item(RAISED, M1, M2, DONE1).mark_overdue(today=date(2026, 12, 21)) == []
    assert overdue_command_id("zg1", 1) == overdue_command_id("zg1", 1) != overdue_command_id("zg1", 2)


def test_an_overdue_measure_can_still_be_completed() -> None:
    late = MeasureDeadlinePassed(item_id="zg1", measure_no=1, deadline="2026-12-20")
    assert item(RAISED, M1, late).complete_measure(measure_no=1, evidence="已修好", files=[], on=TODAY, by="a")


def test_the_closure_review_waits_for_every_measure_and_a_failed_one_says_why() -> None:
    assert refused_code(lambda: item(RAISED).review(passed=True, note="", by="a")) == "measures_not_done"
    assert refused_code(lambda: item(RAISED, M1, M2, DONE1).review(passed=True, note="", by="a")) == "measures_not_done"
    done = item(RAISED, M1, DONE1)
    assert refused_code(lambda: done.review(passed=False, note="", by="a")) == "review_note_required"
    passed = done.review(passed=True, note="", by="zuzhibu")
    assert passed == [LedgerItemReviewed(item_id="zg1", passed=True, reviewer="zuzhibu", note="")]
    closed = item(RAISED, M1, DONE1, *passed)
    assert refused_code(lambda: closed.add_measure(text="x", owner="y", deadline=TODAY, today=TODAY)) == "item_closed"
    assert closed.mark_overdue(today=date(2030, 1, 1)) == []


# -- interviews --------------------------------------------------------------------------------------


def test_an_interview_is_opened_once_with_a_due_date_from_the_announcement() -> None:
    opened = interview().open(meeting_id="m1", subject_id="shuji", subject_name="王建国", township="城关镇",
                              village="东关村", unfavourable_percent="40.0%", announced_on=date(2026, 12, 1))
    assert opened == [OPENED.__class__(**{**OPENED.__dict__, "interview_id": interview_id_of("m1", "shuji")})]
    assert refused_code(lambda: interview(OPENED).open(
        meeting_id="m1", subject_id="shuji", subject_name="王建国", township="城关镇", village="东关村",
        unfavourable_percent="40.0%", announced_on=date(2026, 12, 1))) == "interview_exists"
    assert open_command_id("m1", "shuji") == open_command_id("m1", "shuji") != open_command_id("m1", "zhuren")
    assert interview_id_of("m1", "shuji") != interview_id_of("m1", "zhuren")


def test_an_interview_is_held_then_given_a_plan_with_a_deadline() -> None:
    state = interview(OPENED)
    assert refused_code(lambda: state.file_plan(plan="整改", deadline=TODAY, by="a")) == "interview_not_held"
    assert refused_code(lambda: state.hold(kind="chat", interviewer="张", held_on=TODAY, record="r", by="a")) \
        == "unknown_kind"
    assert refused_code(lambda: state.hold(kind="summons", interviewer="张", held_on=date(2026, 11, 1), record="r",
                                           by="a")) == "held_before_results"
    held = state.hold(kind="summons", interviewer="张部长", held_on=TODAY, record="指出问题", by="zuzhibu")
    assert held == [InterviewHeld(interview_id="iv1", kind="summons", interviewer="张部长", held_on="2026-12-02",
                                  record="指出问题", recorded_by="zuzhibu")]
    after = interview(OPENED, *held)
    assert refused_code(lambda: after.file_plan(plan="公开账目", deadline=None, by="a")) == "deadline_required"
    assert refused_code(lambda: after.file_plan(plan="公开账目", deadline=date(2026, 12, 1), by="a")) == "deadline_past"
    plan = after.file_plan(plan="公开账目", deadline=date(2027, 3, 1), by="a")
    assert plan == [RectificationPlanFiled(interview_id="iv1", plan="公开账目", deadline="2027-03-01", recorded_by="a")]
    assert refused_code(lambda: interview(OPENED, *held, *plan).file_plan(plan="x", deadline=TODAY, by="a")) \
        == "plan_filed"


# -- evidence files ----------------------------------------------------------------------------------


def test_files_are_typed_by_their_content_not_their_name() -> None:
    assert content_type_of("scan.exe", jpeg()) == "image/jpeg"
    assert content_type_of("报告.jpg", b"%PDF-1.7\n...") == "application/pdf"
    with pytest.raises(Refusal) as refused:
        content_type_of("照片.jpg", b"MZ\x90\x00" + b"\x00" * 64)
    assert refused.value.code == "file_type_refused" and "照片.jpg" in refused.value.message_zh


def test_uploads_are_bounded_in_size_and_number_and_hashed() -> None:
    with pytest.raises(Refusal) as refused:
        inspect([Upload("big.jpg", jpeg() + b"\x00" * MAX_BYTES)])
    assert refused.value.code == "file_too_large" and refused.value.http_status == 413
    with pytest.raises(Refusal) as refused:
        inspect([Upload(f"{n}.jpg", jpeg()) for n in range(7)])
    assert refused.value.code == "too_many_files"
    [(evidence, data)] = inspect([Upload("C:\\相册\\路面.jpg", jpeg())])
    assert evidence.name == "路面.jpg" and evidence.size == len(data) and len(evidence.sha256) == 64
