"""The notices projection rebuilt from the log equals the live one, over random sequences of commands.

Hypothesis draws a sequence of commands (publish or correct, object, answer,
let time pass and sweep, file) on a few meetings' notice streams; each is
decided by the aggregate and appended through the one repository (a refused
command appends nothing and the sequence goes on). After each sequence the
projection is rebuilt from position 0 and must equal the live tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.refusal import Refusal
from events import repository
from followup.notices import MeetingNotices, notices_stream
from followup.periods import end_notice_periods
from projections.runtime import get, rebuild, state_of
from tests.unit.test_notice_domain import MONDAY, published

OPS = st.lists(
    st.tuples(st.sampled_from(["publish", "correct", "object", "answer", "wait", "file"]),
              st.integers(min_value=0, max_value=2), st.integers(min_value=0, max_value=3)),
    min_size=1, max_size=14,
)


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("noticeprop")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        yield made
        connection.close()


class Run:
    def __init__(self) -> None:
        self.meetings = [f"m{uuid.uuid4().hex[:10]}" for _ in range(3)]
        self.now = MONDAY

    def decide(self, meeting: str, decide: Callable[[MeetingNotices], Any]) -> None:
        try:
            repository.execute(notices_stream(meeting), MeetingNotices, decide, command_id=uuid.uuid4(),
                               actor="zuzhibu")
        except Refusal:
            pass  # refused: nothing appended, the sequence goes on

    def step(self, op: str, which: int, pick: int) -> None:
        meeting = self.meetings[which]
        state = repository.load(notices_stream(meeting), MeetingNotices).state
        objections = sorted(state.objections)
        if op in ("publish", "correct"):
            draft = published(f"n{uuid.uuid4().hex[:8]}", at=self.now, days=1 + pick,
                              supersedes=state.current if op == "correct" else None)
            draft = type(draft)(**{**draft.__dict__, "meeting_id": meeting})
            self.decide(meeting, lambda s: s.publish(draft))
        elif op == "object" and state.current:
            current = state.current
            self.decide(meeting, lambda s: s.raise_objection(
                objection_id=f"o{uuid.uuid4().hex[:8]}", notice_id=current, text=f"异议{pick}",
                contact=None if pick % 2 else "电话", now=self.now))
        elif op == "answer" and objections:
            objection = objections[pick % len(objections)]
            self.decide(meeting, lambda s: s.answer_objection(objection_id=objection, answer="答复", by="zuzhibu",
                                                              now=self.now))
        elif op == "wait":
            self.now += timedelta(days=pick + 1, hours=7)
            end_notice_periods(self.now)
        elif op == "file":
            self.decide(meeting, lambda s: s.file(filing_id=f"f{uuid.uuid4().hex[:8]}", by="zuzhibu", now=self.now))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS)
def test_the_rebuilt_notices_equal_the_live_ones(county: Any, ops: list[tuple[str, int, int]]) -> None:
    run = Run()
    for op, which, pick in ops:
        run.step(op, which, pick)
    report = rebuild(get("notices"))
    assert report.identical, (report.only_live, report.only_rebuilt)
    if any(op == "publish" for op, _, _ in ops):
        assert state_of(get("notices"))["proj_notices"]  # the comparison was over rows, not empty tables
