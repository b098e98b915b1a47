"""/api/meetings/<id>/...: ballot codes, opening and closing the ballot, paper batches, results."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import allowed
from common.api import command_id, parse
from common.county import current_schema
from events.repository import Outcome
from meetings import codes
from meetings.actions import ballots, paper
from meetings.actions.codes import check_issue_ballot_codes, check_mark_codes_printed
from meetings.api import serializers as s
from meetings.api.base import IDEMPOTENCY, MeetingCommandApi, actor_of, command, outcome_body
from meetings.domain.rules import category_name_zh
from meetings.paper_forms import paper_forms_response
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
            margin=data["margin"], command_id=command_id(request),
        )
        base = _ballot_base_url(request, meeting_id)
        return Response(outcome_body(
            issued.outcome, category=issued.category, batch_no=issued.batch_no, codes=issued.plain,
            urls=[codes.ballot_url(base, c) for c in issued.plain],
        ))


class SlipsIn(serializers.Serializer):
    category = serializers.RegexField(r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)
    count = serializers.IntegerField(min_value=1, max_value=2000)
    margin = serializers.IntegerField(min_value=0, max_value=50, default=0, help_text=s.MARGIN_HELP)


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
            margin=data["margin"], command_id=command_id(request),
        )
        return codes.slip_sheet_response(
            issued.plain, base_url=_ballot_base_url(request, meeting_id), meeting_title=issued.outcome.state.title,
            category_label=category_name_zh(issued.category),
        )


class CodeSheetApi(APIView):
    """The A4 sheet of QR slips for codes the console still holds (a batch issued but not yet printed).

    A read: it records nothing. Every code must be one issued in this
    meeting, all of one category; the page is not stored.
    """

    permission_classes = [allowed("issue_ballot_codes")]

    @extend_schema(
        summary="打印已生成的测评码 / print issued codes as slips", request=s.CodeSheetIn,
        responses={(200, "text/html"): str},
    )
    def post(self, request: Request, meeting_id: str) -> HttpResponse:
        data = parse(s.CodeSheetIn, request)
        state = meeting(meeting_id)
        county = current_schema()
        category = state.category_of_codes([codes.typed_code_hash(county, meeting_id, c) for c in data["codes"]])
        return codes.slip_sheet_response(
            data["codes"], base_url=_ballot_base_url(request, meeting_id), meeting_title=state.title,
            category_label=category_name_zh(category),
        )


class PaperFormsApi(APIView):
    """Paper ballots to print (A4, one per code) for codes the console still holds; records nothing.

    Like the QR sheet: every code must be issued in this meeting, all of one
    category; the form lists what that category grades.
    """

    permission_classes = [allowed("issue_ballot_codes")]

    @extend_schema(
        summary="打印纸质测评票 / print paper ballots", request=s.CodeSheetIn, responses={(200, "text/html"): str},
    )
    def post(self, request: Request, meeting_id: str) -> HttpResponse:
        data = parse(s.CodeSheetIn, request)
        state = meeting(meeting_id)
        county = current_schema()
        category = state.category_of_codes([codes.typed_code_hash(county, meeting_id, c) for c in data["codes"]])
        return paper_forms_response(state, category=category, codes=data["codes"])


@command("登记测评码已打印 / mark a code batch printed", s.EmptyIn, action="mark_codes_printed")
class CodesPrintedApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return check_mark_codes_printed(**door)


@command("票数超过到会人数时登记处理决定 / accept ballots over attendance", s.ReasonIn, action="accept_count_discrepancy")
class AcceptCountApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return ballots.check_accept_count_discrepancy(reason=data["reason"], **door)


@command("开始投票 / open ballot", s.EmptyIn, action="open_ballot")
class OpenBallotApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return ballots.check_open_ballot(**door)


@command("结束投票 / close ballot", s.EmptyIn, action="close_ballot")
class CloseBallotApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return ballots.check_close_ballot(**door)


@command("公布结果 / announce results", s.EmptyIn, action="announce_results")
class AnnounceResultsApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return ballots.check_announce_results(**door)


@command("录入纸质选票批次 / enter a paper batch", s.PaperBatchIn, action="enter_paper_batch")
class PaperBatchApi(MeetingCommandApi):
    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        return paper.check_enter_paper_batch(batch_no=data["batch_no"], ballots=data["ballots"], **door)

    def extra(self, outcome: Outcome[Any], data: dict[str, Any], *, meeting_id: str) -> dict[str, Any]:
        # The batch as it stands now (a retried entry reports the batch's current status).
        return {"batch_no": data["batch_no"], "status": meeting(meeting_id).paper_batch_status(data["batch_no"])}


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
