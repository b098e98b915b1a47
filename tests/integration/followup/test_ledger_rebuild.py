"""Property: whatever sequence of commands the doors take, the interviews and ledger rebuild equal to live.

Hypothesis draws sequences of commands (raise an item, add a measure with
or without a deadline, complete one with or without evidence, a sweep at
some later day, a closure review, an interview held or given a plan),
refusals included; after each sequence both projections are rebuilt from
the log and must equal what was projected live.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from common.refusal import Refusal
from followup import interviews_selectors
from followup.actions import interviews as interview_doors
from followup.actions import ledger as doors
from followup.ledger_files import Upload
from followup.sweeps import run_sweepers
from projections.runtime import get, rebuild, state_of
from tests.integration.followup.meeting_with_results import ADMIN, announced_meeting, cid

TODAY = date(2026, 12, 2)


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any, tmp_path_factory: Any) -> Iterator[Any]:
    from django.conf import settings as django_settings

    made = make_county("ledgerprop")
    old = django_settings.EVIDENCE_ROOT
    django_settings.EVIDENCE_ROOT = Path(tmp_path_factory.mktemp("evidence"))
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        meeting = announced_meeting()
        run_sweepers(datetime(2026, 12, 2, tzinfo=UTC))
        yield made, meeting
        connection.close()
    django_settings.EVIDENCE_ROOT = old


def tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), "white").save(out, format="PNG")
    return out.getvalue()


COMMANDS = st.lists(
    st.tuples(
        st.sampled_from(["raise", "measure", "measure_no_deadline", "complete", "complete_photo", "sweep", "review",
                         "review_fail", "hold", "plan"]),
        st.integers(min_value=0, max_value=3),  # which item / measure
        st.integers(min_value=-3, max_value=40),  # a day offset
    ),
    min_size=1, max_size=12,
)


def run(command: tuple[str, int, int], items: list[str], meeting: str) -> None:
    op, which, days = command
    item = items[which % len(items)] if items else "zg_none"
    when = TODAY + timedelta(days=days)
    if op == "raise":
        items.append(doors.check_raise_ledger_item(actor=ADMIN, meeting_id=meeting, source_kind="comment",
                                                   source_ref=f"c{which}", problem=f"问题{days}", note="内部",
                                                   command_id=cid()))
    elif op in ("measure", "measure_no_deadline"):
        doors.check_add_measure(actor=ADMIN, item_id=item, text="措施", owner="王建国",
                                deadline=when if op == "measure" else None, today=TODAY, command_id=cid())
    elif op in ("complete", "complete_photo"):
        uploads = [Upload("p.png", tiny_png())] if op == "complete_photo" else []
        doors.check_complete_measure(actor=ADMIN, item_id=item, measure_no=which + 1, evidence="已完成",
                                     uploads=uploads, today=TODAY, command_id=cid())
    elif op == "sweep":
        run_sweepers(datetime.combine(when, datetime.min.time(), tzinfo=UTC))
    elif op in ("review", "review_fail"):
        doors.check_review_ledger_item(actor=ADMIN, item_id=item, passed=op == "review",
                                       note="" if op == "review" else "佐证不足", command_id=cid())
    else:
        opened = [i for i in interviews_selectors.interviews_list(today=TODAY) if i["meeting_id"] == meeting]
        iid = opened[0]["interview_id"]
        if op == "hold":
            interview_doors.check_hold_interview(actor=ADMIN, interview_id=iid, kind="admonishment", interviewer="张",
                                                 held_on=when, record="记录", command_id=cid())
        else:
            interview_doors.check_file_rectification_plan(actor=ADMIN, interview_id=iid, plan="方案", deadline=when,
                                                          command_id=cid())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=COMMANDS)
def test_any_sequence_of_commands_rebuilds_equal_to_live(county: Any, commands: list[tuple[str, int, int]]) -> None:
    _, meeting = county
    items: list[str] = []
    for command in commands:
        try:
            run(command, items, meeting)
        except Refusal:
            pass  # refused commands are part of the property: they must leave nothing behind
    for name in ("followup_interviews", "ledger"):
        projection = get(name)
        live = state_of(projection)
        report = rebuild(projection)
        assert report.identical, (name, commands, report.only_live, report.only_rebuilt)
        assert state_of(projection) == live
