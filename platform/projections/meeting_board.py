"""The meeting board: each meeting at a glance, for the hall screen and the county's lists (inline).

One row per meeting: where it belongs (round, township, village), when and
where it meets, its phase, attendance, questions, codes issued, ballots in the
log, paper ballots reconciled and each paper batch's state, once announced the
results (the ResultsAnnounced payload: per subject and voter category) with
their summary and flagged subjects, and the stream's version and head hash. Inline, because the
turnout on the hall screen must move in the same transaction as the check-in
that changed it, and a page that lists meetings must never show a phase the
log does not have.

Ballots sealed in the box during voting are not events (meetings.ballot_box):
readers add the box's count for meetings whose ballot is open.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from events.records import RecordedEvent
from projections.phases import PHASE_OF_EVENT
from projections.runtime import Cursor, Projection, register

_CATEGORY_COLUMN = {
    "party_member": "party_members_present",
    "representative": "representatives_present",
    "guest": "guests_present",
}
MEETING_EVENTS = frozenset({
    "MeetingScheduled", "MeetingConfigured", "MeetingAnnounced", "AttendeeCheckedIn", "QuorumOverrideApproved",
    "MeetingOpened", "ReportStarted", "ReportEnded", "CommentRecorded", "QuestionAsked", "QuestionAnswered",
    "BallotCodesIssued", "BallotOpened", "BallotCast", "PaperBatchEntered", "PaperBatchReconciled",
    "PaperBatchMismatchDetected", "BallotClosed", "ResultsAnnounced", "MeetingClosed",
    "BallotCodesPrinted", "CountDiscrepancyAccepted",  # change only the version and head
})


class MeetingBoard(Projection):
    name = "meeting_board"
    inline = True
    tables = ("proj_meeting_board",)
    handles = MEETING_EVENTS

    def apply(self, cursor: Cursor, event: RecordedEvent) -> None:
        self.apply_many(cursor, [event])

    def apply_many(self, cursor: Cursor, events: Sequence[RecordedEvent]) -> None:
        """One UPDATE per meeting for a batch's counting events, instead of one per event.

        Most of a meeting's events only move counters (a check-in, a question,
        a ballot), its phase, and its version and head: a run of them folds
        into one statement. Any other event of a meeting first writes what its
        run holds, then its own statement, so every row ends as the events one
        by one would leave it. Rows of different meetings are independent, so
        each meeting keeps its own run while the batch interleaves meetings.
        """
        runs: dict[str, _Run] = {}
        for event in events:
            if event.type not in MEETING_EVENTS:
                continue
            counted = _counted(event.type, event.data)
            if counted is None:
                run = runs.pop(event.stream_id, None)
                if run is not None:
                    run.write(cursor)
                _write_one(cursor, event)
                continue
            run = runs.get(event.stream_id)
            if run is None:
                run = runs[event.stream_id] = _Run(event.stream_id)
            run.add(event, *counted)
        for run in runs.values():
            run.write(cursor)


class _Run:
    """Counting events of one meeting not yet written: their sums, the last phase, version and head."""

    def __init__(self, stream_id: str) -> None:
        self.stream_id = stream_id
        self.phase: str | None = None
        self.sums: dict[str, int] = {}
        self.last: RecordedEvent | None = None

    def add(self, event: RecordedEvent, phase: str | None, increments: dict[str, int]) -> None:
        if phase is not None:
            self.phase = phase
        for column, amount in increments.items():
            self.sums[column] = self.sums.get(column, 0) + amount
        self.last = event

    def write(self, cursor: Cursor) -> None:
        last = self.last
        assert last is not None
        changes: list[str] = []
        params: list[Any] = []
        if self.phase is not None:
            changes.append("phase = %s")
            params.append(self.phase)
        for column, amount in self.sums.items():
            changes.append(f"{column} = {column} + %s")
            params.append(amount)
        sets = "".join(f"{change}, " for change in changes)
        cursor.execute(
            f"UPDATE proj_meeting_board SET {sets}version = %s, head_hash = %s, last_event_at = %s"
            " WHERE stream_id = %s",
            [*params, last.stream_version, last.hash, last.recorded_at, self.stream_id],
        )


# Events that only move their version and head.
_VERSION_ONLY = frozenset({"ReportStarted", "ReportEnded", "CommentRecorded", "QuorumOverrideApproved",
                           "BallotCodesPrinted", "CountDiscrepancyAccepted"})
_PHASE_ONLY = frozenset({"MeetingOpened", "BallotOpened", "BallotClosed", "MeetingClosed"})


def _counted(event_type: str, data: dict[str, Any]) -> tuple[str | None, dict[str, int]] | None:
    """(new phase or None, counter increments) of an event that changes nothing else; None for any other."""
    if event_type == "BallotCast":
        return None, {"ballots_cast": 1}
    if event_type in _VERSION_ONLY:
        return None, {}
    if event_type in _PHASE_ONLY:
        return PHASE_OF_EVENT[event_type], {}
    if event_type == "AttendeeCheckedIn":
        if data["category"] == "guest":
            return None  # whether a guest adds an eligible voter depends on the row (grading_guests, roster_guests)
        column = _CATEGORY_COLUMN.get(data["category"])
        return None, {"present_total": 1, **({column: 1} if column is not None else {})}
    if event_type == "QuestionAsked":
        return None, {"questions_asked": 1}
    if event_type == "QuestionAnswered":
        return None, {"questions_deferred" if data["deferred"] else "questions_answered": 1}
    if event_type == "BallotCodesIssued":
        return None, {"codes_issued": int(data["count"])}
    return None


def _write_one(cursor: Cursor, event: RecordedEvent) -> None:
    """The statement of an event that is not only counting: the meeting's insert, or an UPDATE of its own."""
    data = event.data
    if event.type == "MeetingScheduled":
        cursor.execute(
            """
            INSERT INTO proj_meeting_board (stream_id, meeting_id, title, township, village, round_id,
                                            starts_at, place, version, head_hash, last_event_at, host)
            VALUES (%s, %s, %s, %s, %s, %s, %s::timestamptz, %s, %s, %s, %s, %s)
            ON CONFLICT (stream_id) DO UPDATE SET meeting_id = EXCLUDED.meeting_id,
                title = EXCLUDED.title, township = EXCLUDED.township, village = EXCLUDED.village,
                round_id = EXCLUDED.round_id, starts_at = EXCLUDED.starts_at, place = EXCLUDED.place,
                version = EXCLUDED.version, head_hash = EXCLUDED.head_hash,
                last_event_at = EXCLUDED.last_event_at, host = EXCLUDED.host
            """,
            [event.stream_id, data["meeting_id"], data["title"], data["township"], data["village"],
             data.get("round_id"), data["starts_at"], data["place"], event.stream_version, event.hash,
             event.recorded_at, data.get("host")],
        )
        return
    changes, params = _changes(event.type, data)
    sets = "".join(f"{change}, " for change in changes)
    cursor.execute(
        f"UPDATE proj_meeting_board SET {sets}version = %s, head_hash = %s, last_event_at = %s"
        " WHERE stream_id = %s",
        [*params, event.stream_version, event.hash, event.recorded_at, event.stream_id],
    )


