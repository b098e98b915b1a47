"""The doors of interviews: opened by the rule (the sweeper), recorded and given a plan by the county.

Each door authorizes through the one role policy, lets the aggregate
(followup.interviews) decide, and appends through the one repository; the
inline projection (followup.ledger_projection) moves in the same transaction.
"""

from __future__ import annotations

from datetime import date, datetime

from accounts.roles import Actor, require
from common.commands import CommandRef
from common.limits import require_clean_text
from common.refusal import NotFound, Refusal
from events import repository
from events.repository import Outcome
from followup import interviews_selectors
from followup.interviews import Interview, interview_id_of, interview_stream, open_command_id


def _clean(*values: str) -> None:
    require_clean_text(values)
    if any(len(v) > 10_000 for v in values):
        raise Refusal("输入过长", "a value is too long", code="too_long")


def _announced_on(text: str, fallback: date) -> date:
    try:
        return datetime.fromisoformat(text).date() if text else fallback
    except ValueError:
        return fallback


def check_open_interview(*, actor: Actor, meeting_id: str, subject_id: str, today: date) -> Outcome[Interview]:
    """Open the interview of a subject flagged in announced results (refused for anyone not flagged).

    The command id follows from the meeting and the subject, so opening it
    again (a second sweep, a second worker) records nothing new.
    """
    require(actor, "open_interview")
    _clean(meeting_id, subject_id)
    flagged = interviews_selectors.flagged_subject(meeting_id=meeting_id, subject_id=subject_id)
    if flagged is None:
        raise NotFound("该对象未被结果标记为须诫勉谈话", "the subject is not flagged in announced results",
                       code="not_flagged")
    interview_id = interview_id_of(meeting_id, subject_id)
    return repository.execute(
        interview_stream(interview_id), Interview,
        lambda i: i.open(
            meeting_id=meeting_id, subject_id=subject_id, subject_name=flagged["subject_name"],
            township=flagged["township"], village=flagged["village"],
            unfavourable_percent=flagged["unfavourable_percent"],
            announced_on=_announced_on(flagged["announced_at"], today),
        ),
        command_id=open_command_id(meeting_id, subject_id), actor=actor.name,
    )


def check_hold_interview(
    *, actor: Actor, interview_id: str, kind: str, interviewer: str, held_on: date, record: str,
    command_id: CommandRef,
) -> Outcome[Interview]:
    """Record the interview: its kind (诫勉谈话 or 约谈), who held it, when, and what was said."""
    require(actor, "hold_interview")
    _clean(interview_id, kind, interviewer, record)
    return repository.execute(
        interview_stream(interview_id), Interview,
        lambda i: i.hold(kind=kind, interviewer=interviewer, held_on=held_on, record=record, by=actor.name or ""),
        command_id=command_id, actor=actor.name,
    )


def check_file_rectification_plan(
    *, actor: Actor, interview_id: str, plan: str, deadline: date | None, command_id: CommandRef,
) -> Outcome[Interview]:
    """Record the subject's written rectification plan and its deadline (a plan without one is refused)."""
    require(actor, "file_rectification_plan")
    _clean(interview_id, plan)
    return repository.execute(
        interview_stream(interview_id), Interview,
        lambda i: i.file_plan(plan=plan, deadline=deadline, by=actor.name or ""),
        command_id=command_id, actor=actor.name,
    )
