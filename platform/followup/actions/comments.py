"""The doors of the comment ledger and of 组织调整: record a comment, drop a suggestion, open an item, flag.

Each door authorizes through the one role policy, lets an aggregate
(followup.comments, followup.adjustments) decide, and appends through the
one repository; the inline projections move in the same transaction.
A suggestion from the public box is appended by the public actor, which has
no name: nothing about the writer is recorded but what they typed.
"""

from __future__ import annotations

from datetime import date

from django.db import connection

from accounts.roles import Actor, require
from common.commands import CommandKey, CommandRef
from common.limits import require_clean_text
from common.refusal import NotFound, Refusal
from events import repository
from events.repository import Outcome
from followup.actions.ledger import check_raise_ledger_item
from followup.adjustments import (
    Adjustment,
    AdjustmentFact,
    adjustment_command_id,
    adjustment_stream,
)
from followup.comments import Comment, comment_stream, item_command_id, new_comment_id
from meetings.models import Village
from meetings.registry.streams import load_official


def _clean(*values: str) -> None:
    require_clean_text(values)
    if any(len(v) > 10_000 for v in values):
        raise Refusal("输入过长", "a value is too long", code="too_long")


def _village(village_id: int | None) -> Village:
    village = Village.objects.select_related("township").filter(pk=village_id).first() if village_id else None
    if village is None:
        raise NotFound("找不到该村（社区）", "no such village", code="unknown_village", details={"field": "village_id"})
    return village


def _record(
    *, actor: Actor, village_id: int | None, mode: str, manner: str, commenter: str, about: str,
    official_id: str | None, on: date, today: date, text: str, contact: str, command_id: CommandRef,
) -> str:
    _clean(mode, manner, commenter, about, official_id or "", text, contact)
    village = _village(village_id)
    if official_id:
        load_official(official_id)  # UnknownOfficial (404) for an id the registry never had
    comment_id = new_comment_id()
    outcome = repository.execute(
        comment_stream(comment_id), Comment,
        lambda c: c.record(comment_id=comment_id, mode=mode, manner=manner, commenter=commenter, about=about,
                           official_id=official_id, township=village.township.name, village=village.name,
                           village_id=village.pk, on=on, today=today, text=text, contact=contact),
        command_id=command_id, actor=actor.name,
    )
    first = outcome.events[0] if outcome.events else None
    return str(getattr(first, "comment_id", comment_id))  # a retried command answers with the comment it recorded


def check_enter_comment(
    *, actor: Actor, village_id: int | None, mode: str, manner: str, commenter: str, about: str,
    official_id: str | None = None, on: date, today: date, text: str, contact: str = "", command_id: CommandRef,
) -> str:
    """Enter a leader's comment (or an anonymous letter) into the comment ledger; returns its id."""
    require(actor, "enter_comment")
    return _record(actor=actor, village_id=village_id, mode=mode, manner=manner, commenter=commenter, about=about,
                   official_id=official_id, on=on, today=today, text=text, contact=contact, command_id=command_id)


def check_drop_suggestion(
    *, actor: Actor, village_id: int | None, text: str, contact: str, today: date, command_id: CommandRef,
) -> str:
    """A villager's suggestion from the village's public box: a back-to-back comment about the village."""
    require(actor, "drop_suggestion")
    village = _village(village_id)
    return _record(actor=actor, village_id=village.pk, mode="box", manner="suggestion_box", commenter="",
                   about=f"{village.name}村（社区）两委", official_id=None, on=today, today=today, text=text,
                   contact=contact, command_id=command_id)


def check_open_item_from_comment(
    *, actor: Actor, comment_id: str, problem: str, note: str, command_id: CommandRef,
) -> str:
    """Open a rectification item from a comment through the ledger's door (source kind "comment"); its id.

    Two appends: the item (the ledger's door, with a command id derived from
    the comment and this command, so a retry raises it once) and, on the
    comment's stream, that the comment led to it.
    """
    require(actor, "raise_ledger_item")
    _clean(comment_id, problem, note)
    with connection.cursor() as cursor:
        cursor.execute("SELECT township, village FROM proj_followup_comments WHERE comment_id = %s", [comment_id])
        row = cursor.fetchone()
    if row is None:
        raise NotFound("找不到该点评", "no such comment", code="unknown_comment")
    key = CommandKey.of(command_id)
    item_id = check_raise_ledger_item(
        actor=actor, meeting_id="", source_kind="comment", source_ref=comment_id, problem=problem, note=note,
        command_id=CommandKey(item_command_id(comment_id, key.id), key.fingerprint), place=(str(row[0]), str(row[1])),
    )
    repository.execute(comment_stream(comment_id), Comment,
                       lambda c: c.lead_to_item(item_id=item_id, by=actor.name or ""),
                       command_id=key, actor=actor.name)
    return item_id


def check_flag_adjustment(
    *, actor: Actor, official_id: str, name: str, year: int, facts: list[AdjustmentFact],
) -> Outcome[Adjustment]:
    """Record that an official is due for 组织调整 in `year`, with the facts (the sweeper's door; once per year)."""
    require(actor, "flag_adjustment")
    _clean(official_id, name)
    return repository.execute(
        adjustment_stream(official_id, year), Adjustment,
        lambda a: a.flag(official_id=official_id, name=name, year=year, facts=facts),
        command_id=adjustment_command_id(official_id, year), actor=actor.name,
    )
