"""Event types are closed, typed and versioned; old versions are read through upcasters."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from events.types import (
    DomainEvent,
    EventSchemaError,
    event_type,
    load,
    lookup,
    registered_types,
    upcast,
    upcaster,
    validate,
)
from meetings.events import BallotCast, PaperBallot, PaperBatchEntered, QuestionAsked


@dataclass(frozen=True)
class _Subject:
    subject_id: str
    name: str


# A test-only type at version 3: v1 had "speaker", v2 renamed it to "subject_name",
# v3 made the subject a nested record.
@event_type(version=3, name="TestReportStarted")
@dataclass(frozen=True)
class _ReportStarted(DomainEvent):
    subject: _Subject
    limit_seconds: int


@upcaster("TestReportStarted", from_version=1)
def _v1_to_v2(data: dict) -> dict:
    data["subject_name"] = data.pop("speaker")
    return data


@upcaster("TestReportStarted", from_version=2)
def _v2_to_v3(data: dict) -> dict:
    return {"subject": {"subject_id": data["subject_id"], "name": data["subject_name"]}, "limit_seconds": data["limit_seconds"]}


def test_old_versions_are_upcast_to_the_current_shape() -> None:
    v1 = {"speaker": "王建国", "subject_id": "s1", "limit_seconds": 480}
    assert upcast("TestReportStarted", 1, dict(v1)) == {"subject": {"subject_id": "s1", "name": "王建国"}, "limit_seconds": 480}
    event = load("TestReportStarted", 1, dict(v1))
    assert event == _ReportStarted(subject=_Subject(subject_id="s1", name="王建国"), limit_seconds=480)
    assert load("TestReportStarted", 3, event.to_data()) == event


def test_data_read_back_from_the_store_builds_the_same_event_as_a_checked_load() -> None:
    # The store checked data of the current version when it wrote it: read back, it is built without a second
    # check, into the same typed event, nested records included, with containers of its own.
    batch = {"batch_no": 2, "teller": "计票员甲", "at": "2026-12-01T12:00:00+08:00",
             "ballots": [{"code_hash": "h1", "marks": {"s1": {"c1": "chenzhi"}}},
                         {"code_hash": "h2", "marks": {"s1": {"c1": "buchenzhi"}}}]}
    event = load("PaperBatchEntered", 1, batch, stored=True)
    assert event == load("PaperBatchEntered", 1, batch)
    assert event == PaperBatchEntered(batch_no=2, teller="计票员甲", at="2026-12-01T12:00:00+08:00", ballots=[
        PaperBallot(code_hash="h1", marks={"s1": {"c1": "chenzhi"}}),
        PaperBallot(code_hash="h2", marks={"s1": {"c1": "buchenzhi"}}),
    ])
    assert isinstance(event, PaperBatchEntered)
    assert event.ballots is not batch["ballots"]
    assert event.ballots[0].marks["s1"] is not batch["ballots"][0]["marks"]["s1"]  # type: ignore[index]
    report = {"subject": {"subject_id": "s1", "name": "王建国"}, "limit_seconds": 480}
    assert load("TestReportStarted", 3, report, stored=True) == _ReportStarted(_Subject("s1", "王建国"), 480)
    ballot = load("BallotCast", 2, {"code_hash": "h", "marks": {"s1": {"c1": "chenzhi"}}}, stored=True)
    assert ballot == BallotCast(code_hash="h", marks={"s1": {"c1": "chenzhi"}})


def test_stored_data_of_an_old_version_is_still_checked_after_its_upcasters() -> None:
    # No upcaster's output was ever checked by the store: a v2 record whose limit is a string is refused.
    v2 = {"subject_name": "王建国", "subject_id": "s1", "limit_seconds": "480"}
    with pytest.raises(EventSchemaError, match=r"limit_seconds 应为整数"):
        load("TestReportStarted", 2, v2, stored=True)
    with pytest.raises(EventSchemaError, match="未知的事件类型"):
        load("PageViewed", 1, {}, stored=True)


def test_a_version_newer_than_the_code_is_refused() -> None:
    with pytest.raises(EventSchemaError) as info:
        upcast("TestReportStarted", 4, {})
    assert "高于本程序支持的" in info.value.message_zh


def test_unknown_type_unknown_field_missing_field_and_wrong_type() -> None:
    with pytest.raises(EventSchemaError, match="未知的事件类型"):
        lookup("PageViewed")
    good = {"question_id": "q1", "text": "何时修路？", "subject": "村委会", "asked_by": None}
    assert validate("QuestionAsked", good) == good
    with pytest.raises(EventSchemaError, match="未知字段 ip"):
        validate("QuestionAsked", {**good, "ip": "10.0.0.1"})
    with pytest.raises(EventSchemaError, match="缺少字段 text"):
        validate("QuestionAsked", {k: v for k, v in good.items() if k != "text"})
    with pytest.raises(EventSchemaError, match=r"QuestionAsked\.asked_by"):
        validate("QuestionAsked", {**good, "asked_by": 7})
    with pytest.raises(EventSchemaError, match=r"marks\.s1\.c1 应为字符串"):
        validate("BallotCast", {"code_hash": "x", "marks": {"s1": {"c1": 1}}})
    with pytest.raises(EventSchemaError, match="应为整数"):
        validate("TestReportStarted", {"subject": {"subject_id": "s", "name": "n"}, "limit_seconds": True})
    with pytest.raises(EventSchemaError, match=r"subject 含未知字段 extra"):
        validate("TestReportStarted", {"subject": {"subject_id": "s", "name": "n", "extra": 1}, "limit_seconds": 1})


def test_types_are_declared_once_as_frozen_dataclasses() -> None:
    with pytest.raises(TypeError, match="declared twice"):
        event_type(version=1, name="BallotCast")(dataclass(frozen=True)(type("X", (DomainEvent,), {"__annotations__": {}})))
    with pytest.raises(TypeError, match="frozen dataclass"):
        event_type(version=1, name="NotFrozenHappened")(dataclass(type("Y", (DomainEvent,), {"__annotations__": {}})))


def test_registered_domain_events_are_past_tense_facts() -> None:
    names = [name for name in registered_types() if not name.startswith("Test")]
    assert {"MeetingScheduled", "AttendeeCheckedIn", "QuestionAsked", "QuestionAnswered", "BallotCast"} <= set(names)
    # Only domain facts: no page views, logins or syncs.
    noise = ("Viewed", "LoggedIn", "Login", "Synced", "Heartbeat", "Opened_page")
    assert not [name for name in names if any(word in name for word in noise)]
    past = re.compile(r"(ed|Cast|Sent|Held|Made|Set)(In|Out|Up|Back)?$")
    assert [name for name in names if not past.search(name)] == []
    assert BallotCast.version == 2 and QuestionAsked.type_name == "QuestionAsked"


def test_an_event_built_from_a_rows_values_is_the_event_the_constructor_builds_and_stays_frozen() -> None:
    import dataclasses
    from datetime import UTC, datetime

    from events.records import RecordedEvent

    values = (7, 42, "meeting-m1", 3, "QuestionAsked", 1, {"question_id": "q1"}, {"actor": "host"},
              datetime(2026, 12, 3, 8, 0, tzinfo=UTC), "0" * 64, "a" * 64)
    built = RecordedEvent.of_row(values)
    assert built == RecordedEvent(*values) and hash(built.position) == hash(7)
    assert dataclasses.astuple(built) == values and repr(built) == repr(RecordedEvent(*values))
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.hash = "b" * 64  # type: ignore[misc]
    with pytest.raises(ValueError):
        RecordedEvent.of_row(values[:-1])  # a missing value is not a missing field


def test_an_event_built_from_data_is_the_event_its_constructor_builds_defaults_and_post_init_included() -> None:
    import dataclasses

    from meetings.events import MeetingConfigured, QuestionAnswered, SubjectEntry

    answered = {"question_id": "q1", "answer": "三日内书面答复", "deferred": True}  # due_on left to its default
    for data in (answered, {**answered, "due_on": "2026-12-10"}):
        event = load("QuestionAnswered", 2, dict(data), stored=True)
        built = QuestionAnswered(**data)  # type: ignore[arg-type]
        assert event == built and hash(event) == hash(built) and repr(event) == repr(built)
        assert dataclasses.asdict(event) == dataclasses.asdict(built) and set(vars(event)) == set(vars(built))
        with pytest.raises(dataclasses.FrozenInstanceError):
            event.answer = "改了"  # type: ignore[misc]
    configured = load("MeetingConfigured", 2, {"rules": {}, "roster": [], "subjects": [
        {"subject_id": "s1", "name": "王建国", "level": "village"}]}, stored=True)
    assert isinstance(configured, MeetingConfigured)
    assert configured.subjects == [SubjectEntry(subject_id="s1", name="王建国", level="village")]
    assert configured.subjects[0].kind == "person" and configured.subjects[0].post is None
    # BallotCast fills an empty receipt in its __post_init__: built through its constructor, it still does.
    ballot = load("BallotCast", 2, {"code_hash": "h", "marks": {"s1": {"c1": "chenzhi"}}, "receipt": ""}, stored=True)
    assert isinstance(ballot, BallotCast) and ballot.receipt == BallotCast(code_hash="h", marks={"s1": {"c1": "chenzhi"}}).receipt != ""
