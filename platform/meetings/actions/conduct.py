"""Doors of the meeting in the hall: check-in, quorum, opening, reports, comments, questions, closing."""

from __future__ import annotations

import uuid

from accounts.roles import Actor, require
from common.commands import CommandRef
from events.repository import Outcome
from meetings.actions._run import on_meeting
from meetings.domain.aggregate import Meeting
from meetings.streams import now


def check_check_in(*, actor: Actor, meeting_id: str, member_id: str, command_id: CommandRef) -> Outcome[Meeting]:
    """Check in a member of the meeting's roster."""
    require(actor, "check_in")
    return on_meeting(meeting_id, lambda m: m.sign_in(member_id=member_id), actor=actor, command_id=command_id)


def check_check_in_guest(
    *, actor: Actor, meeting_id: str, guest_id: str, name: str, command_id: CommandRef
) -> Outcome[Meeting]:
    """Check in an invited guest (列席), who is not on the roster."""
    require(actor, "check_in_guest")
    return on_meeting(
        meeting_id, lambda m: m.sign_in_guest(guest_id=guest_id, name=name), actor=actor, command_id=command_id
    )


def check_override_quorum(*, actor: Actor, meeting_id: str, reason: str, command_id: CommandRef) -> Outcome[Meeting]:
    """Record the host's decision to go on without quorum, with the reason and who decided."""
    require(actor, "override_quorum")
    return on_meeting(
        meeting_id, lambda m: m.override_quorum(reason=reason, actor=actor.name or "", now=now()),
        actor=actor, command_id=command_id,
    )


def check_open_meeting(*, actor: Actor, meeting_id: str, command_id: CommandRef) -> Outcome[Meeting]:
    require(actor, "open_meeting")
    return on_meeting(meeting_id, lambda m: m.open_meeting(now=now()), actor=actor, command_id=command_id)


def check_start_report(*, actor: Actor, meeting_id: str, subject_id: str, command_id: CommandRef) -> Outcome[Meeting]:
    """Start the next subject's report (the agenda's order)."""
    require(actor, "start_report")
    return on_meeting(
        meeting_id, lambda m: m.start_report(subject_id=subject_id, now=now()), actor=actor, command_id=command_id
    )


def check_end_report(*, actor: Actor, meeting_id: str, subject_id: str, command_id: CommandRef) -> Outcome[Meeting]:
    require(actor, "end_report")
    return on_meeting(
        meeting_id, lambda m: m.end_report(subject_id=subject_id, now=now()), actor=actor, command_id=command_id
    )


def check_record_comment(
    *, actor: Actor, meeting_id: str, subject_id: str, text: str, author: str | None,
    comment_id: str | None = None, command_id: CommandRef,
) -> Outcome[Meeting]:
    """Record a comment (点评) on a subject; no author means anonymous (背对背)."""
    require(actor, "record_comment")
    chosen = comment_id or f"c{uuid.uuid4().hex[:12]}"
    return on_meeting(
        meeting_id,
        lambda m: m.record_comment(comment_id=chosen, subject_id=subject_id, text=text, author=author, now=now()),
        actor=actor, command_id=command_id,
    )


def check_ask_question(
    *, actor: Actor, meeting_id: str, subject_id: str, text: str, asked_by: str | None,
    question_id: str | None = None, command_id: CommandRef,
) -> Outcome[Meeting]:
    """Record a question from the floor (asked by a checked-in attendee, or anonymously)."""
    require(actor, "ask_question")
    chosen = question_id or f"q{uuid.uuid4().hex[:12]}"
    return on_meeting(
        meeting_id,
        lambda m: m.ask_question(question_id=chosen, subject_id=subject_id, text=text, asked_by=asked_by),
        actor=actor, command_id=command_id,
    )


def check_answer_question(
    *, actor: Actor, meeting_id: str, question_id: str, answer: str, command_id: CommandRef
) -> Outcome[Meeting]:
    """Answer a question on the spot."""
    require(actor, "answer_question")
    return on_meeting(
        meeting_id, lambda m: m.answer_question(question_id=question_id, answer=answer),
        actor=actor, command_id=command_id,
    )


def check_defer_question(
    *, actor: Actor, meeting_id: str, question_id: str, promise: str, due_on: str, command_id: CommandRef
) -> Outcome[Meeting]:
    """Promise a later answer (what, and by when: YYYY-MM-DD)."""
    require(actor, "defer_question")
    return on_meeting(
        meeting_id, lambda m: m.defer_question(question_id=question_id, promise=promise, due_on=due_on),
        actor=actor, command_id=command_id,
    )


def check_revoke_screen_links(*, actor: Actor, meeting_id: str, command_id: CommandRef) -> Outcome[Meeting]:
    """Revoke the meeting's hall-screen links: the page and the websocket refuse them from now on."""
    require(actor, "revoke_screen_links")
    return on_meeting(meeting_id, lambda m: m.revoke_screen_links(now=now()), actor=actor, command_id=command_id)


def check_close_meeting(*, actor: Actor, meeting_id: str, command_id: CommandRef) -> Outcome[Meeting]:
    require(actor, "close_meeting")
    return on_meeting(meeting_id, lambda m: m.close_meeting(now=now()), actor=actor, command_id=command_id)
