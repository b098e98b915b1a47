"""The registry's aggregates in plain Python: given events, when a command, then events or a refusal."""

from __future__ import annotations

from datetime import date

import pytest

from common.refusal import Refusal
from events.types import load
from meetings.events import MeetingConfigured
from meetings.registry.domain import Body, Official
from meetings.registry.events import (
    BodyRegistered,
    OfficialPostAssigned,
    OfficialPostEnded,
    OfficialRegistered,
)

BRANCH = BodyRegistered(body_id="bd000000000001", name="马家村党支部", kind="party_branch", township_id=1,
                        township="石桥镇", village_id=2, village="马家村")


def _body(*events: object) -> Body:
    body = Body()
    for event in events:
        body.apply(event)  # type: ignore[arg-type]
    return body


def _official(*events: object) -> Official:
    official = Official()
    for event in events:
        official.apply(event)  # type: ignore[arg-type]
    return official


REGISTERED = OfficialRegistered(official_id="of000000000001", name="王建国", gender="male")
SECRETARY = OfficialPostAssigned(official_id="of000000000001", post_no=1, body_id="bd000000000001",
                                 body_name="马家村党支部", post="党支部书记", from_date="2021-01-15")


def _refused(code: str, action: object) -> Refusal:
    with pytest.raises(Refusal) as refused:
        action()  # type: ignore[operator]
    assert refused.value.code == code
    return refused.value


def test_a_village_body_needs_its_village_and_a_township_committee_none() -> None:
    _refused("village_required", lambda: Body().register(
        body_id="bd1", name="马家村党支部", kind="party_branch", township_id=1, township="石桥镇", village_id=None, village=None))
    _refused("village_not_allowed", lambda: Body().register(
        body_id="bd1", name="石桥镇党委", kind="township_party_committee", township_id=1, township="石桥镇", village_id=2,
        village="马家村"))
    refused = _refused("field_required", lambda: Body().register(
        body_id="bd1", name="  ", kind="party_branch", township_id=1, township="石桥镇", village_id=2, village="马家村"))
    assert refused.details == {"field": "name"} and refused.message_zh == "请填写组织名称"
    assert _body(BRANCH).level == "village"


def test_a_post_is_held_once_at_a_time_and_ends_once() -> None:
    official = _official(REGISTERED, SECRETARY)
    refused = _refused("post_already_held", lambda: official.assign_post(body=_body(BRANCH), post="党支部书记",
                                                                       from_date=date(2022, 1, 1)))
    assert refused.message_zh == "王建国已在马家村党支部担任党支部书记"
    # 一肩挑: a second post of another title is fine, and numbered 2.
    (second,) = official.assign_post(body=_body(BRANCH), post="村委会主任", from_date=date(2022, 1, 1))
    assert isinstance(second, OfficialPostAssigned) and second.post_no == 2
    _refused("post_end_before_start", lambda: official.end_post(post_no=1, to_date=date(2020, 12, 31)))
    (ended,) = official.end_post(post_no=1, to_date=date(2025, 12, 31))
    assert ended == OfficialPostEnded(official_id="of000000000001", post_no=1, to_date="2025-12-31")
    after = _official(REGISTERED, SECRETARY, ended)
    assert after.current_posts() == []
    _refused("post_already_ended", lambda: after.end_post(post_no=1, to_date=date(2026, 1, 1)))
    _refused("unknown_post", lambda: after.end_post(post_no=7, to_date=date(2026, 1, 1)))
    # Once ended, the same post can be taken again (a re-election).
    assert after.assign_post(body=_body(BRANCH), post="党支部书记", from_date=date(2026, 1, 1))[0].post_no == 2


def test_a_correction_needs_a_reason_and_a_difference() -> None:
    official = _official(REGISTERED)
    _refused("field_required", lambda: official.correct(name="王建民", gender="male", reason=""))
    _refused("nothing_to_correct", lambda: official.correct(name="王建国", gender="male", reason="核对"))
    _refused("invalid_gender", lambda: official.correct(name="王建民", gender="x", reason="笔误"))
    assert official.correct(name="王建民", gender="male", reason="笔误")[0].name == "王建民"  # type: ignore[attr-defined]


def test_a_meeting_configured_before_the_registry_reads_as_referring_to_nothing() -> None:
    stored_v1 = {
        "rules": {"variant": "zhi_ping_cun_guan"},
        "subjects": [{"subject_id": "o3", "name": "村党支部书记 张三", "level": "village", "kind": "person"}],
        "roster": [],
    }
    event = load("MeetingConfigured", 1, stored_v1)
    assert isinstance(event, MeetingConfigured) and MeetingConfigured.version == 2
    (subject,) = event.subjects
    assert (subject.subject_id, subject.official_id, subject.body_id, subject.post) == ("o3", None, None, None)
