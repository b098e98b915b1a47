"""The notice aggregate and its working days, in plain Python: given events, when a command, then events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from common.china_time import CHINA_TIME
from common.refusal import Refusal
from followup.events import NoticePublished, NoticeSubject, ObjectionRaised
from followup.notices import MeetingNotices
from followup.working_days import period_end

MONDAY = datetime(2026, 12, 7, 10, 0, tzinfo=CHINA_TIME)


def published(notice_id: str = "n1", *, supersedes: str | None = None, at: datetime = MONDAY,
              days: int = 5) -> NoticePublished:
    return NoticePublished(
        notice_id=notice_id, meeting_id="m1", meeting_title="桃园村直评村官大会", township="城关镇", village="桃园村",
        title="关于桃园村述职评议结果的公示", text="现予公示", flagged_subjects=[],
        subjects=[NoticeSubject("shuji", "书记", 36, "66.7%", "33.3%", True)], ballots_counted=36, eligible=36,
        participation_percent="100.0%", head_hash="ab" * 32, head_version=90, working_days=days,
        period_ends=period_end(at, days).isoformat(), supersedes=supersedes, published_by="zuzhibu",
        at=at.isoformat(),
    )


def given(*events: object) -> MeetingNotices:
    state = MeetingNotices()
    for event in events:
        state.apply(event)  # type: ignore[arg-type]
    return state


def refusal(code: str, command: object) -> None:
    with pytest.raises(Refusal) as caught:
        command()  # type: ignore[operator]
    assert caught.value.code == code


def test_five_working_days_skip_the_weekend_and_end_at_midnight_china_time() -> None:
    assert period_end(MONDAY, 5) == datetime(2026, 12, 15, 0, 0, tzinfo=CHINA_TIME)
    friday = datetime(2026, 12, 11, 17, 30, tzinfo=CHINA_TIME)
    assert period_end(friday, 5) == datetime(2026, 12, 19, 0, 0, tzinfo=CHINA_TIME)  # Mon 14 .. Fri 18
    saturday = datetime(2026, 12, 12, 9, 0, tzinfo=CHINA_TIME)
    assert period_end(saturday, 1) == datetime(2026, 12, 15, 0, 0, tzinfo=CHINA_TIME)  # Monday 14 is the one day
    # Late evening in UTC is already the next day in China.
    assert period_end(datetime(2026, 12, 6, 20, 0, tzinfo=UTC), 1) == datetime(2026, 12, 9, 0, 0, tzinfo=CHINA_TIME)
    with pytest.raises(ValueError):
        period_end(MONDAY, 0)


def test_a_second_notice_must_correct_the_current_one() -> None:
    state = given(published("n1"))
    refusal("notice_published", lambda: state.publish(published("n2")))
    refusal("not_current_notice", lambda: state.publish(published("n2", supersedes="n0")))
    refusal("notice_exists", lambda: state.publish(published("n1", supersedes="n1")))
    assert state.publish(published("n2", supersedes="n1")) == [published("n2", supersedes="n1")]


def test_objections_only_against_the_current_notice_in_its_period() -> None:
    state = given(published("n1"), published("n2", supersedes="n1"))
    refusal("notice_superseded", lambda: state.raise_objection(objection_id="o1", notice_id="n1", text="x",
                                                               contact=None, now=MONDAY))
    refusal("unknown_notice", lambda: state.raise_objection(objection_id="o1", notice_id="n9", text="x",
                                                            contact=None, now=MONDAY))
    end = period_end(MONDAY, 5)
    refusal("notice_closed", lambda: state.raise_objection(objection_id="o1", notice_id="n2", text="x",
                                                           contact=None, now=end))
    [raised] = state.raise_objection(objection_id="o1", notice_id="n2", text="x", contact="微信 abc",
                                     now=end - timedelta(seconds=1))
    assert isinstance(raised, ObjectionRaised) and raised.contact == "微信 abc"


def test_the_period_closes_only_when_over_and_answered_and_only_once() -> None:
    end = period_end(MONDAY, 5)
    state = given(published("n1"), ObjectionRaised("o1", "n1", "异议", None, MONDAY.isoformat()))
    refusal("period_running", lambda: state.end_period(notice_id="n1", now=end - timedelta(seconds=1)))
    refusal("objections_unanswered", lambda: state.end_period(notice_id="n1", now=end))
    refusal("unknown_objection", lambda: state.answer_objection(objection_id="o2", answer="a", by="z", now=end))
    for event in state.answer_objection(objection_id="o1", answer="已核实", by="zuzhibu", now=end):
        state.apply(event)
    refusal("objection_answered", lambda: state.answer_objection(objection_id="o1", answer="a", by="z", now=end))
    [ended] = state.end_period(notice_id="n1", now=end)
    state.apply(ended)
    assert state.end_period(notice_id="n1", now=end + timedelta(days=1)) == []


def test_filing_waits_for_the_period_and_happens_once_with_the_notices_head() -> None:
    end = period_end(MONDAY, 5)
    refusal("no_notice", lambda: given().file(filing_id="f1", by="z", now=end))
    state = given(published("n1"))
    refusal("period_not_ended", lambda: state.file(filing_id="f1", by="z", now=end))
    for event in state.end_period(notice_id="n1", now=end):
        state.apply(event)
    [filed] = state.file(filing_id="f1", by="zuzhibu", now=end)
    assert filed.head_hash == "ab" * 32 and filed.notice_id == "n1"  # type: ignore[attr-defined]
    state.apply(filed)
    refusal("already_filed", lambda: state.file(filing_id="f2", by="z", now=end))
    refusal("results_filed", lambda: state.publish(published("n2", supersedes="n1")))


def test_the_rounds_rules_carry_the_notice_period_and_old_rules_read_as_five_days() -> None:
    from meetings.domain.rules import PRESETS, Rules

    rules = PRESETS["zhi_ping_cun_guan"]
    assert rules.notice_working_days == 5 and rules.to_data()["notice_working_days"] == 5
    seven = Rules.from_data(rules.to_data() | {"notice_working_days": 7})
    assert seven.notice_working_days == 7 and Rules.from_data(seven.to_data()) == seven
    old = {k: v for k, v in rules.to_data().items() if k != "notice_working_days"}  # a log from before the field
    assert Rules.from_data(old).notice_working_days == 5
    bad = Rules.parse(rules.to_data() | {"notice_working_days": 0})
    assert [(p.code, p.details["field"]) for p in bad.problems()] == [("invalid_notice_period", "notice_working_days")]
