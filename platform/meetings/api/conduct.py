"""/api/meetings/<id>/...: the host's and the desk's commands before and during the meeting.

Each view names one door (meetings.actions) in `run`; parsing, the role
check and the answer are MeetingCommandApi's (meetings.api.base).
"""

from __future__ import annotations

from typing import Any

from events.repository import Outcome
from meetings.actions import conduct, setup
from meetings.api import serializers as s
from meetings.api.base import MeetingCommandApi, command


@command("发布会议公告 / announce", s.AnnounceIn, action="announce_meeting")
class AnnounceApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return setup.check_announce_meeting(
            starts_at=data["starts_at"], place=data["place"], agenda=data["agenda"], channels=data["channels"],
            override_reason=data.get("override_reason"), **door,
        )


@command("签到 / check in", s.CheckInIn, action="check_in")
class CheckInApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return conduct.check_check_in(member_id=data["member_id"], **door)


@command("列席人员签到 / check in a guest", s.GuestIn, action="check_in_guest")
class GuestCheckInApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return conduct.check_check_in_guest(guest_id=data["guest_id"], name=data["name"], **door)


@command("未达法定人数时准予开始 / override quorum", s.ReasonIn, action="override_quorum")
class QuorumOverrideApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return conduct.check_override_quorum(reason=data["reason"], **door)


@command("开始会议 / open meeting", s.EmptyIn, action="open_meeting")
class OpenMeetingApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return conduct.check_open_meeting(**door)


@command("作废大屏链接 / revoke hall-screen links", s.EmptyIn, action="revoke_screen_links")
class RevokeScreenLinksApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return conduct.check_revoke_screen_links(**door)


@command("开始述职 / start report", s.SubjectRefIn, action="start_report")
class StartReportApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return conduct.check_start_report(subject_id=data["subject_id"], **door)


@command("结束述职 / end report", s.SubjectRefIn, action="end_report")
class EndReportApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return conduct.check_end_report(subject_id=data["subject_id"], **door)


@command("记录点评 / record comment", s.CommentIn, action="record_comment")
class CommentApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return conduct.check_record_comment(
            subject_id=data["subject_id"], text=data["text"], author=data.get("author"),
            comment_id=data.get("comment_id"), **door,
        )


@command("记录提问 / ask question", s.QuestionIn, action="ask_question")
class QuestionApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return conduct.check_ask_question(
            subject_id=data["subject_id"], text=data["text"], asked_by=data.get("asked_by"),
            question_id=data.get("question_id"), **door,
        )

    def extra(self, outcome: Outcome[Any], data: dict[str, Any], *, meeting_id: str) -> dict[str, Any]:
        asked = outcome.events[0] if outcome.events else None
        return {"question_id": getattr(asked, "question_id", data.get("question_id"))}


@command("当场答复 / answer question", s.AnswerIn, action="answer_question")
class AnswerApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return conduct.check_answer_question(answer=data["answer"], **door)


@command("会后答复（承诺）/ defer answer", s.DeferIn, action="defer_question")
class DeferApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return conduct.check_defer_question(promise=data["promise"], due_on=data["due_on"].isoformat(), **door)


@command("结束会议 / close meeting", s.EmptyIn, action="close_meeting")
class CloseMeetingApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return conduct.check_close_meeting(**door)
