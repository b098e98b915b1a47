"""A meeting's public log: the whole chain, ballots and tallies, with the voters' personal data taken out.

docs/event-log-format.md (section 14) is the specification. In short:

* events that name no voter are published exactly as recorded (`"redacted":
  false`), so the verifier recomputes their hashes; the ballots, the codes'
  hashes, the paper batches and the results are among them;
* events that do (`REDACTED`) are published with `"redacted": true`, their
  stored `hash` and `prev_hash`, their metadata emptied, `recorded_at` cut to
  the hour, and only what the recount needs of their data, with member ids
  replaced by pseudonyms (a keyed hash: the same member has the same
  pseudonym in the roster and at check-in, and no one without the server's
  secret can test a guessed id against it);
* any event type not known here is redacted to an empty object, so a new
  type with personal data cannot leak by default.

A ballot names no voter: it is published as it is, receipt and marks
included (the recount needs them). It was appended at the close with every
other ballot of the meeting, in code-hash order, at one time
(meetings.ballot_box): the log says nothing of when it was cast.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import IO, Any

from django.conf import settings

from events.export import export_stream
from meetings.selectors import meetings_with_receipt
from meetings.streams import load_meeting, meeting_stream

PUBLIC_FORMAT = "shuping-public-log"
PUBLISHED = ("results_announced", "closed")  # a meeting's public log is out once its results are
# Published as recorded: nothing in them names a voter. (Staff accounts in
# `metadata.actor` or `teller` act for the county, not as voters.)
CLEAR = frozenset({
    "MeetingScheduled", "MeetingAnnounced", "MeetingOpened", "QuorumOverrideApproved", "ReportStarted",
    "ReportEnded", "BallotCodesIssued", "BallotCodesPrinted", "BallotOpened", "BallotCast", "PaperBatchEntered",
    "PaperBatchReconciled", "PaperBatchMismatchDetected", "BallotClosed", "CountDiscrepancyAccepted",
    "ResultsAnnounced", "MeetingClosed", "ScreenLinksRevoked", "QuestionAnswered",
})


def _pseudonymizer(county: str, stream_id: str) -> Callable[[str], str]:
    key = hmac.new(str(settings.SECRET_KEY).encode(), b"\x00".join(
        [b"shuping/public-log/v1", county.encode(), stream_id.encode()]), hashlib.sha256).digest()
    return lambda member_id: "x" + hmac.new(key, member_id.encode(), hashlib.sha256).hexdigest()[:20]


def _public_data(kind: str, data: dict[str, Any], pseudonym: Callable[[str], str]) -> dict[str, Any]:
    """What a redacted event keeps: what the recount reads, and nothing that names a voter."""
    if kind == "MeetingConfigured":
        # Sorted by pseudonym: the roster's own order (by name, by member number) would give the names back.
        roster = sorted(({"member_id": pseudonym(m["member_id"]), "category": m["category"]} for m in data["roster"]),
                        key=lambda m: m["member_id"])
        return {"rules": data["rules"], "subjects": data["subjects"], "roster": roster}
    if kind == "AttendeeCheckedIn":
        return {"attendee_id": pseudonym(data["attendee_id"]), "category": data["category"]}
    if kind == "QuestionAsked":  # the question was put to the hall; who asked it is not published
        return {k: data[k] for k in ("question_id", "text", "subject") if k in data}
    if kind == "CommentRecorded":
        return {k: data[k] for k in ("comment_id", "subject_id", "text") if k in data}  # `at` would time the voter
    return {}


def _coarse(recorded_at: str) -> str:
    """`YYYY-MM-DDTHH:MM:SS.ffffffZ` cut to its hour."""
    return recorded_at[:13] + ":00:00.000000Z"


def public_redaction(county: str, stream_id: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The function that turns each exported line of the stream into its public line."""
    pseudonym = _pseudonymizer(county, stream_id)

    def redact(line: dict[str, Any]) -> dict[str, Any]:
        if line["type"] in CLEAR:
            return {**line, "redacted": False}
        return {**line, "data": _public_data(line["type"], line["data"], pseudonym), "metadata": {},
                "recorded_at": _coarse(line["recorded_at"]), "redacted": True}

    return redact


def export_public_log(county: str, meeting_id: str, out: IO[str]) -> dict[str, object]:
    """Write the meeting's public log to `out` (in the current county's schema); return its header."""
    stream = meeting_stream(meeting_id)
    return export_stream(stream, out, log_format=PUBLIC_FORMAT, redact=public_redaction(county, stream))


def published_meeting(meeting_id: str) -> dict[str, Any] | None:
    """Title and head of a meeting whose results were announced; None otherwise (UnknownMeeting if none)."""
    loaded = load_meeting(meeting_id)
    if loaded.state.phase not in PUBLISHED:
        return None
    return {"meeting_id": meeting_id, "title": loaded.state.title, "version": loaded.version, "head": loaded.head}


def receipt_lookup(receipt: str) -> list[dict[str, Any]]:
    """The published meetings whose counted ballots include one with this receipt (normally one, or none).

    Says which meeting, and nothing of the ballot: not its marks, not its
    place among the ballots (see docs/event-log-format.md, section 14). One
    index probe of proj_receipts (meetings.receipts_projection), then the
    state of each meeting found.
    """
    found = []
    for meeting_id in meetings_with_receipt(receipt):
        meeting = published_meeting(meeting_id)
        if meeting is not None:
            found.append(meeting)
    return found
