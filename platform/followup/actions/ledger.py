"""The doors of the rectification ledger: raise an item, add a measure, complete it, mark overdue, review.

Each door authorizes through the one role policy, lets the aggregate
(followup.ledger) decide, and appends through the one repository; the
inline projection moves in the same transaction. Evidence files are checked
by their content and size before anything is decided, and written to the
county's folder only once the aggregate has accepted the completion: a
refused upload leaves neither an event nor a file.
"""

from __future__ import annotations

from datetime import date

from django.db import connection

from accounts.roles import Actor, require
from common.commands import CommandRef
from common.limits import require_clean_text
from common.refusal import NotFound, Refusal
from events import repository
from events.repository import Outcome
from events.types import DomainEvent
from followup import ledger_files
from followup.ledger import (
    RULE_SOURCE_KINDS,
    LedgerItem,
    ledger_stream,
    new_item_id,
    overdue_command_id,
)
from followup.ledger_files import Upload


def _clean(*values: str) -> None:
    require_clean_text(values)
    if any(len(v) > 10_000 for v in values):
        raise Refusal("输入过长", "a value is too long", code="too_long")


def _place_of(meeting_id: str) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT township, village FROM proj_meeting_board WHERE meeting_id = %s", [meeting_id])
        row = cursor.fetchone()
    if row is None:
        raise NotFound("找不到该会议", "no such meeting", code="unknown_meeting", details={"field": "meeting_id"})
    return str(row[0]), str(row[1])


def check_raise_ledger_item(
    *, actor: Actor, meeting_id: str, source_kind: str, source_ref: str, problem: str, note: str,
    command_id: CommandRef, place: tuple[str, str] | None = None,
) -> str:
    """Enter a problem raised at or after a meeting into the ledger; returns the item's id.

    A problem raised outside a meeting (a comment from a village's suggestion
    box) gives no meeting id and its `place` (township, village) instead.
    """
    require(actor, "raise_ledger_item")
    _clean(meeting_id, source_kind, source_ref, problem, note)
    if source_kind in RULE_SOURCE_KINDS:
        raise Refusal("软弱涣散村党组织由打分排队规则认定后自动登记，不能手工登记", "this source is raised by its rule only",
                      code="source_by_rule_only", details={"field": "source_kind"})
    township, village = place if place is not None and not meeting_id else _place_of(meeting_id)
    item_id = new_item_id()
    outcome = repository.execute(
        ledger_stream(item_id), LedgerItem,
        lambda item: item.raise_item(
            item_id=item_id, source_kind=source_kind, source_ref=source_ref, meeting_id=meeting_id,
            township=township, village=village, problem=problem, note=note, by=actor.name or "",
        ),
        command_id=command_id, actor=actor.name,
    )
    first = outcome.events[0] if outcome.events else None
    return str(getattr(first, "item_id", item_id))  # a retried command answers with the item it raised


def check_raise_place_item(
    *, actor: Actor, township: str, village: str, source_kind: str, source_ref: str, problem: str, note: str,
    command_id: CommandRef,
) -> str:
    """Enter a problem that no meeting raised (a 软弱涣散 listing) for a village; returns the item's id.

    A retried command (the rule's derived command id) answers with the item it raised the first time.
    """
    require(actor, "raise_ledger_item")
    _clean(township, village, source_kind, source_ref, problem, note)
    item_id = new_item_id()
    outcome = repository.execute(
        ledger_stream(item_id), LedgerItem,
        lambda item: item.raise_item(
            item_id=item_id, source_kind=source_kind, source_ref=source_ref, meeting_id="", township=township,
            village=village, problem=problem, note=note, by=actor.name or "",
        ),
        command_id=command_id, actor=actor.name,
    )
    first = outcome.events[0] if outcome.events else None
    return str(getattr(first, "item_id", item_id))


def check_add_measure(
    *, actor: Actor, item_id: str, text: str, owner: str, deadline: date | None, today: date, command_id: CommandRef,
) -> Outcome[LedgerItem]:
    """Add a measure (措施) with its owner and deadline; a measure without a deadline is refused."""
    require(actor, "add_measure")
    _clean(item_id, text, owner)
    return repository.execute(
        ledger_stream(item_id), LedgerItem,
        lambda item: item.add_measure(text=text, owner=owner, deadline=deadline, today=today),
        command_id=command_id, actor=actor.name,
    )


def check_complete_measure(
    *, actor: Actor, item_id: str, measure_no: int, evidence: str, uploads: list[Upload], today: date,
    command_id: CommandRef,
) -> Outcome[LedgerItem]:
    """Complete a measure with its evidence (text, photos or PDFs checked by content and size)."""
    require(actor, "complete_measure")
    _clean(item_id, evidence, *(u.name for u in uploads))
    checked = ledger_files.inspect(uploads)

    def decide(item: LedgerItem) -> list[DomainEvent]:
        events = item.complete_measure(measure_no=measure_no, evidence=evidence, files=[f for f, _ in checked],
                                       on=today, by=actor.name or "")
        ledger_files.store(checked)
        return events

    return repository.execute(ledger_stream(item_id), LedgerItem, decide, command_id=command_id, actor=actor.name)


def check_mark_measures_overdue(*, actor: Actor, item_id: str, today: date) -> Outcome[LedgerItem]:
    """Record every measure of the item past its deadline and undone (the sweeper's door; idempotent).

    The command id follows from the item and the newest measure it would
    mark, so the same sweep run twice records once; an item with nothing
    newly overdue appends nothing.
    """
    require(actor, "mark_measures_overdue")
    _clean(item_id)
    loaded = repository.load(ledger_stream(item_id), LedgerItem)
    pending = loaded.state.mark_overdue(today=today)
    if not pending:
        return Outcome([], None, loaded.state)
    last = max(getattr(e, "measure_no", 0) for e in pending)
    return repository.execute(
        ledger_stream(item_id), LedgerItem, lambda item: item.mark_overdue(today=today),
        command_id=overdue_command_id(item_id, last), actor=actor.name,
    )


def check_review_ledger_item(
    *, actor: Actor, item_id: str, passed: bool, note: str, command_id: CommandRef,
) -> Outcome[LedgerItem]:
    """The closure review (销号审核): passed closes the item; not passed keeps it open, with the reason."""
    require(actor, "review_ledger_item")
    _clean(item_id, note)
    return repository.execute(
        ledger_stream(item_id), LedgerItem, lambda item: item.review(passed=passed, note=note, by=actor.name or ""),
        command_id=command_id, actor=actor.name,
    )
