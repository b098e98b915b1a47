"""Time's part in a notice: the sweeper that records NoticePeriodEnded once a period is over.

Run by the job queue through followup.sweeps (and by tests with a `now` of
their choosing). The command id is derived from the notice, so a sweep run
twice, or by two workers at once, records the end once. A period with an
unanswered objection is left open (the door refuses it); the first sweep
after the answer closes it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from accounts.roles import platform_actor
from common.refusal import Refusal
from followup import selectors
from followup.actions.notices import check_end_notice_period
from followup.sweeps import sweeper

SWEEPER = platform_actor("sweeper")
_PERIOD_ENDED = uuid.UUID("5f0c1d52-4a57-4c8e-9a4e-0b6d2f1c7e31")  # the namespace of these command ids


def period_ended_command(notice_id: str) -> uuid.UUID:
    """The one command id that ever records the end of `notice_id`'s period."""
    return uuid.uuid5(_PERIOD_ENDED, notice_id)


@sweeper("notice_periods")
def end_notice_periods(now: datetime) -> int:
    """Record the end of every current notice period that is over at `now`; how many were recorded."""
    recorded = 0
    for due in selectors.periods_due(now):
        try:
            if check_end_notice_period(actor=SWEEPER, meeting_id=due["meeting_id"], notice_id=due["notice_id"],
                                       now=now, command_id=period_ended_command(due["notice_id"])):
                recorded += 1
        except Refusal:
            continue  # objections unanswered: the period stays open until they are
    return recorded
