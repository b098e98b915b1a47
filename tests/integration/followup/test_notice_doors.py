"""The notice's doors against real PostgreSQL: publish, object, answer, end the period, file; and bad input.

A refused command must append nothing: each refusal is checked against the
meeting's notices stream version before and after.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from accounts.roles import A_MEMBER_OF_PUBLIC, A_VOTER, Actor
from common.china_time import CHINA_TIME
from common.refusal import Refusal
from events.reading import stream_version
from followup import selectors
from followup.actions.notices import (
    check_answer_objection,
    check_end_notice_period,
    check_file_results,
    check_publish_notice,
    check_raise_objection,
)
from followup.drafting import _held_on, closing_head, notice_draft
from followup.notices import notices_stream
from followup.periods import SWEEPER
from followup.sweeps import run_sweepers
from meetings.streams import load_meeting
from projections.runtime import get, rebuild
from tests.integration.followup.closed_meeting import ADMIN, HOST, cid, closed_meeting

MONDAY = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)  # 10:00 in China


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("notice")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        yield made
        connection.close()


def publish(mid: str, *, at: datetime = MONDAY, **extra: Any) -> str:
    draft = notice_draft(mid)
    return check_publish_notice(actor=ADMIN, meeting_id=mid, title=draft.title, text=draft.text, now=at,
                                command_id=cid(), **extra)


def refused(mid: str, code: str, command: Callable[[], object]) -> Refusal:
    before = stream_version(notices_stream(mid))
    with pytest.raises(Refusal) as caught:
        command()
    assert caught.value.code == code, caught.value
    assert caught.value.message_zh and caught.value.message_zh != caught.value.message_en
    assert stream_version(notices_stream(mid)) == before  # nothing appended
    return caught.value


def test_a_notice_carries_the_results_and_the_head_the_screen_showed_at_the_close(county: Any) -> None:
    mid = closed_meeting()
    head_at_close = load_meeting(mid).head  # what the hall screen shows once the meeting is closed
    notice_id = publish(mid)
    notice = selectors.notice(notice_id)
    assert notice is not None
    assert notice["head_hash"] == head_at_close == closing_head(mid)[0]
    assert notice["participation_percent"] == "100.0%" and (notice["ballots_counted"], notice["eligible"]) == (36, 36)
    assert notice["flagged_subjects"] == ["村党支部书记 张德明"]
    [secretary, director] = notice["subjects"]
    assert (secretary["unfavourable_percent"], secretary["flagged"]) == ("33.3%", True)
    assert (director["favourable_percent"], director["flagged"]) == ("100.0%", False)
    # Monday + 5 working days: the period is over at the start of the next Tuesday (China time).
    assert notice["period_ends"] == datetime(2026, 12, 14, 16, 0, tzinfo=UTC)
    assert notice["working_days"] == 5  # the round's rule


def test_the_draft_names_the_day_the_meeting_was_held_on_chinas_calendar(county: Any) -> None:
    mid = closed_meeting()
    meeting = load_meeting(mid).state
    assert meeting.opened_at is not None and meeting.starts_at is not None
    held = meeting.opened_at.astimezone(CHINA_TIME).date()
    scheduled = meeting.starts_at.astimezone(CHINA_TIME).date()
    assert held != scheduled  # the helper schedules it five days ahead and holds it at once
    text = notice_draft(mid).text
    assert f"于{held.year}年{held.month}月{held.day}日召开" in text, text
    assert f"年{scheduled.month}月{scheduled.day}日" not in text


@pytest.mark.parametrize(("moment", "day"), [
    (datetime(2026, 12, 6, 23, 30, tzinfo=UTC), "2026年12月7日"),  # 07:30 in China: already Monday there
    (datetime(2026, 12, 7, 15, 59, tzinfo=UTC), "2026年12月7日"),
    (datetime(2026, 12, 7, 16, 0, tzinfo=UTC), "2026年12月8日"),
])
def test_the_held_day_is_chinas_date_not_utcs(moment: datetime, day: str) -> None:
    assert _held_on(moment) == day


def test_a_published_notice_never_changes_and_a_correction_supersedes_it(county: Any) -> None:
    mid = closed_meeting()
    first = publish(mid)
    refused(mid, "notice_published", lambda: publish(mid))
    refused(mid, "not_current_notice", lambda: publish(mid, supersedes="n_unknown"))
    second = publish(mid, supersedes=first, working_days=7)
    both = {n["notice_id"]: n for n in selectors.meeting_notices(mid)}
    assert both[first]["superseded_by"] == second and both[second]["supersedes"] == first
    assert both[second]["working_days"] == 7
    refused(mid, "not_current_notice", lambda: publish(mid, supersedes=first))
    refused(mid, "notice_superseded", lambda: check_raise_objection(
        actor=A_MEMBER_OF_PUBLIC, notice_id=first, text="票数不对", contact=None, now=MONDAY, command_id=cid()))


def test_objections_answers_period_end_and_filing_in_order(county: Any) -> None:
    mid = closed_meeting()
    notice_id = publish(mid)
    refused(mid, "period_not_ended", lambda: check_file_results(actor=ADMIN, meeting_id=mid, now=MONDAY,
                                                                 command_id=cid()))
    objection = check_raise_objection(actor=A_MEMBER_OF_PUBLIC, notice_id=notice_id, text="书记的得票与会场不符",
                                      contact="13800000000", now=MONDAY + timedelta(days=1), command_id=cid())
    assert selectors.objections(notice_id=notice_id) == [
        {"objection_id": objection, "notice_id": notice_id, "meeting_id": mid, "body": "书记的得票与会场不符",
         "raised_at": MONDAY + timedelta(days=1), "answer": None, "answered_by": None, "answered_at": None},
    ]  # no contact in the public read
    assert selectors.objections(meeting_id=mid, public=False)[0]["contact"] == "13800000000"
    after = MONDAY + timedelta(days=10)
    # Over, but an objection is unanswered: the sweep leaves the period open.
    run_sweepers(after)
    assert selectors.notice(notice_id)["ended_at"] is None  # type: ignore[index]
    refused(mid, "objections_unanswered", lambda: check_end_notice_period(
        actor=SWEEPER, meeting_id=mid, notice_id=notice_id, now=after, command_id=cid()))
    refused(mid, "objections_unanswered", lambda: check_file_results(actor=ADMIN, meeting_id=mid, now=after,
                                                                      command_id=cid()))
    check_answer_objection(actor=ADMIN, objection_id=objection, answer="经复核计票无误", now=after, command_id=cid())
    refused(mid, "objection_answered", lambda: check_answer_objection(
        actor=ADMIN, objection_id=objection, answer="再答", now=after, command_id=cid()))
    assert run_sweepers(after)["notice_periods"] >= 1
    assert selectors.notice(notice_id)["ended_at"] == after  # type: ignore[index]
    refused(mid, "notice_closed", lambda: check_raise_objection(
        actor=A_MEMBER_OF_PUBLIC, notice_id=notice_id, text="还有意见", contact=None, now=after, command_id=cid()))
    filing_id = check_file_results(actor=ADMIN, meeting_id=mid, now=after, command_id=cid())
    filed = selectors.filing(mid)
    assert filed is not None and filed["filing_id"] == filing_id
    assert filed["head_hash"] == closing_head(mid)[0] and filed["filed_by"] == "zuzhibu"
    refused(mid, "already_filed", lambda: check_file_results(actor=ADMIN, meeting_id=mid, now=after,
                                                              command_id=cid()))
    refused(mid, "results_filed", lambda: publish(mid, supersedes=filed["notice_id"]))
    overview = selectors.filing_overview(after)
    assert mid in [row["meeting"]["meeting_id"] for row in overview["filed"]]
    report = rebuild(get("notices"))
    assert report.identical, (report.only_live, report.only_rebuilt)


def test_a_period_over_and_unfiled_is_late_and_a_sweep_twice_records_once(county: Any) -> None:
    mid = closed_meeting()
    notice_id = publish(mid)
    before = selectors.filing_overview(MONDAY + timedelta(days=1))
    assert mid in [row["meeting"]["meeting_id"] for row in before["in_notice"]]
    over = MONDAY + timedelta(days=8)
    late = selectors.filing_overview(over)["late"]
    assert mid in [row["meeting"]["meeting_id"] for row in late] and selectors.late_count(over) == len(late)
    run_sweepers(MONDAY + timedelta(days=7, hours=13))  # 23:00 on the fifth working day: not yet over
    assert selectors.notice(notice_id)["ended_at"] is None  # type: ignore[index]
    version = stream_version(notices_stream(mid))
    assert run_sweepers(over)["notice_periods"] >= 1
    assert run_sweepers(over)["notice_periods"] == 0  # a second sweep records nothing
    assert stream_version(notices_stream(mid)) == version + 1
    assert selectors.notice(notice_id)["ended_at"] == over  # type: ignore[index]


def test_bad_input_gets_a_chinese_refusal_and_appends_nothing(county: Any) -> None:
    mid = closed_meeting()
    open_only = closed_meeting(village="杏花村", close=False)
    refused(open_only, "meeting_not_closed", lambda: check_publish_notice(
        actor=ADMIN, meeting_id=open_only, title="公示", text="正文", now=MONDAY, command_id=cid()))
    with pytest.raises(Refusal) as unknown:
        check_publish_notice(actor=ADMIN, meeting_id="no_such_meeting", title="公示", text="正文", now=MONDAY,
                             command_id=cid())
    assert unknown.value.code == "unknown_meeting"
    refused(mid, "missing_field", lambda: check_publish_notice(
        actor=ADMIN, meeting_id=mid, title="  ", text="正文", now=MONDAY, command_id=cid()))
    refused(mid, "too_long", lambda: check_publish_notice(
        actor=ADMIN, meeting_id=mid, title="公示", text="长" * 5001, now=MONDAY, command_id=cid()))
    refused(mid, "invalid_notice_period", lambda: check_publish_notice(
        actor=ADMIN, meeting_id=mid, title="公示", text="正文", working_days=0, now=MONDAY, command_id=cid()))
    refused(mid, "invalid_characters", lambda: check_publish_notice(
        actor=ADMIN, meeting_id=mid, title="公\x00示", text="正文", now=MONDAY, command_id=cid()))
    for actor in (HOST, A_VOTER, A_MEMBER_OF_PUBLIC, Actor("watcher", "observer")):
        refused(mid, "forbidden", lambda a=actor: check_publish_notice(  # type: ignore[misc]
            actor=a, meeting_id=mid, title="公示", text="正文", now=MONDAY, command_id=cid()))
    notice_id = publish(mid)
    with pytest.raises(Refusal) as no_notice:
        check_raise_objection(actor=A_MEMBER_OF_PUBLIC, notice_id="n_nothing", text="异议", contact=None,
                              now=MONDAY, command_id=cid())
    assert no_notice.value.code == "unknown_notice" and no_notice.value.http_status == 404
    refused(mid, "missing_field", lambda: check_raise_objection(
        actor=A_MEMBER_OF_PUBLIC, notice_id=notice_id, text="", contact=None, now=MONDAY, command_id=cid()))
    refused(mid, "too_long", lambda: check_raise_objection(
        actor=A_MEMBER_OF_PUBLIC, notice_id=notice_id, text="异议", contact="1" * 101, now=MONDAY, command_id=cid()))
    refused(mid, "forbidden", lambda: check_raise_objection(
        actor=ADMIN, notice_id=notice_id, text="异议", contact=None, now=MONDAY, command_id=cid()))
    with pytest.raises(Refusal) as no_objection:
        check_answer_objection(actor=ADMIN, objection_id="o_nothing", answer="答复", now=MONDAY, command_id=cid())
    assert no_objection.value.code == "unknown_objection" and "找不到该异议" in no_objection.value.message_zh
    refused(mid, "forbidden", lambda: check_end_notice_period(
        actor=ADMIN, meeting_id=mid, notice_id=notice_id, now=MONDAY + timedelta(days=30), command_id=cid()))
    refused(mid, "period_running", lambda: check_end_notice_period(
        actor=SWEEPER, meeting_id=mid, notice_id=notice_id, now=MONDAY, command_id=cid()))
    # A retried objection (same command id) is recorded once.
    command = cid()
    first = check_raise_objection(actor=A_MEMBER_OF_PUBLIC, notice_id=notice_id, text="同一条", contact=None,
                                  now=MONDAY, command_id=command)
    again = check_raise_objection(actor=A_MEMBER_OF_PUBLIC, notice_id=notice_id, text="同一条", contact=None,
                                  now=MONDAY, command_id=command)
    assert first == again and len(selectors.objections(notice_id=notice_id)) == 1
