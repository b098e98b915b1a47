"""The doors of a meeting's public notice: publish, raise and answer objections, end the period, file.

Each door authorizes through the one role policy (accounts.roles), bounds
what it was sent, and lets the aggregate (followup.notices) decide on the
meeting's `notices-<meeting id>` stream through the one repository. The
objection door is the public's: it has no account and records neither a
name nor an address.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from accounts.roles import PLATFORM, Actor, require
from common.commands import CommandRef
from common.limits import require_clean_text
from common.refusal import NotFound, Refusal
from events import repository
from events.types import DomainEvent
from followup import selectors
from followup.drafting import notice_draft
from followup.events import NoticePublished, ObjectionRaised
from followup.notices import MeetingNotices, iso, notices_stream
from followup.working_days import period_end

MAX_TITLE = 100
MAX_TEXT = 5000
MAX_OBJECTION = 2000
MAX_CONTACT = 100
MAX_ANSWER = 2000
MAX_ID = 64
MAX_WORKING_DAYS = 30


def _who(actor: Actor) -> str:
    return f"platform:{actor.name or 'platform'}" if actor.role == PLATFORM else actor.name or ""


def _text(value: str, *, limit: int, zh: str, en: str, required: bool = True) -> str:
    """A bounded, clean text: no NUL or lone surrogate, not longer than `limit`, not blank when required."""
    if not isinstance(value, str):
        raise Refusal(f"{zh}格式不正确", f"{en} must be text", code="invalid_input")
    require_clean_text([value])
    value = value.strip()
    if required and not value:
        raise Refusal(f"请填写{zh}", f"{en} is required", code="missing_field")
    if len(value) > limit:
        raise Refusal(f"{zh}过长（最多 {limit} 字）", f"{en} is too long (at most {limit} characters)",
                      code="too_long")
    return value


def _id(value: str) -> str:
    require_clean_text([value])
    if not value or len(value) > MAX_ID:
        raise NotFound("编号不正确", "no such id", code="unknown_id")
    return value


def _run(meeting_id: str, actor: Actor, decide: Callable[[MeetingNotices], Sequence[DomainEvent]],
         command_id: CommandRef) -> list[DomainEvent]:
    return repository.execute(notices_stream(meeting_id), MeetingNotices, decide, command_id=command_id,
                              actor=actor.name).events


def check_publish_notice(
    *, actor: Actor, meeting_id: str, title: str, text: str, working_days: int | None = None,
    supersedes: str | None = None, now: datetime, command_id: CommandRef,
) -> str:
    """Publish the meeting's notice from its draft with the department's wording and period; return its id.

    `working_days` defaults to the round's rule; `supersedes` names the
    current notice when this one corrects it.
    """
    require(actor, "publish_notice")
    _id(meeting_id)
    title = _text(title, limit=MAX_TITLE, zh="公示标题", en="the title")
    text = _text(text, limit=MAX_TEXT, zh="公示正文", en="the text")
    if supersedes is not None:
        supersedes = _id(supersedes)
    draft = notice_draft(meeting_id)
    days = draft.working_days if working_days is None else working_days
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_WORKING_DAYS:
        raise Refusal(f"公示期须为1至{MAX_WORKING_DAYS}个工作日", f"the period must be 1 to {MAX_WORKING_DAYS} working days",
                      code="invalid_notice_period")
    notice_id = f"n{uuid.uuid4().hex[:12]}"
    event = NoticePublished(
        notice_id=notice_id, meeting_id=meeting_id, meeting_title=draft.meeting_title, township=draft.township,
        village=draft.village, title=title, text=text, subjects=draft.subjects,
        flagged_subjects=draft.flagged_subjects, ballots_counted=draft.ballots_counted, eligible=draft.eligible,
        participation_percent=draft.participation_percent, head_hash=draft.head_hash,
        head_version=draft.head_version, working_days=days, period_ends=iso(period_end(now, days)),
        supersedes=supersedes, published_by=_who(actor), at=iso(now),
    )
    events = _run(meeting_id, actor, lambda s: s.publish(event), command_id)
    first = events[0] if events else None
    return first.notice_id if isinstance(first, NoticePublished) else notice_id


def check_raise_objection(
    *, actor: Actor, notice_id: str, text: str, contact: str | None, now: datetime, command_id: CommandRef,
) -> str:
    """A member of the public objects to a notice during its period; return the objection's id."""
    require(actor, "raise_objection")
    notice = selectors.notice(_id(notice_id))
    if notice is None:
        raise NotFound("找不到该公示", "no such notice", code="unknown_notice")
    text = _text(text, limit=MAX_OBJECTION, zh="异议内容", en="the objection")
    contact = _text(contact or "", limit=MAX_CONTACT, zh="联系方式", en="the contact", required=False) or None
    objection_id = f"o{uuid.uuid4().hex[:12]}"
    events = _run(
        notice["meeting_id"], actor,
        lambda s: s.raise_objection(objection_id=objection_id, notice_id=notice_id, text=text, contact=contact,
                                    now=now),
        command_id,
    )
    first = events[0] if events else None
    return first.objection_id if isinstance(first, ObjectionRaised) else objection_id


def check_answer_objection(
    *, actor: Actor, objection_id: str, answer: str, now: datetime, command_id: CommandRef,
) -> None:
    """The county answers an objection (recorded with who and when; shown publicly without the contact)."""
    require(actor, "answer_objection")
    meeting_id = selectors.objection_meeting(_id(objection_id))
    if meeting_id is None:
        raise NotFound("找不到该异议", "no such objection", code="unknown_objection")
    answer = _text(answer, limit=MAX_ANSWER, zh="答复内容", en="the answer")
    _run(meeting_id, actor,
         lambda s: s.answer_objection(objection_id=objection_id, answer=answer, by=_who(actor), now=now), command_id)


def check_end_notice_period(
    *, actor: Actor, meeting_id: str, notice_id: str, now: datetime, command_id: CommandRef,
) -> bool:
    """Record that the notice's period ended (time's door: the sweeper). True when it was recorded now."""
    require(actor, "end_notice_period")
    events = _run(_id(meeting_id), actor, lambda s: s.end_period(notice_id=_id(notice_id), now=now), command_id)
    return bool(events)


def check_file_results(*, actor: Actor, meeting_id: str, now: datetime, command_id: CommandRef) -> str:
    """File the meeting's results with the organization department; return the filing's id."""
    require(actor, "file_results")
    filing_id = f"f{uuid.uuid4().hex[:12]}"
    _run(_id(meeting_id), actor, lambda s: s.file(filing_id=filing_id, by=_who(actor), now=now), command_id)
    return filing_id
