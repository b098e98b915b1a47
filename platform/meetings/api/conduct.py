"""/api/meetings/<id>/...: the host's and the desk's commands before and during the meeting.

Each view parses its body, calls one door (meetings.actions), and answers
with what the command recorded (meetings.api.base.outcome_body).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import allowed
from common.api import command_id, parse
from meetings.actions import conduct, setup
from meetings.api import serializers as s
from meetings.api.base import IDEMPOTENCY, actor_of, outcome_body


class AnnounceApi(APIView):
    permission_classes = [allowed("announce_meeting")]

    @extend_schema(summary="发布会议公告 / announce", request=s.AnnounceIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.AnnounceIn, request)
        outcome = setup.check_announce_meeting(
            actor=actor_of(request), meeting_id=meeting_id, starts_at=data["starts_at"], place=data["place"],
            agenda=data["agenda"], channels=data["channels"], override_reason=data.get("override_reason"),
            command_id=command_id(request),
        )
        return Response(outcome_body(outcome))


class CheckInApi(APIView):
    permission_classes = [allowed("check_in")]

    @extend_schema(summary="签到 / check in", request=s.CheckInIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.CheckInIn, request)
        outcome = conduct.check_check_in(
            actor=actor_of(request), meeting_id=meeting_id, member_id=data["member_id"], command_id=command_id(request)
        )
        return Response(outcome_body(outcome))


class GuestCheckInApi(APIView):
    permission_classes = [allowed("check_in_guest")]

    @extend_schema(summary="列席人员签到 / check in a guest", request=s.GuestIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.GuestIn, request)
        outcome = conduct.check_check_in_guest(
            actor=actor_of(request), meeting_id=meeting_id, guest_id=data["guest_id"], name=data["name"],
            command_id=command_id(request),
        )
        return Response(outcome_body(outcome))


class QuorumOverrideApi(APIView):
    permission_classes = [allowed("override_quorum")]

    @extend_schema(summary="未达法定人数时准予开始 / override quorum", request=s.ReasonIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.ReasonIn, request)
        outcome = conduct.check_override_quorum(
            actor=actor_of(request), meeting_id=meeting_id, reason=data["reason"], command_id=command_id(request)
        )
        return Response(outcome_body(outcome))


class OpenMeetingApi(APIView):
    permission_classes = [allowed("open_meeting")]

    @extend_schema(summary="开始会议 / open meeting", request=s.EmptyIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        parse(s.EmptyIn, request)
        outcome = conduct.check_open_meeting(actor=actor_of(request), meeting_id=meeting_id, command_id=command_id(request))
        return Response(outcome_body(outcome))


class StartReportApi(APIView):
    permission_classes = [allowed("start_report")]

    @extend_schema(summary="开始述职 / start report", request=s.SubjectRefIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.SubjectRefIn, request)
        outcome = conduct.check_start_report(
            actor=actor_of(request), meeting_id=meeting_id, subject_id=data["subject_id"], command_id=command_id(request)
        )
        return Response(outcome_body(outcome))


class EndReportApi(APIView):
    permission_classes = [allowed("end_report")]

    @extend_schema(summary="结束述职 / end report", request=s.SubjectRefIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.SubjectRefIn, request)
        outcome = conduct.check_end_report(
            actor=actor_of(request), meeting_id=meeting_id, subject_id=data["subject_id"], command_id=command_id(request)
        )
        return Response(outcome_body(outcome))


class CommentApi(APIView):
    permission_classes = [allowed("record_comment")]

    @extend_schema(summary="记录点评 / record comment", request=s.CommentIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.CommentIn, request)
        outcome = conduct.check_record_comment(
            actor=actor_of(request), meeting_id=meeting_id, subject_id=data["subject_id"], text=data["text"],
            author=data.get("author"), comment_id=data.get("comment_id"), command_id=command_id(request),
        )
        return Response(outcome_body(outcome))


class QuestionApi(APIView):
    permission_classes = [allowed("ask_question")]

    @extend_schema(summary="记录提问 / ask question", request=s.QuestionIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.QuestionIn, request)
        outcome = conduct.check_ask_question(
            actor=actor_of(request), meeting_id=meeting_id, subject_id=data["subject_id"], text=data["text"],
            asked_by=data.get("asked_by"), question_id=data.get("question_id"), command_id=command_id(request),
        )
        asked = outcome.events[0] if outcome.events else None
        return Response(outcome_body(outcome, question_id=getattr(asked, "question_id", data.get("question_id"))))


class AnswerApi(APIView):
    permission_classes = [allowed("answer_question")]

    @extend_schema(summary="当场答复 / answer question", request=s.AnswerIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str, question_id: str) -> Response:
        data = parse(s.AnswerIn, request)
        outcome = conduct.check_answer_question(
            actor=actor_of(request), meeting_id=meeting_id, question_id=question_id, answer=data["answer"],
            command_id=command_id(request),
        )
        return Response(outcome_body(outcome))


class DeferApi(APIView):
    permission_classes = [allowed("defer_question")]

    @extend_schema(summary="会后答复（承诺）/ defer answer", request=s.DeferIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str, question_id: str) -> Response:
        data = parse(s.DeferIn, request)
        outcome = conduct.check_defer_question(
            actor=actor_of(request), meeting_id=meeting_id, question_id=question_id, promise=data["promise"],
            due_on=data["due_on"].isoformat(), command_id=command_id(request),
        )
        return Response(outcome_body(outcome))


class CloseMeetingApi(APIView):
    permission_classes = [allowed("close_meeting")]

    @extend_schema(summary="结束会议 / close meeting", request=s.EmptyIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        parse(s.EmptyIn, request)
        outcome = conduct.check_close_meeting(actor=actor_of(request), meeting_id=meeting_id, command_id=command_id(request))
        return Response(outcome_body(outcome))
