"""/api/meetings/<id>/...: ballot codes, opening and closing the ballot, paper batches, results."""

from __future__ import annotations

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import allowed
from common.api import command_id, parse
from meetings import codes
from meetings.actions import ballots, paper
from meetings.actions.codes import check_issue_ballot_codes
from meetings.api import serializers as s
from meetings.api.base import IDEMPOTENCY, actor_of, outcome_body
from meetings.domain.rules import category_name_zh
from meetings.streams import meeting


def _ballot_base_url(request: Request, meeting_id: str) -> str:
    return f"{request.scheme}://{request.get_host()}/v/{meeting_id}"


class CodesApi(APIView):
    """Issue ballot codes: the plain codes are in this answer only; the log keeps their hashes."""

    permission_classes = [allowed("issue_ballot_codes")]

    @extend_schema(summary="生成测评码 / issue ballot codes", request=s.CodesIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.CodesIn, request)
        issued = check_issue_ballot_codes(
            actor=actor_of(request), meeting_id=meeting_id, category=data["category"], count=data["count"],
            command_id=command_id(request),
        )
        base = _ballot_base_url(request, meeting_id)
        return Response(outcome_body(
            issued.outcome, category=issued.category, codes=issued.plain,
            urls=[codes.ballot_url(base, c) for c in issued.plain],
        ))


class SlipsIn(serializers.Serializer):
    category = serializers.RegexField(r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)
    count = serializers.IntegerField(min_value=1, max_value=2000)


class CodeSlipsApi(APIView):
    """Issue a batch of codes and answer with the A4 sheet of QR slips to print.

    The plain codes exist only in this page: print it, do not save it. The
    log records the batch (category, count, hashes).
    """

    permission_classes = [allowed("issue_ballot_codes")]

    @extend_schema(
        summary="生成并打印测评码 / issue codes as printable slips", request=SlipsIn,
        responses={(200, "text/html"): str}, parameters=[IDEMPOTENCY],
    )
    def post(self, request: Request, meeting_id: str) -> HttpResponse:
        data = parse(SlipsIn, request)
        issued = check_issue_ballot_codes(
            actor=actor_of(request), meeting_id=meeting_id, category=data["category"], count=data["count"],
            command_id=command_id(request),
        )
        return codes.slip_sheet_response(
            issued.plain, base_url=_ballot_base_url(request, meeting_id), meeting_title=issued.outcome.state.title,
            category_label=category_name_zh(issued.category),
        )


class OpenBallotApi(APIView):
    permission_classes = [allowed("open_ballot")]

    @extend_schema(summary="开始投票 / open ballot", request=s.EmptyIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        parse(s.EmptyIn, request)
        outcome = ballots.check_open_ballot(actor=actor_of(request), meeting_id=meeting_id, command_id=command_id(request))
        return Response(outcome_body(outcome))


class CloseBallotApi(APIView):
    permission_classes = [allowed("close_ballot")]

    @extend_schema(summary="结束投票 / close ballot", request=s.EmptyIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        parse(s.EmptyIn, request)
        outcome = ballots.check_close_ballot(actor=actor_of(request), meeting_id=meeting_id, command_id=command_id(request))
        return Response(outcome_body(outcome))


class AnnounceResultsApi(APIView):
    permission_classes = [allowed("announce_results")]

    @extend_schema(summary="公布结果 / announce results", request=s.EmptyIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        parse(s.EmptyIn, request)
        outcome = ballots.check_announce_results(
            actor=actor_of(request), meeting_id=meeting_id, command_id=command_id(request)
        )
        return Response(outcome_body(outcome))


class PaperBatchApi(APIView):
    permission_classes = [allowed("enter_paper_batch")]

    @extend_schema(summary="录入纸质选票批次 / enter a paper batch", request=s.PaperBatchIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.PaperBatchIn, request)
        outcome = paper.check_enter_paper_batch(
            actor=actor_of(request), meeting_id=meeting_id, batch_no=data["batch_no"], ballots=data["ballots"],
            command_id=command_id(request),
        )
        status = meeting(meeting_id).paper_batch_status(data["batch_no"])
        return Response(outcome_body(outcome, batch_no=data["batch_no"], status=status))


class PaperBatchStatusApi(APIView):
    permission_classes = [allowed("read_paper_batch")]

    @extend_schema(summary="纸质批次核对 / paper batch reconciliation", responses={200: dict})
    def get(self, request: Request, meeting_id: str, batch_no: int) -> Response:
        state = meeting(meeting_id)
        differences = state.paper_batch_differences(batch_no)
        return Response({
            "batch_no": batch_no,
            "status": state.paper_batch_status(batch_no),
            "differences": [{"code_hash": d.code_hash, "entries": d.entries} for d in differences],
        })
