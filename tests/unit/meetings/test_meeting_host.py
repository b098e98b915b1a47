"""A meeting records who hosts it (MeetingScheduled v3); meetings recorded before read as having no host."""

from __future__ import annotations

from datetime import UTC, datetime

from events.types import upcast
from meetings.domain.aggregate import Meeting

V2 = {
    "meeting_id": "m1", "title": "马家村述评大会", "township": "石桥镇", "village": "马家村",
    "starts_at": "2026-12-10T09:00:00+08:00", "place": "村委会", "round_id": "r1",
}


def test_a_version_2_scheduling_event_reads_as_a_meeting_without_a_host() -> None:
    assert upcast("MeetingScheduled", 2, dict(V2)) == {**V2, "host": None}
    v1 = {k: v for k, v in V2.items() if k != "round_id"}
    assert upcast("MeetingScheduled", 1, v1) == {**V2, "round_id": None, "host": None}


def test_the_host_given_when_scheduling_is_on_the_event_and_in_the_state() -> None:
    events = Meeting().schedule(
        meeting_id="m1", title="马家村述评大会", township="石桥镇", village="马家村",
        starts_at=datetime(2026, 12, 10, 1, 0, tzinfo=UTC), place="村委会", round_id="r1", host="wang_host",
    )
    assert events[0].host == "wang_host"  # type: ignore[attr-defined]
    assert Meeting.from_events(events).host == "wang_host"
    unassigned = Meeting().schedule(
        meeting_id="m2", title="马家村述评大会", township="石桥镇", village="马家村",
        starts_at=datetime(2026, 12, 10, 1, 0, tzinfo=UTC), place="村委会",
    )
    assert Meeting.from_events(unassigned).host is None
