"""The meeting board: what the hall screen shows at a glance (inline).

Attendance per voter category, questions asked/answered/deferred, ballots
cast. Inline, because the turnout on the hall screen must move in the same
transaction as the check-in or ballot that changed it.
"""

from __future__ import annotations

from events.store import RecordedEvent
from projections.runtime import Cursor, Projection, register

_CATEGORY_COLUMN = {
    "party_member": "party_members_present",
    "representative": "representatives_present",
    "guest": "guests_present",
}


class MeetingBoard(Projection):
    name = "meeting_board"
    inline = True
    tables = ("proj_meeting_board",)
    handles = frozenset(
        {"MeetingScheduled", "AttendeeCheckedIn", "QuestionAsked", "QuestionAnswered", "BallotCast"}
    )

    def apply(self, cursor: Cursor, event: RecordedEvent) -> None:
        data = event.data
        if event.type == "MeetingScheduled":
            cursor.execute(
                """
                INSERT INTO proj_meeting_board (stream_id, meeting_id, title, township, village, version)
                VALUES (%s, %s, %s, %s, %s, %s)
                ON CONFLICT (stream_id) DO UPDATE SET meeting_id = EXCLUDED.meeting_id,
                    title = EXCLUDED.title, township = EXCLUDED.township,
                    village = EXCLUDED.village, version = EXCLUDED.version
                """,
                [event.stream_id, data["meeting_id"], data["title"], data["township"], data["village"], event.stream_version],
            )
            return
        if event.type == "AttendeeCheckedIn":
            column = _CATEGORY_COLUMN.get(data["category"])
            if column is None:
                return
            change = f"{column} = {column} + 1"
        elif event.type == "QuestionAsked":
            change = "questions_asked = questions_asked + 1"
        elif event.type == "QuestionAnswered":
            change = (
                "questions_deferred = questions_deferred + 1"
                if data["deferred"]
                else "questions_answered = questions_answered + 1"
            )
        elif event.type == "BallotCast":
            change = "ballots_cast = ballots_cast + 1"
        else:
            return
        cursor.execute(
            f"UPDATE proj_meeting_board SET {change}, version = %s WHERE stream_id = %s",
            [event.stream_version, event.stream_id],
        )


register(MeetingBoard())