def _changes(event_type: str, data: dict[str, Any]) -> tuple[list[str], list[Any]]:
    """The columns an event that is not only counting changes (SQL with placeholders) and their parameters."""
    changes: list[str] = []
    params: list[Any] = []
    phase = PHASE_OF_EVENT.get(event_type)
    if phase is not None:
        changes.append("phase = %s")
        params.append(phase)
    if event_type == "MeetingConfigured":
        # Eligible voters (the participation rate's denominator, meetings.domain.voting.eligible_voters):
        # the roster members of the grading categories now, guests off the roster as they check in.
        grading = {category for categories in data["rules"]["graders"].values() for category in categories}
        roster = data["roster"]
        changes += ["subjects = %s", "eligible = %s", "grading_guests = %s", "roster_guests = %s::jsonb"]
        params += [len(data["subjects"]), sum(1 for entry in roster if entry["category"] in grading),
                   "guest" in grading, json.dumps([e["member_id"] for e in roster if e["category"] == "guest"])]
    elif event_type == "MeetingAnnounced":
        changes += ["starts_at = %s::timestamptz", "place = %s"]
        params += [data["starts_at"], data["place"]]
    elif event_type == "AttendeeCheckedIn":  # a guest's (_counted takes the others)
        changes.append("present_total = present_total + 1")
        column = _CATEGORY_COLUMN.get(data["category"])
        if column is not None:
            changes.append(f"{column} = {column} + 1")
        if data["category"] == "guest":
            # Only a guest can be off the roster (meetings.domain.aggregate sign_in_guest).
            changes.append("eligible = eligible + CASE WHEN grading_guests AND NOT roster_guests ? %s THEN 1 ELSE 0 END")
            params.append(data["attendee_id"])
    elif event_type == "PaperBatchEntered":
        # {"<batch no>": {"status": pending|reconciled|mismatch, "tellers": {"<name>": true}}}; an
        # entry makes its batch pending until the Reconciled or MismatchDetected appended with it.
        batch = str(int(data["batch_no"]))
        changes.append(
            "paper_batches = paper_batches || jsonb_build_object(%s::text, jsonb_build_object('status', 'pending',"
            " 'tellers', COALESCE(paper_batches -> %s::text -> 'tellers', '{}'::jsonb)"
            " || jsonb_build_object(%s::text, true)))"
        )
        params += [batch, batch, data["teller"]]
    elif event_type in ("PaperBatchReconciled", "PaperBatchMismatchDetected"):
        batch = str(int(data["batch_no"]))
        status = "reconciled" if event_type == "PaperBatchReconciled" else "mismatch"
        changes.append(
            "paper_batches = paper_batches || jsonb_build_object(%s::text,"
            " (paper_batches -> %s::text) || jsonb_build_object('status', %s::text))"
        )
        params += [batch, batch, status]
        if event_type == "PaperBatchReconciled":
            changes.append("paper_ballots = paper_ballots + %s")
            params.append(int(data["ballot_count"]))
    elif event_type == "ResultsAnnounced":
        flagged = [{"subject_id": s["subject_id"], "name": s["name"]} for s in data["subjects"] if s["flagged"]]
        changes += ["ballots_counted = %s", "participation = %s", "flagged = %s::jsonb", "results = %s::jsonb"]
        params += [int(data["ballots_counted"]), data["participation_percent"], json.dumps(flagged, ensure_ascii=False),
                   json.dumps(data, ensure_ascii=False)]
    return changes, params


register(MeetingBoard())
