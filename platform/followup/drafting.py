"""A notice's draft, from the meeting's announced results and the head its hall screen showed at the close.

The draft is not recorded: it is what the publishing form starts from
(followup.pages) and what the door completes with the department's wording
and period (followup.actions.notices). Only the published notice is an event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from common.china_time import CHINA_TIME
from common.refusal import Conflict, NotFound
from events.reading import read_stream
from followup.events import NoticeSubject
from meetings import desks
from meetings.streams import load_meeting, meeting_stream


@dataclass(frozen=True)
class NoticeDraft:
    meeting_id: str
    meeting_title: str
    township: str
    village: str
    title: str
    text: str
    subjects: list[NoticeSubject]
    flagged_subjects: list[str]  # names, as the notice prints them
    ballots_counted: int
    eligible: int
    participation_percent: str
    head_hash: str
    head_version: int
    working_days: int  # the round's rule (Rules.notice_working_days)


def closing_head(meeting_id: str) -> tuple[str, int]:
    """(hash, version) of the meeting's MeetingClosed event: the head the hall screen showed at the close.

    Events after the close (a revocation of screen links) do not move it: the
    notice vouches for the log up to the close, and `log verify --head`
    finds this hash at its version in any later export.
    """
    for event in read_stream(meeting_stream(meeting_id)):
        if event.type == "MeetingClosed":
            return event.hash, event.stream_version
    raise Conflict(
        "会议尚未结束：公示须载明会议结束时大屏显示的日志头哈希，请先结束会议",
        "the meeting is not closed: a notice carries the log's head at the close; close the meeting first",
        code="meeting_not_closed",
    )


def notice_draft(meeting_id: str) -> NoticeDraft:
    """The draft of a closed meeting's notice; a Refusal when there is no meeting or no announced results."""
    board = desks.meeting_notice(meeting_id)
    if board is None:
        raise NotFound("没有这场会议", "no such meeting", code="unknown_meeting")
    meeting = load_meeting(meeting_id).state
    results = meeting.results
    if results is None:
        raise Conflict("会议尚未公布测评结果，不能公示", "the meeting's results are not announced yet",
                       code="results_not_announced")
    head_hash, head_version = closing_head(meeting_id)
    subjects = [
        NoticeSubject(subject_id=s.subject_id, name=s.name, ballots=s.ballots,
                      favourable_percent=s.favourable_percent, unfavourable_percent=s.unfavourable_percent,
                      flagged=s.flagged)
        for s in results.subjects
    ]
    flagged = [s.name for s in subjects if s.flagged]
    village = board["village"] or board["township"]
    text = (
        f"根据述职评议工作安排，{board['township']}{board['village']}于"
        f"{_held_on(meeting.opened_at or meeting.starts_at)}召开述职评议大会，"
        f"应参评 {results.eligible} 人，收回有效票 {results.ballots_counted} 张，参评率 {results.participation_percent}。"
        "现将民主测评结果予以公示。公示期间，如有异议，可在本页提出，或向县委组织部反映。"
    )
    return NoticeDraft(
        meeting_id=meeting_id, meeting_title=meeting.title, township=board["township"], village=board["village"],
        title=f"关于{village}述职评议结果的公示", text=text, subjects=subjects, flagged_subjects=flagged,
        ballots_counted=results.ballots_counted, eligible=results.eligible,
        participation_percent=results.participation_percent, head_hash=head_hash, head_version=head_version,
        working_days=meeting.require_rules().notice_working_days,
    )


def _held_on(moment: datetime | None) -> str:
    """The day a meeting was held, as the county's calendar has it (China Standard Time), in Chinese."""
    if moment is None:
        return ""
    day = moment.astimezone(CHINA_TIME).date()
    return f"{day.year}年{day.month}月{day.day}日"  # as the announcement prints it (Y年n月j日)
