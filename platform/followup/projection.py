"""The notices projection (inline): published notices, objections with their answers, filings.

What the public pages (/gongshi/), the county's notice desk and the sweeper
of notice periods read, through followup.selectors. Inline, so a notice or
an answer is on the public page the moment its command returns. Times come
from the events' own data, so a rebuild writes the very same rows.
"""

from __future__ import annotations

import json

from events.records import RecordedEvent
from followup.notices import STREAM_PREFIX
from projections.runtime import Cursor, Projection, register


def _meeting_of(event: RecordedEvent) -> str:
    return event.stream_id.removeprefix(STREAM_PREFIX)


class Notices(Projection):
    name = "notices"
    inline = True
    tables = ("proj_notices", "proj_objections", "proj_filings")
    handles = frozenset({"NoticePublished", "ObjectionRaised", "ObjectionAnswered", "NoticePeriodEnded",
                         "ResultsFiled"})

    def apply(self, cursor: Cursor, event: RecordedEvent) -> None:
        d = event.data
        if event.type == "NoticePublished":
            cursor.execute(
                "INSERT INTO proj_notices (notice_id, meeting_id, meeting_title, township, village, title, body,"
                " subjects, flagged_subjects, ballots_counted, eligible, participation_percent, head_hash,"
                " head_version, working_days, published_by, published_at, period_ends, supersedes)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [d["notice_id"], d["meeting_id"], d["meeting_title"], d["township"], d["village"], d["title"],
                 d["text"], json.dumps(d["subjects"], ensure_ascii=False, sort_keys=True),
                 json.dumps(d["flagged_subjects"], ensure_ascii=False), d["ballots_counted"], d["eligible"],
                 d["participation_percent"], d["head_hash"], d["head_version"], d["working_days"],
                 d["published_by"], d["at"], d["period_ends"], d["supersedes"]],
            )
            if d["supersedes"]:
                cursor.execute("UPDATE proj_notices SET superseded_by = %s WHERE notice_id = %s",
                               [d["notice_id"], d["supersedes"]])
        elif event.type == "ObjectionRaised":
            cursor.execute(
                "INSERT INTO proj_objections (objection_id, notice_id, meeting_id, body, contact, raised_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                [d["objection_id"], d["notice_id"], _meeting_of(event), d["text"], d["contact"], d["at"]],
            )
        elif event.type == "ObjectionAnswered":
            cursor.execute(
                "UPDATE proj_objections SET answer = %s, answered_by = %s, answered_at = %s WHERE objection_id = %s",
                [d["answer"], d["answered_by"], d["at"], d["objection_id"]],
            )
        elif event.type == "NoticePeriodEnded":
            cursor.execute("UPDATE proj_notices SET ended_at = %s WHERE notice_id = %s", [d["at"], d["notice_id"]])
        elif event.type == "ResultsFiled":
            cursor.execute(
                "INSERT INTO proj_filings (meeting_id, filing_id, notice_id, head_hash, filed_by, filed_at)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                [_meeting_of(event), d["filing_id"], d["notice_id"], d["head_hash"], d["filed_by"], d["at"]],
            )


register(Notices())
