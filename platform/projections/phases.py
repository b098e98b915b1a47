"""The events that move a meeting to another phase, and to which.

One table for those who follow a meeting's phase from its events: the meeting
board's read model (projections.meeting_board) and the live relay, which sends
a snapshot that shows a new phase at once instead of within a screen's
coalescing window (live.relay). A test holds it equal to what the aggregate's
`apply` does (meetings.domain.aggregate). A leaf among the projections: the
meeting domain sits above them, so the table lives here, not there.
"""

from __future__ import annotations

__all__ = ["PHASE_OF_EVENT"]

PHASE_OF_EVENT: dict[str, str] = {
    "MeetingScheduled": "scheduled",
    "MeetingAnnounced": "announced",
    "MeetingOpened": "opened",
    "BallotOpened": "ballot_open",
    "BallotClosed": "ballot_closed",
    "ResultsAnnounced": "results_announced",
    "MeetingClosed": "closed",
}
