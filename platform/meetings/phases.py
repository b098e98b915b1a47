"""The events that move a meeting to another phase, and to which.

One table for everyone who follows a meeting's phase: the aggregate's `apply`
(meetings.domain.aggregate), the meeting board's read model
(projections.meeting_board) and the live relay, which sends a snapshot that
shows a new phase at once instead of within a screen's coalescing window
(live.relay). A leaf: it imports nothing, so projections can read it without
depending on the meeting domain.
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
