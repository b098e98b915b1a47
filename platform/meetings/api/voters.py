"""/api/v/<meeting>/...: a voter's endpoints. A ballot code is all a voter needs; no login, no session.

The ballot endpoint is served by meetings.api.lean in front of VoterBallotApi
(wired in meetings.api.urls): the common request shape takes the fast path,
anything else comes here. Both call the same door.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import A_VOTER
from common.api import parse
from meetings import selectors
from meetings.actions.ballots import check_ask_question_anonymously, check_cast_ballot
from meetings.api import serializers as s
from meetings.api.base import outcome_body


class VoterFormApi(APIView):
    permission_classes: list[Any] = []
    authentication_classes: list[Any] = []

    @extend_schema(summary="选票内容 / ballot form for a code", request=s.VoterCodeIn, responses={200: dict})
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.VoterCodeIn, request)
        return Response(selectors.voter_form(meeting_id, data["code"]))


class VoterBallotApi(APIView):
    """Cast a ballot. Served by `meetings.api.lean.fast_path` in front of this view (meetings.api.urls):
    the common request shape takes the fast path, anything else comes here."""

    permission_classes: list[Any] = []
    authentication_classes: list[Any] = []

    @extend_schema(summary="投票 / cast a ballot", request=s.VoterBallotIn, responses={201: dict})
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.VoterBallotIn, request)
        receipt = check_cast_ballot(actor=A_VOTER, meeting_id=meeting_id, code=data["code"], marks=data["marks"])
        return Response(
            {"receipt": receipt.receipt, "repeated": receipt.repeated},
            status=status.HTTP_200_OK if receipt.repeated else status.HTTP_201_CREATED,
        )


class VoterQuestionApi(APIView):
    permission_classes: list[Any] = []
    authentication_classes: list[Any] = []

    @extend_schema(summary="匿名提问 / ask anonymously", request=s.VoterQuestionIn, responses={200: dict})
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.VoterQuestionIn, request)
        question_id, outcome = check_ask_question_anonymously(
            actor=A_VOTER, meeting_id=meeting_id, code=data["code"], subject_id=data["subject_id"], text=data["text"]
        )
        return Response(outcome_body(outcome, question_id=question_id))
