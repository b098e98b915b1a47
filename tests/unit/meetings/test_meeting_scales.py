"""A scale per kind of subject (seed 000): bodies on 好/较好/一般/差, persons on 称职/基本称职/不称职, one ballot.

Rules in both JSON forms (one "scale" as recorded before, "scales" per kind),
their problems, a mark from the other scale refused, the tally counting each
subject on its own scale, and an old log that still verifies and means the same.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from meeting_given import (
    PARTY_CODES,
    REP_CODES,
    RULES,
    SUBJECTS,
    Run,
    events_until,
    meeting_at,
    with_rules,
)

from events.chain import GENESIS_HASH, event_hash, format_recorded_at
from events.shuping_verify import verify_lines
from events.types import load
from meetings.domain.aggregate import Meeting
from meetings.domain.errors import BallotInvalid, InvalidCommand, RulesInvalid
from meetings.domain.rules import SCALE_CHENZHI, SCALE_HAO, SCALE_MANYI, Grade, Rules, Scale, preset
from meetings.domain.tally import CountedBallot, results_event, tally
from meetings.domain.voting import SealedBallot
from meetings.events import PaperBallot, ResultsAnnounced, SubjectEntry

# SUBJECTS: zhibu (村党支部, a body) and wang (王建国, a person).
TWO_SCALES = with_rules(scales={"body": SCALE_HAO, "person": SCALE_CHENZHI}, min_group_size=1)
CRITERIA = ("sixiang_jianshe", "gongzuo_jixiao")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def ballot(body: str = "hao", person: str = "chenzhi") -> dict[str, dict[str, str]]:
    return {"zhibu": dict.fromkeys(CRITERIA, body), "wang": dict.fromkeys(CRITERIA, person)}


# -- rules --------------------------------------------------------------------------------------


def test_rules_with_a_scale_per_kind_round_trip_through_json() -> None:
    data = json.loads(json.dumps(TWO_SCALES.to_data()))
    assert "scale" not in data
    assert {kind: s["id"] for kind, s in data["scales"].items()} == {"body": "hao_jiaohao_yiban_cha", "person": "chenzhi"}
    back = Rules.from_data(data)
    assert back == TWO_SCALES
    assert [g.name_zh for g in back.scale_for("body").grades] == ["好", "较好", "一般", "差"]
    assert [g.name_zh for g in back.scale_for("person").grades] == ["称职", "基本称职", "不称职"]


def test_old_rules_with_one_scale_grade_every_kind_on_it() -> None:
    old = RULES.to_data()
    old["scale"] = old.pop("scales")["person"]  # the shape MeetingConfigured and RoundOpened recorded before
    rules = Rules.from_data(json.loads(json.dumps(old)))
    assert rules.scale_for("body") == rules.scale_for("person") == SCALE_HAO
    assert rules == RULES and rules.distinct_scales() == (SCALE_HAO,)


def test_scale_and_scales_together_are_refused_naming_the_field() -> None:
    data = TWO_SCALES.to_data() | {"scale": SCALE_HAO.to_data()}
    with pytest.raises(RulesInvalid) as refused:
        Rules.from_data(data)
    assert refused.value.code == "rules_field_invalid" and refused.value.details == {"field": "scales"}


def test_a_malformed_scale_of_one_kind_names_that_kind() -> None:
    data = TWO_SCALES.to_data()
    data["scales"]["person"]["grades"][1]["points"] = "60"
    with pytest.raises(RulesInvalid) as refused:
        Rules.from_data(data)
    assert refused.value.details == {"field": "scales.person.grades.points"}


def test_scale_problems_are_listed_per_kind_in_chinese() -> None:
    one_grade = Scale("yi", "一档", (Grade("only", "唯一", "only", 1),))
    bad = dataclasses.replace(RULES, scales={"person": one_grade, "robot": SCALE_HAO})
    found = {(p.code, p.details["field"]) for p in bad.problems()}
    assert found == {
        ("unknown_subject_kind", "scales"), ("scale_missing", "scales.body"), ("scale_too_small", "scales.person"),
    }
    messages = {p.details["field"]: p.message_zh for p in bad.problems()}
    assert "组织" in messages["scales.body"] and "个人" in messages["scales.person"]

    # Results name a subject's scale by its id: two different scales may not share one.
    impostor = Scale(SCALE_HAO.id, "冒名", SCALE_CHENZHI.grades)
    clash = dataclasses.replace(RULES, scales={"body": SCALE_HAO, "person": impostor})
    assert [(p.code, p.details["field"]) for p in clash.problems()] == [("scale_id_conflict", "scales.person")]
    both_ways = Scale("x", "x", (Grade("a", "甲", "a", 1, favourable=True, unfavourable=True), Grade("b", "乙", "b", 0)))
    assert [(p.code, p.details["field"]) for p in dataclasses.replace(RULES, scales={"body": both_ways, "person": SCALE_HAO}).problems()] == [
        ("grade_both_ways", "scales.body")]
    assert TWO_SCALES.problems() == []


def test_shuang_shu_shuang_ping_grades_bodies_and_persons_apart_and_the_other_presets_keep_one_scale() -> None:
    seed_000 = preset("shuang_shu_shuang_ping")
    assert (seed_000.scale_for("body"), seed_000.scale_for("person")) == (SCALE_HAO, SCALE_CHENZHI)
    assert seed_000.problems() == []
    for variant, scale in (("si_ge_shuang_xiang", SCALE_HAO), ("zhi_ping_cun_guan", SCALE_CHENZHI),
                           ("dianping_qunzhong_pingyi", SCALE_MANYI)):
        assert preset(variant).distinct_scales() == (scale,), variant


def test_a_subject_of_no_known_kind_is_refused_when_the_meeting_is_configured() -> None:
    meeting = Meeting.from_events(events_until("scheduled", rules=TWO_SCALES)[:1])  # scheduled, not configured
    robot = SubjectEntry(subject_id="robot", name="机器人", level="village", kind="machine")
    with pytest.raises(InvalidCommand) as refused:
        meeting.configure(rules=TWO_SCALES, subjects=[*SUBJECTS, robot], roster=[])
    assert "person（个人）或 body（组织）" in refused.value.message_zh


# -- the ballot ---------------------------------------------------------------------------------


def test_a_person_marked_on_the_bodies_scale_is_refused_and_nothing_changes() -> None:
    meeting = meeting_at("ballot_open", rules=TWO_SCALES)
    before = copy.deepcopy(meeting)
    with pytest.raises(BallotInvalid) as refused:
        meeting.cast_ballot(code_hash=PARTY_CODES[0], marks=ballot(person="hao"))
    assert refused.value.code == "ballot_invalid"
    assert "王建国" in refused.value.message_zh and "称职/基本称职/不称职" in refused.value.message_zh
    with pytest.raises(BallotInvalid) as body_refused:
        meeting.cast_ballot(code_hash=PARTY_CODES[0], marks=ballot(body="chenzhi"))
    assert "村党支部" in body_refused.value.message_zh and "好/较好/一般/差" in body_refused.value.message_zh
    assert meeting == before
    [cast] = meeting.cast_ballot(code_hash=PARTY_CODES[0], marks=ballot(body="cha", person="bu_chenzhi"))
    assert cast.marks == ballot(body="cha", person="bu_chenzhi")  # type: ignore[attr-defined]


def test_a_paper_ballot_from_the_wrong_scale_is_refused() -> None:
    run = Run(events_until("ballot_closed", rules=TWO_SCALES, sealed=[]))
    wrong = [PaperBallot(code_hash=REP_CODES[0], marks=ballot(body="bu_chenzhi"))]
    with pytest.raises(BallotInvalid) as refused:
        run.meeting.enter_paper_batch(batch_no=1, teller="teller-a", ballots=wrong, now=NOW)
    assert "村党支部" in refused.value.message_zh and run.meeting.paper_batches() == {}
    right = [PaperBallot(code_hash=REP_CODES[0], marks=ballot(body="yiban", person="jiben_chenzhi"))]
    run.do(run.meeting.enter_paper_batch(batch_no=1, teller="teller-a", ballots=right, now=NOW))
    assert run.meeting.paper_batches() == {1: "pending"}


def test_sealed_ballots_are_padded_to_the_widest_grade_of_each_subjects_scale() -> None:
    # The ballot box pads every sealed ballot to the longest valid one: with two scales
    # that is 较好 (jiaohao) for the body and 基本称职 (jiben_chenzhi) for the person.
    meeting = meeting_at("ballot_open", rules=TWO_SCALES)
    assert ballot(body="jiaohao", person="jiben_chenzhi") in meeting.widest_marks()


# -- the tally ------------------------------------------------------------------------------------


def test_body_and_person_on_one_ballot_are_counted_each_on_its_own_scale() -> None:
    marks = [ballot("cha", "chenzhi"), ballot("cha", "bu_chenzhi"), ballot("hao", "jiben_chenzhi"), ballot("jiaohao", "chenzhi")]
    results = tally(rules=TWO_SCALES, subjects=SUBJECTS, eligible=4,
                    ballots=[CountedBallot(category="party_member", marks=m) for m in marks])
    body, person = results.subjects
    assert (body.scale_id, person.scale_id) == ("hao_jiaohao_yiban_cha", "chenzhi")
    assert body.counts["sixiang_jianshe"] == {"hao": 1, "jiaohao": 1, "yiban": 0, "cha": 2}
    assert person.counts["gongzuo_jixiao"] == {"chenzhi": 2, "jiben_chenzhi": 1, "bu_chenzhi": 1}
    # 差评率 of the body: 差 marks; 不称职率 of the person: 不称职 marks.
    assert (body.favourable_rate, body.unfavourable_rate) == (Fraction(1, 2), Fraction(1, 2))
    assert (person.favourable_rate, person.unfavourable_rate) == (Fraction(1, 2), Fraction(1, 4))
    assert (body.flagged, person.flagged) == (True, False)  # threshold 30%
    assert person.score == Fraction(100 + 0 + 60 + 100, 4)
    announced = results_event(results, now=NOW)
    assert [(s.subject_id, s.scale_id, s.unfavourable_percent) for s in announced.subjects] == [
        ("zhibu", "hao_jiaohao_yiban_cha", "50.0%"), ("wang", "chenzhi", "25.0%")]
    assert announced.flagged_subjects == ["zhibu"]


def test_results_announced_v1_reads_with_no_scale_id() -> None:
    data = results_event(tally(rules=RULES, subjects=SUBJECTS, ballots=[], eligible=0), now=NOW).to_data()
    for subject in data["subjects"]:
        del subject["scale_id"]
    event = load("ResultsAnnounced", 1, data)
    assert isinstance(event, ResultsAnnounced) and [s.scale_id for s in event.subjects] == [None, None]


# -- an old log ----------------------------------------------------------------------------------


def _old_log() -> list[dict[str, Any]]:
    """A whole meeting's log as recorded before scales per kind: rules with one "scale", ResultsAnnounced v1."""
    sealed = [SealedBallot(code_hash=c, marks=ballot(grade, grade)) for c, grade in zip(PARTY_CODES, ("hao", "cha", "cha"), strict=False)]
    log = []
    prev = GENESIS_HASH
    for version, event in enumerate(events_until("closed", sealed=sealed), start=1):
        data, schema_version = event.to_data(), event.version
        if event.type_name == "MeetingConfigured":
            data["rules"]["scale"] = data["rules"].pop("scales")["person"]
        if event.type_name == "ResultsAnnounced":
            schema_version = 1
            for subject in data["subjects"]:
                del subject["scale_id"]
        line = {"position": version, "stream": "meeting-m1", "version": version, "type": event.type_name,
                "schema_version": schema_version, "data": data, "metadata": {},
                "recorded_at": format_recorded_at(NOW + timedelta(seconds=version)), "prev_hash": prev}
        line["hash"] = event_hash(county="lanshan", **{k: line[k] for k in (
            "stream", "version", "type", "schema_version", "data", "metadata", "recorded_at", "prev_hash")})
        prev = line["hash"]
        log.append(line)
    return log


def test_an_old_log_still_verifies_and_means_what_it_meant() -> None:
    log = _old_log()
    header = {"format": "shuping-log", "format_version": 1, "county": "lanshan", "stream": "meeting-m1",
              "exported_at": "2026-03-10T12:00:00.000000Z", "event_count": len(log), "head_hash": log[-1]["hash"]}
    report = verify_lines([json.dumps(line, ensure_ascii=False) for line in (header, *log)], trusted_heads=[log[-1]["hash"]])
    assert report.ok, report.problems
    meeting = Meeting.from_events([load(line["type"], line["schema_version"], copy.deepcopy(line["data"])) for line in log])
    assert meeting.rules is not None and meeting.rules.scale_for("body") == meeting.rules.scale_for("person") == SCALE_HAO
    recorded = next(line["data"] for line in log if line["type"] == "ResultsAnnounced")
    again = results_event(meeting.compute_results(), now=NOW)
    assert [(s.unfavourable_percent, s.flagged, s.score) for s in again.subjects] == [
        (s["unfavourable_percent"], s["flagged"], s["score"]) for s in recorded["subjects"]]
    assert [s.scale_id for s in again.subjects] == ["hao_jiaohao_yiban_cha"] * 2
