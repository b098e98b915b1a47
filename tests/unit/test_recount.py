"""The verifier's own recount against the platform's tally, and what it catches.

Meetings are run by the real aggregate (meetings.domain.aggregate.Meeting, whose
results come from meetings.domain.tally), written out as a hash-chained export,
and checked by events.shuping_verify, which shares no code with the tally.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from events.chain import GENESIS_HASH, event_hash, format_recorded_at
from events.shuping_verify import VerifyReport, verify_lines
from events.types import DomainEvent
from meetings.domain.rules import SCALE_CHENZHI, SCALE_HAO, SCALE_MANYI, Criterion, Rules
from meetings.domain.voting import SealedBallot
from meetings.events import PaperBallot, QuestionAnswered, RosterEntry, SubjectEntry
from tests.unit.meetings.meeting_given import T0, Run, code, events_until

COUNTY = "lanshan"
STREAM = "meeting-m1"
HASHED = ("stream", "version", "type", "schema_version", "data", "metadata", "recorded_at", "prev_hash")
CATEGORIES = ("party_member", "representative", "guest")
CRITERIA = (Criterion("sixiang", "思想建设"), Criterion("lianzheng", "党风廉政建设"), Criterion("jixiao", "工作绩效"))
NAMES = ("村党支部", "王建国", "李秀英", "村委会")


# -- a meeting as an exported log --------------------------------------------------------------


def as_lines(events: list[DomainEvent]) -> list[dict[str, Any]]:
    return [
        {"position": 10 + 3 * v, "stream": STREAM, "version": v, "type": e.type_name, "schema_version": e.version,
         "data": e.to_data(), "metadata": {"actor": "host:李建国"},
         "recorded_at": format_recorded_at(datetime(2026, 3, 10, 1, tzinfo=UTC) + timedelta(seconds=v)), "prev_hash": ""}
        for v, e in enumerate(events, start=1)
    ]


def chained(lines: list[dict[str, Any]]) -> list[str]:
    """The export of these event lines, every hash (and the header) computed afresh: a consistent rewrite."""
    prev = GENESIS_HASH
    out = []
    for index, line in enumerate(lines):
        line = {**line, "position": 10 + 3 * index, "prev_hash": prev}
        line["hash"] = prev = event_hash(county=COUNTY, **{name: line[name] for name in HASHED})
        out.append(json.dumps(line, ensure_ascii=False))
    header = {"format": "shuping-log", "format_version": 1, "county": COUNTY, "stream": STREAM,
              "exported_at": "2026-03-10T02:00:00.000000Z", "event_count": len(out), "head_hash": out and prev or None}
    return [json.dumps(header), *out]


def results_line(lines: list[dict[str, Any]]) -> dict[str, Any]:
    [line] = [line for line in lines if line["type"] == "ResultsAnnounced"]
    return line


# -- many meetings, generated ------------------------------------------------------------------


@st.composite
def meetings(draw: st.DrawFn) -> list[DomainEvent]:
    """A finished meeting: random rules, subjects, roster, attendance, phone and paper ballots."""
    graders = {level: tuple(draw(st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3, unique=True)))
               for level in ("village", "township")}
    rules = Rules(
        variant="custom", scales={kind: draw(st.sampled_from([SCALE_HAO, SCALE_CHENZHI, SCALE_MANYI]))
                                  for kind in ("body", "person")},
        criteria=tuple(draw(st.lists(st.sampled_from(CRITERIA), min_size=1, max_size=3, unique=True))),
        voter_categories=CATEGORIES, graders=graders,
        category_weights={cat: draw(st.integers(1, 3)) for cat in CATEGORIES},
        min_group_size=draw(st.integers(1, 6)),
        admonish_threshold=draw(st.sampled_from([Fraction(1, 10), Fraction(3, 10), Fraction(1, 2)])),
    )
    subjects = [SubjectEntry(subject_id=f"s{i}", name=NAMES[i], level=draw(st.sampled_from(["village", "township"])),
                             kind=draw(st.sampled_from(["body", "person"])))
                for i in range(draw(st.integers(1, 4)))]
    sizes = {"party_member": draw(st.integers(0, 12)), "representative": draw(st.integers(0, 9))}
    roster = [RosterEntry(member_id=f"{cat[0]}{i}", name=f"{cat}{i}", category=cat)
              for cat, n in sizes.items() for i in range(n)]
    present = [entry for entry in roster if draw(st.booleans()) or draw(st.booleans())]
    guests = draw(st.integers(0, 4))
    run = Run()
    m = lambda: run.meeting  # noqa: E731 (always the current state)
    run.do(m().schedule(meeting_id="m1", title="述评大会", township="城关镇", village="东村", starts_at=T0, place="村委会"))
    run.do(m().configure(rules=rules, subjects=subjects, roster=roster))
    run.do(m().announce(starts_at=T0, place="村委会", agenda=["述职"], channels=["notice_board"], now=T0 - timedelta(days=5)))
    for entry in present:
        run.do(m().sign_in(member_id=entry.member_id))
    for g in range(guests):
        run.do(m().sign_in_guest(guest_id=f"g{g}", name=f"列席{g}"))
    voters: list[tuple[str, str]] = []  # (code hash, category): one code per person present who grades something
    for cat in CATEGORIES:
        n = guests if cat == "guest" else sum(1 for e in present if e.category == cat)
        if n and m().subjects_graded_by(cat):
            codes = [code(f"{cat}-{i}") for i in range(n)]
            run.do(m().issue_ballot_codes(category=cat, code_hashes=codes))
            voters += [(c, cat) for c in codes]
    run.do(m().open_meeting(now=T0))
    for s in subjects:
        run.do(m().start_report(subject_id=s.subject_id, now=T0))
        run.do(m().end_report(subject_id=s.subject_id, now=T0 + timedelta(minutes=5)))
    run.do(m().open_ballot(now=T0 + timedelta(minutes=30)))
    def ballot(cat: str) -> dict[str, dict[str, str]]:
        return {s.subject_id: {c.id: draw(st.sampled_from(rules.scale_for(s.kind).grade_ids)) for c in rules.criteria}
                for s in m().subjects_graded_by(cat)}

    phone, paper = [], {1: [], 2: []}  # type: ignore[var-annotated]
    for code_hash, cat in voters:
        how = draw(st.sampled_from(["phone", "paper1", "paper2", "both", "twice", "none"]))
        if how in ("phone", "both"):
            phone.append(SealedBallot(code_hash=code_hash, marks=ballot(cat)))
        if how in ("paper1", "both", "twice"):
            paper[1].append(PaperBallot(code_hash=code_hash, marks=ballot(cat)))
        if how in ("paper2", "twice"):  # "twice": in two batches, the lower one counts
            paper[2].append(PaperBallot(code_hash=code_hash, marks=ballot(cat)))
    run.do(m().close_ballot(sealed_ballots=phone, now=T0 + timedelta(minutes=40)))
    at = T0 + timedelta(minutes=41)
    for batch_no, ballots in paper.items():
        if not ballots:
            continue
        if draw(st.booleans()):  # the second teller slips once, then re-enters the batch right
            run.do(m().enter_paper_batch(batch_no=batch_no, teller="计票员乙", ballots=ballots[1:], now=at))
        run.do(m().enter_paper_batch(batch_no=batch_no, teller="计票员甲", ballots=ballots, now=at))
        run.do(m().enter_paper_batch(batch_no=batch_no, teller="计票员乙", ballots=ballots, now=at))
    if m().over_attendance():
        run.do(m().accept_count_discrepancy(reason="手机与纸质重复，已核实", actor="host", now=at))
    run.do(m().announce_results(now=at + timedelta(minutes=1)))
    run.do(m().close_meeting(now=at + timedelta(minutes=5)))
    return run.log


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(meetings())
def test_the_recount_agrees_with_the_platforms_tally_on_generated_meetings(events: list[DomainEvent]) -> None:
    report = verify_lines(chained(as_lines(events)))
    assert report.ok, report.problems
    assert report.results_recounted == 1 and report.closed_at == len(events)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(meetings(), st.randoms(use_true_random=False))
def test_any_changed_figure_of_the_results_is_caught_although_the_chain_is_consistent(events: list[DomainEvent], rnd: Any) -> None:
    lines = as_lines(events)
    data = results_line(lines)["data"]
    figures = [("eligible",), ("participation_percent",), ("ballots_counted",)]
    for i, s in enumerate(data["subjects"]):
        figures += [("subjects", i, "flagged"), ("subjects", i, "score"), ("subjects", i, "favourable_percent"),
                    ("subjects", i, "score_numerator")]
        figures += [("subjects", i, "counts", c, g) for c, grades in s["counts"].items() for g in grades]
    path = rnd.choice(figures)
    target = data
    for key in path[:-1]:
        target = target[key]
    old = target[path[-1]]
    target[path[-1]] = (not old) if isinstance(old, bool) else old + 1 if isinstance(old, int) else "99.9%"
    report = verify_lines(chained(lines))
    assert not report.ok and report.problems[0].code == "recount_mismatch", report.problems
    if path[0] == "subjects":
        assert data["subjects"][path[1]]["name"] in report.problems[0].message


# -- named cases ------------------------------------------------------------------------------


def finished() -> list[dict[str, Any]]:
    return as_lines(events_until("closed", sealed=[SealedBallot(code_hash=code(f"p{i}"), marks={
        "zhibu": {"sixiang_jianshe": "hao", "gongzuo_jixiao": "cha"}, "wang": {"sixiang_jianshe": "cha", "gongzuo_jixiao": "cha"},
    }) for i in range(4)]))


def test_a_tampered_count_with_a_rehashed_chain_is_reported_with_the_subject_and_the_figure() -> None:
    lines = finished()
    subject = results_line(lines)["data"]["subjects"][1]
    subject["counts"]["gongzuo_jixiao"]["cha"] -= 1
    subject["counts"]["gongzuo_jixiao"]["hao"] += 1
    report = verify_lines(chained(lines))
    assert [p.code for p in report.problems] == ["recount_mismatch", "recount_mismatch"]
    first = report.problems[0]
    assert first.message == "subject 王建国 (wang): counts.gongzuo_jixiao.cha: announced 3, recounted 4"
    assert first.message_zh.startswith("述评对象 王建国（wang）：counts.gongzuo_jixiao.cha：公布为 3，重新计票为 4")
    assert first.version == results_line(lines)["version"]


def test_a_dropped_ballot_changes_the_recount_not_the_announcement() -> None:
    lines = finished()
    lines = [line for line in lines if not (line["type"] == "BallotCast" and line["data"]["code_hash"] == code("p0"))]
    for version, line in enumerate(lines, start=1):
        line["version"] = version
    report = verify_lines(chained(lines))
    assert not report.ok
    assert "ballots_counted: announced 4, recounted 3" in report.problems[0].message


def test_results_that_cannot_be_recounted_are_refused() -> None:
    lines = [line for line in finished() if line["type"] != "BallotCodesIssued"]
    for version, line in enumerate(lines, start=1):
        line["version"] = version
    report = verify_lines(chained(lines))
    assert report.problems[0].code == "recount_impossible" and "never issued" in report.problems[0].message


# -- complete logs -----------------------------------------------------------------------------


def test_a_closed_meeting_must_end_at_its_close() -> None:
    lines = finished()
    extra = copy.deepcopy(results_line(lines))
    extra["version"] = len(lines) + 1
    report = verify_lines(chained([*lines, extra]))
    assert not report.ok and report.problems[0].code == "events_after_close"
    assert report.problems[0].version == len(lines) + 1


def test_a_closed_meeting_without_its_results_is_refused() -> None:
    lines = [line for line in finished() if line["type"] != "ResultsAnnounced"]
    for version, line in enumerate(lines, start=1):
        line["version"] = version
    report = verify_lines(chained(lines))
    assert [p.code for p in report.problems] == ["close_without_results"] and report.problems[0].version == len(lines)


def test_a_late_answer_to_a_deferred_question_may_follow_the_close() -> None:
    lines = finished()
    [late] = as_lines([QuestionAnswered(question_id="q1", answer="已书面答复", deferred=False)])
    late["version"] = len(lines) + 1
    report = verify_lines(chained([*lines, late]))
    assert report.ok and report.closed_at == len(lines)


def test_a_head_before_the_close_is_reported_as_prefix_only() -> None:
    lines = chained(finished())
    close_head = json.loads(lines[-1])["hash"]
    ballot_closed = next(json.loads(line)["hash"] for line in lines[1:] if json.loads(line)["type"] == "BallotClosed")
    full: VerifyReport = verify_lines(lines, trusted_heads=[ballot_closed, close_head])
    assert full.ok and not full.prefix_only
    prefix = verify_lines(lines, trusted_heads=[ballot_closed])
    assert prefix.ok and prefix.prefix_only


@pytest.mark.parametrize("cut", ["MeetingClosed", "ResultsAnnounced"])
def test_a_log_cut_before_its_close_does_not_pass_the_published_head(cut: str) -> None:
    lines = finished()
    published = chained(lines)
    head = json.loads(published[-1])["hash"]
    short = lines[: next(i for i, line in enumerate(lines) if line["type"] == cut)]
    report = verify_lines(chained(short), trusted_heads=[head])
    assert not report.ok and report.closed_at is None
    assert [p.code for p in report.problems] == ["trusted_head_missing"]
