"""A copied meeting state folds on without changing the state it was copied from.

The repository fast-forwards a cached state on a copy (events.repository), and
the copy shares what no fold changes (Meeting.__deepcopy__): if it shared a
container or record that `apply` changes, a request holding the cached state
would see it move under it.
"""

from __future__ import annotations

import copy
from datetime import timedelta

from meeting_given import (
    PARTY_CODES,
    REP_CODES,
    SUBJECTS,
    T0,
    Run,
    events_until,
    marks,
)

from meetings.domain.aggregate import Meeting
from meetings.domain.voting import SealedBallot
from meetings.events import PaperBallot


def _whole_meeting() -> list:
    """A meeting through every kind of change a fold makes: reports, comments, questions, codes, ballots."""
    run = Run(events_until("announced"))
    m = lambda: run.meeting  # noqa: E731
    run.do(m().mark_codes_printed(batch_no=1, now=T0))
    run.do(m().open_meeting(now=T0))
    at = T0
    for n, subject in enumerate(SUBJECTS):
        run.do(m().start_report(subject_id=subject.subject_id, now=at))
        run.do(m().record_comment(comment_id=f"c{n}", subject_id=subject.subject_id, text="讲得实在", author=None,
                                  now=at))
        run.do(m().ask_question(question_id=f"q{n}", subject_id=subject.subject_id, text="路什么时候修？",
                                asked_by=None))
        at += timedelta(minutes=5)
        run.do(m().end_report(subject_id=subject.subject_id, now=at))
    run.do(m().answer_question(question_id="q0", answer="明年五月"))
    run.do(m().defer_question(question_id="q1", promise="会后书面答复", due_on="2026-04-01"))
    run.do(m().open_ballot(now=at))
    paper = [PaperBallot(code_hash=c, marks=marks("hao")) for c in REP_CODES[:2]]
    for teller in ("计票员甲", "计票员乙"):
        run.do(m().enter_paper_batch(batch_no=1, teller=teller, ballots=paper, now=at))
    sealed = [SealedBallot(code_hash=c, marks=marks("jiaohao")) for c in PARTY_CODES[:3]]
    run.do(m().close_ballot(sealed_ballots=sealed, now=at + timedelta(minutes=10)))
    run.do(m().announce_results(now=at + timedelta(minutes=11)))
    run.do(m().close_meeting(now=at + timedelta(minutes=20)))
    return run.log


def test_a_copy_folds_on_and_the_original_stays_where_it_was() -> None:
    log = _whole_meeting()
    for k in range(len(log)):
        original = Meeting.from_events(log[:k])
        clone = copy.deepcopy(original)
        assert clone == original
        for event in log[k:]:
            clone.apply(event)
        assert original == Meeting.from_events(log[:k]), f"folding a copy changed the original at event {k}"
        assert clone == Meeting.from_events(log)


def test_a_copy_shares_the_recorded_ballots_but_not_their_container() -> None:
    meeting = Meeting.from_events(_whole_meeting())
    clone = copy.deepcopy(meeting)
    assert clone.phone_ballots is not meeting.phone_ballots
    assert all(clone.phone_ballots[c] is meeting.phone_ballots[c] for c in meeting.phone_ballots)  # facts: shared
    assert all(clone.questions[q] is not meeting.questions[q] for q in meeting.questions)  # records: copied


def test_the_tally_is_counted_once_across_the_announcement_and_afresh_after_a_paper_batch() -> None:
    """What a state derived carries over an event that changes none of its inputs, and only over such an event."""
    closed = Meeting.from_events(events_until("ballot_closed"))
    tally = closed.compute_results()
    announced = copy.deepcopy(closed)  # as the repository does after a commit: fold the decision's events on a copy
    for event in closed.announce_results(now=T0 + timedelta(hours=2)):
        announced.apply(event)
    assert announced.compute_results() is tally  # the announcement's tally, not a second count
    assert announced.compute_results() == Meeting.from_events([*events_until("results_announced")]).compute_results()
    # A paper batch entered after the close changes the counted ballots: counted again, never the old tally.
    later = copy.deepcopy(closed)
    paper = [PaperBallot(code_hash=c, marks=marks("cha")) for c in REP_CODES[:2]]
    for teller in ("计票员甲", "计票员乙"):
        for event in later.enter_paper_batch(batch_no=1, teller=teller, ballots=paper, now=T0 + timedelta(hours=1)):
            later.apply(event)
    assert later.compute_results() is not tally
    assert later.compute_results().ballots_counted == tally.ballots_counted + 2
    assert closed.compute_results() is tally  # the copies moved on; the state they came from did not
