"""Codes and counts that add up: the code cap, the print list, ballots against attendance."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from meeting_given import (
    PARTY_CODES,
    REP_CODES,
    RULES,
    T0,
    Run,
    code,
    events_until,
    marks,
    meeting_at,
)

from meetings.domain.errors import (
    BallotsExceedAttendance,
    CodeBatchPrinted,
    CodesOverRoster,
    DomainError,
    InvalidCommand,
    RulesInvalid,
    UnknownCodeBatch,
)
from meetings.domain.round import Round
from meetings.domain.voting import SealedBallot
from meetings.events import (
    BallotCodesIssued,
    BallotCodesPrinted,
    CategoryCount,
    CountDiscrepancyAccepted,
    PaperBallot,
)

PRESENT = ["p1", "p2", "p3", "p4", "r1", "r2", "r3"]  # four of five party members, three of four representatives


def codes(prefix: str, n: int) -> list[str]:
    return [code(f"{prefix}{i}") for i in range(n)]


def test_codes_of_a_category_stop_at_its_roster_plus_the_stated_margin() -> None:
    # Five party members on the roster; events_until issued them five codes already.
    run = Run(events_until("announced", present=[]))
    with pytest.raises(CodesOverRoster) as info:
        run.meeting.issue_ballot_codes(category="party_member", code_hashes=codes("x", 1))
    assert info.value.code == "codes_over_roster"
    assert "党员测评码不能超过名册人数加余量" in info.value.message_zh and "最多还能发0个" in info.value.message_zh
    [issued] = run.do(run.meeting.issue_ballot_codes(category="party_member", code_hashes=codes("x", 2), margin=2))
    assert isinstance(issued, BallotCodesIssued) and issued.margin == 2 and issued.count == 2
    with pytest.raises(CodesOverRoster):  # the margin is over the roster, not per batch
        run.meeting.issue_ballot_codes(category="party_member", code_hashes=codes("y", 1), margin=2)
    with pytest.raises(InvalidCommand) as bad:
        run.meeting.issue_ballot_codes(category="party_member", code_hashes=codes("y", 1), margin=-1)
    assert bad.value.code == "invalid_margin"


def test_guests_get_codes_once_they_are_checked_in() -> None:
    run = Run(events_until("announced", present=[]))
    with pytest.raises(CodesOverRoster):
        run.meeting.issue_ballot_codes(category="guest", code_hashes=codes("g", 1))
    run.do(run.meeting.sign_in_guest(guest_id="g1", name="驻村工作队李明"))
    run.do(run.meeting.issue_ballot_codes(category="guest", code_hashes=codes("g", 1)))
    assert run.meeting.may_vote("guest") == 1 and run.meeting.codes_of("guest") == 1


def test_every_batch_stays_on_the_print_list_until_marked_printed() -> None:
    run = Run(events_until("announced"))
    assert [(b.batch_no, b.category, b.count, b.printed) for b in run.meeting.code_batches] == [
        (1, "party_member", 5, False), (2, "representative", 4, False),
    ]
    [printed] = run.do(run.meeting.mark_codes_printed(batch_no=2, now=T0))
    assert printed == BallotCodesPrinted(batch_no=2, at=T0.isoformat())
    assert [b.batch_no for b in run.meeting.unprinted_batches()] == [1]
    with pytest.raises(CodeBatchPrinted):
        run.meeting.mark_codes_printed(batch_no=2, now=T0)
    for missing in (0, 3):
        with pytest.raises(UnknownCodeBatch):
            run.meeting.mark_codes_printed(batch_no=missing, now=T0)


def _closed_with(sealed_codes: list[str]) -> Run:
    sealed = [SealedBallot(code_hash=c, marks=marks("hao")) for c in sealed_codes]
    return Run(events_until("ballot_closed", present=PRESENT, sealed=sealed))


def test_more_ballots_than_people_present_block_the_results_until_a_decision_is_recorded() -> None:
    run = _closed_with(PARTY_CODES)  # five party ballots, four party members present
    assert run.meeting.over_attendance() == [CategoryCount(category="party_member", ballots=5, present=4)]
    with pytest.raises(BallotsExceedAttendance) as info:
        run.meeting.announce_results(now=T0)
    assert info.value.code == "ballots_exceed_attendance"
    assert "党员收回5票，到会4人" in info.value.message_zh
    with pytest.raises(InvalidCommand):
        run.meeting.accept_count_discrepancy(reason="  ", actor="host", now=T0)
    [decision] = run.do(run.meeting.accept_count_discrepancy(reason="核实为一名党员签到遗漏", actor="host-1", now=T0))
    assert decision == CountDiscrepancyAccepted(
        reason="核实为一名党员签到遗漏", actor="host-1",
        categories=[CategoryCount(category="party_member", ballots=5, present=4)], at=T0.isoformat(),
    )
    assert run.meeting.announce_results(now=T0)


def test_a_decision_holds_only_for_the_counts_it_was_taken_on() -> None:
    run = _closed_with(PARTY_CODES)
    run.do(run.meeting.accept_count_discrepancy(reason="签到遗漏一人", actor="host", now=T0))
    # A paper batch entered after the decision adds a fifth representative's ballot (three present).
    paper = [PaperBallot(code_hash=c, marks=marks("hao")) for c in REP_CODES]
    for teller in ("t1", "t2"):
        run.do(run.meeting.enter_paper_batch(batch_no=1, teller=teller, ballots=paper, now=T0 + timedelta(minutes=1)))
    with pytest.raises(BallotsExceedAttendance) as info:
        run.meeting.announce_results(now=T0)
    assert "村民代表收回4票，到会3人" in info.value.message_zh


def test_counts_that_add_up_need_no_decision() -> None:
    run = _closed_with(PARTY_CODES[:4])
    assert run.meeting.over_attendance() == []
    with pytest.raises(InvalidCommand) as info:
        run.meeting.accept_count_discrepancy(reason="无", actor="host", now=T0)
    assert info.value.code == "counts_add_up"
    assert run.meeting.announce_results(now=T0)


def test_the_reveal_policy_live_is_refused_when_rules_are_chosen() -> None:
    live = replace(RULES, reveal="live")
    with pytest.raises(RulesInvalid) as info:
        Round().open(round_id="r1", name="2026年述评", year=2026, rules=live)
    assert info.value.code == "reveal_not_offered" and "实时" in info.value.message_zh
    with pytest.raises(DomainError) as configured:
        meeting_at("scheduled").configure(rules=live, subjects=[], roster=[])
    assert configured.value.code == "reveal_not_offered"
