"""The auditor's replay page of a long meeting: the page holds one window of the timeline, not the log.

A meeting of some 600 steps is driven through the doors (meetings.actions);
its replay page must stay as small as a short meeting's, and stepping by step
number, by version, by time and by timeline window must still show the state
of that moment, folded from the log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from events.reading import read_stream
from live import audit
from meetings.actions import conduct
from meetings.streams import meeting_stream
from tests.integration.test_replay import HOST, PARTY, REPS, SUBJECTS, cid, login, new_meeting

QUESTIONS = 560
# A step of the timeline is some 500 bytes of HTML: the whole timeline of this meeting would be ~300 KB.
MOST_PAGE_BYTES = 96_000


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("replay_window")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        yield made
        connection.close()


@pytest.fixture(scope="module")
def long_meeting(county: Any) -> str:
    """Announced, everyone checked in, opened, one report with QUESTIONS questions from the floor."""
    from datetime import timedelta

    from meetings.actions import setup
    from meetings.streams import now

    mid = new_meeting("长会村")
    setup.check_announce_meeting(actor=HOST, meeting_id=mid, starts_at=now() + timedelta(days=5), place="村委会",
                                 agenda=["述职"], channels=["村务公开栏"], command_id=cid())
    for member in PARTY + REPS:
        conduct.check_check_in(actor=HOST, meeting_id=mid, member_id=member["member_id"], command_id=cid())
    conduct.check_open_meeting(actor=HOST, meeting_id=mid, command_id=cid())
    subject = SUBJECTS[0]["subject_id"]
    conduct.check_start_report(actor=HOST, meeting_id=mid, subject_id=subject, command_id=cid())
    for n in range(QUESTIONS):
        conduct.check_ask_question(actor=HOST, meeting_id=mid, subject_id=subject, text=f"第{n + 1}个问题",
                                   asked_by=REPS[n % len(REPS)]["member_id"], command_id=cid())
    conduct.check_end_report(actor=HOST, meeting_id=mid, subject_id=subject, command_id=cid())
    return mid


def steps_in(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<li data-index="([0-9]+)"', html)]


def test_the_page_of_a_long_meeting_is_as_small_as_one_window_and_opens_at_the_end(
    county: Any, long_meeting: str,
) -> None:
    events = read_stream(meeting_stream(long_meeting))
    assert len(events) > QUESTIONS + len(PARTY + REPS)
    auditor = login(county, "auditor")
    page = auditor.get(f"/audit/{long_meeting}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert len(page.content) < MOST_PAGE_BYTES, f"the page is {len(page.content):,} bytes"
    shown = steps_in(html)
    assert len(shown) == audit.WINDOW and shown == list(range(len(events) - audit.WINDOW, len(events)))
    assert f'data-steps="{len(events)}"' in html and f'max="{len(events) - 1}"' in html
    assert "data-verdict=\"verified\"" in html
    # Asked for an early version, the page holds the window around it instead.
    early = steps_in(auditor.get(f"/audit/{long_meeting}/?v=5").content.decode())
    assert early[0] == 0 and 4 in early and len(early) == audit.WINDOW


def test_stepping_through_a_long_meeting_shows_the_state_of_each_moment(county: Any, long_meeting: str) -> None:
    events = read_stream(meeting_stream(long_meeting))
    auditor = login(county, "auditor")
    url = f"/audit/{long_meeting}/at/"
    # Just after the 5th check-in (no ballot run here, so a step is an event: step i is version i + 1).
    fifth = [e.stream_version for e in events if e.type == "AttendeeCheckedIn"][4]
    state = auditor.get(url, {"i": fifth - 1}).json()
    assert state["index"] == fifth - 1 and state["version"] == fifth and state["steps"] == len(events)
    assert state["step"]["type"] == "AttendeeCheckedIn"
    assert {q["category"]: q["present"] for q in state["screen"]["quorum"]} == {"party_member": 5, "representative": 0}
    # The 300th question, far from both ends: 300 questions on the console, the report still running.
    three_hundredth = [e.stream_version for e in events if e.type == "QuestionAsked"][299]
    state = auditor.get(url, {"i": three_hundredth - 1}).json()
    assert state["version"] == three_hundredth and len(state["console"]["questions"]) == 300
    assert state["screen"]["current_report"]["name"] == SUBJECTS[0]["name"]
    assert state["head_hash"] == events[three_hundredth - 1].hash
    # By version, and past the end: the last step.
    assert auditor.get(url, {"v": three_hundredth}).json()["index"] == three_hundredth - 1
    last = auditor.get(url, {"i": 10**8}).json()
    assert last["index"] == len(events) - 1 and last["step"]["type"] == "ReportEnded"
    assert len(last["console"]["questions"]) == QUESTIONS
    # By time: the last step at or before the moment of the 300th question.
    when = auditor.get(url, {"i": three_hundredth - 1}).json()["at"]
    at = auditor.get(url, {"at": when}).json()
    assert at["at"] == when and at["version"] >= three_hundredth
    nothing = auditor.get(url, {"at": "2000-01-01T00:00"})
    assert nothing.status_code == 404 and nothing.json()["error"]["code"] == "no_event_before"
    for bad in ({"i": "-1"}, {"i": "x"}, {"at": "yesterday"}, {}):
        assert auditor.get(url, bad).status_code == 400, bad


def test_a_window_of_the_timeline_names_its_steps_as_the_whole_timeline_does(county: Any, long_meeting: str) -> None:
    from live import replay

    whole = replay.timeline(long_meeting)
    auditor = login(county, "auditor")
    answer = auditor.get(f"/audit/{long_meeting}/steps/", {"from": 300}).json()
    assert (answer["from"], answer["to"], answer["steps"]) == (300, 300 + audit.WINDOW, len(whole))
    assert steps_in(answer["html"]) == list(range(300, 300 + audit.WINDOW))
    # Each step as the whole timeline has it: version, type, and the subject's name from the configuration.
    for step in whole[300:300 + audit.WINDOW]:
        assert f'data-version="{step.version}" data-at="{step.at}" data-type="{step.type}"' in answer["html"]
    assert answer["html"].count(f'<span class="zh">{SUBJECTS[0]["name"]}</span>') == audit.WINDOW
    end = auditor.get(f"/audit/{long_meeting}/steps/", {"from": 10**6}).json()
    assert end["to"] == len(whole) and steps_in(end["html"])[-1] == len(whole) - 1
    assert auditor.get(f"/audit/{long_meeting}/steps/").status_code == 400
