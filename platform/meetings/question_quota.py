"""The cap on anonymous questions per ballot code, counted without linking a question to a ballot.

A code may post at most `limit()` questions to a meeting's screen and log
(SHUPING_QUESTIONS_PER_CODE, 3 by default). The count is kept per code in
`meetings_question_quota`, keyed by a slot: an HMAC of the code's hash under
a key derived from the server's secret, per county and meeting, and distinct
from the ballot box's slot key. Whoever holds the database (a backup, the
WAL) sees that some slot asked N questions, and the WAL even shows which
question raised which slot's count; but no slot can be matched to a code
hash, and so to a ballot, without the server's secret. The question events
carry neither the code nor the slot.

The count is taken in the same transaction as the question's append, by one
statement that raises it only below the cap (the database enforces the cap
under concurrency, not a check-then-act); a refused or rolled-back question
takes nothing.
"""

from __future__ import annotations

import hashlib
import hmac

from django.conf import settings
from django.db import connection

from common.county import current_schema

DEFAULT_LIMIT = 3
KEY_DOMAIN = b"shuping/question-quota/v1"


def limit() -> int:
    return int(getattr(settings, "SHUPING_QUESTIONS_PER_CODE", DEFAULT_LIMIT))


def _slot(meeting_id: str, code_hash: str) -> bytes:
    info = b"\x00".join([KEY_DOMAIN, current_schema().encode(), meeting_id.encode()])
    key = hmac.new(str(settings.SECRET_KEY).encode(), info, hashlib.sha256).digest()
    return hmac.new(key, code_hash.encode(), hashlib.sha256).digest()


def take(*, meeting_id: str, code_hash: str) -> bool:
    """Count one more question for the code; False (counting nothing) if it reached the cap.

    Call inside the transaction that appends the question.
    """
    cap = limit()
    if cap <= 0:
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO meetings_question_quota AS q (meeting_id, slot, asked) VALUES (%s, %s, 1)"
            " ON CONFLICT (meeting_id, slot) DO UPDATE SET asked = q.asked + 1 WHERE q.asked < %s"
            " RETURNING asked",
            [meeting_id, _slot(meeting_id, code_hash), cap],
        )
        return cursor.fetchone() is not None
