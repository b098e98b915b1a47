"""The sweepers of interviews and the ledger: what time (and announced results) make due.

- "interviews": every subject flagged in announced results without an
  interview gets one, opened through its door with a command id derived from
  the meeting and the subject;
- "ledger_overdue": every measure past its deadline and undone is recorded
  overdue, once.

Both read projections to find what is due and record through the doors, so
a sweep run twice (or by two workers at once) records once.
"""

from __future__ import annotations

from datetime import datetime

from django.db import connection
from django.utils import timezone

from accounts.roles import platform_actor
from followup import interviews_selectors
from followup.actions.interviews import check_open_interview
from followup.actions.ledger import check_mark_measures_overdue
from followup.sweeps import sweeper

SWEEPER = platform_actor("sweeper")


@sweeper("interviews")
def open_due_interviews(now: datetime) -> int:
    today = timezone.localdate(now)
    opened = 0
    for flagged in interviews_selectors.flagged_without_interview():
        outcome = check_open_interview(actor=SWEEPER, meeting_id=flagged["meeting_id"],
                                       subject_id=flagged["subject_id"], today=today)
        opened += 0 if outcome.replayed else 1
    return opened


@sweeper("ledger_overdue")
def record_overdue_measures(now: datetime) -> int:
    today = timezone.localdate(now)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT item_id FROM proj_ledger_measures WHERE status = 'in_progress' AND deadline < %s"
            " ORDER BY item_id",
            [today],
        )
        items = [row[0] for row in cursor.fetchall()]
    recorded = 0
    for item_id in items:
        outcome = check_mark_measures_overdue(actor=SWEEPER, item_id=item_id, today=today)
        recorded += 1 if outcome.events and not outcome.replayed else 0
    return recorded
