"""/api/meetings/: the county's meetings, scheduling one, one meeting's state, results and log."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import allowed
from common.api import command_id, parse
from common.refusal import Conflict
from events.export import export_stream
from meetings import selectors
from meetings.actions.setup import check_schedule_meeting
from meetings.api import serializers as s
from meetings.api.base import IDEMPOTENCY, actor_of, outcome_body
from meetings.streams import load_meeting, meeting_stream


class MeetingsApi(APIView):
    permission_classes = [allowed("read")]

    def get_permissions(self) -> list:  # type: ignore[type-arg]
        return [allowed("schedule_meeting")()] if self.request.method == "POST" else super().get_permissions()

    # Its own operationId: drf-spectacular names both GETs "meetings_retrieve" and warns (check --deploy).
    @extend_schema(summary="会议列表 / meetings", operation_id="meetings_list", responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response({"meetings": selectors.meetings_list()})

    @extend_schema(summary="安排会议 / schedule a meeting", request=s.MeetingIn, responses={201: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request) -> Response:
        data = parse(s.MeetingIn, request)
        scheduled = check_schedule_meeting(
            actor=actor_of(request), round_id=data["round_id"], meeting_id=data.get("meeting_id"),
            title=data["title"], township=data["township"], village=data["village"], starts_at=data["starts_at"],
            place=data["place"], subjects=data["subjects"], roster=data.get("roster") or [],
            village_id=data.get("village_id"), host=data.get("host"), command_id=command_id(request),
        )
        return Response(
            outcome_body(scheduled.outcome, meeting_id=scheduled.meeting_id), status=status.HTTP_201_CREATED
        )


class MeetingApi(APIView):
    permission_classes = [allowed("read")]

    @extend_schema(summary="会议状态 / meeting state", responses={200: dict})
    def get(self, request: Request, meeting_id: str) -> Response:
        return Response(selectors.meeting_detail(meeting_id))


class ResultsApi(APIView):
    permission_classes = [allowed("read")]

    @extend_schema(summary="测评结果 / results", responses={200: dict})
    def get(self, request: Request, meeting_id: str) -> Response:
        loaded = load_meeting(meeting_id)
        if loaded.state.phase not in ("results_announced", "closed"):
            raise Conflict("结果尚未公布", "results are not announced yet", code="results_not_announced")
        return Response(selectors.results_body(loaded))


class LogApi(APIView):
    permission_classes = [allowed("export_log")]

    @extend_schema(summary="导出会议日志（JSONL）/ export the meeting log", responses={200: str})
    def get(self, request: Request, meeting_id: str) -> HttpResponse:
        load_meeting(meeting_id)
        response = HttpResponse(content_type="application/x-ndjson; charset=utf-8")
        export_stream(meeting_stream(meeting_id), response)  # type: ignore[arg-type]
        response["Content-Disposition"] = f'attachment; filename="meeting-{meeting_id}.jsonl"'
        return response
