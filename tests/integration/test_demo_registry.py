"""The demo county registers its people through the registry's doors and schedules its rehearsal with references."""

from __future__ import annotations

from typing import Any

from django_tenants.utils import schema_context

from meetings.registry import selectors
from meetings.selectors import meeting_detail
from shuping.demo import REHEARSAL_MEETING, ensure_rehearsal_meeting, populate_reference_data


def test_the_demo_registers_officials_and_its_rehearsal_refers_to_them(make_county: Any, django_db_blocker: Any) -> None:
    county = make_county("demo")
    with django_db_blocker.unblock(), schema_context(county.schema_name):  # type: ignore[attr-defined]
        populate_reference_data(members_per_village=8, representatives_per_village=6)
        ensure_rehearsal_meeting()
        ensure_rehearsal_meeting()  # a second start changes nothing
        officials = {o["official_id"]: o for o in selectors.officials_list()}
        bodies = selectors.bodies_list()
        subjects = meeting_detail(REHEARSAL_MEETING)["subjects"]

    # 3 townships with 2 officials each, 13 villages with 5: every one holding one post.
    assert len(officials) == 3 * 2 + 13 * 5 and len(bodies) == 3 + 13 * 2
    assert all(len(o["current_posts"]) == 1 for o in officials.values())
    assert len(subjects) == 5
    for subject in subjects:
        official = officials[subject["official_id"]]
        assert subject["subject_id"] == official["official_id"] and subject["name"] == official["name"]
        assert subject["post"] == official["current_posts"][0]["post"] and subject["level"] == "village"
    assert [s["post"] for s in subjects][:2] == ["党支部书记", "党支部委员"]
