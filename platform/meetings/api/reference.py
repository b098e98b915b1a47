"""Reference data and printing: roster import, ballot-code slips."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from meetings import codes, services
from meetings.api.views import HOSTS, IDEMPOTENCY, actor, command_id, parse
from meetings.domain.rules import category_name_zh
from meetings.models import Village
from meetings.roster_import import import_roster
from shuping.api import ApiError, roles
from shuping.db import current_schema


class RosterUpload(serializers.Serializer):
    file = serializers.FileField(help_text="CSV（UTF-8 或 GBK）或 Excel .xlsx")
    village_id = serializers.IntegerField(required=False)
    dry_run = serializers.BooleanField(default=False)


class RosterImportApi(APIView):
    """Import a roster: all rows or none; every bad row is reported with its row number."""

    permission_classes = [roles("county_admin")]
    parser_classes = [MultiPartParser]

    @extend_schema(summary="导入花名册 / import a roster", request=RosterUpload, responses={200: dict})
    def post(self, request: Request) -> Response:
        data = parse(RosterUpload, request)
        village = None
        if data.get("village_id") is not None:
            village = Village.objects.filter(pk=data["village_id"]).first()
            if village is None:
                raise ApiError("unknown_village", "找不到该村", "no such village", status_code=404)
        upload = data["file"]
        report = import_roster(upload, filename=upload.name, village=village, dry_run=data["dry_run"])
        body: dict[str, Any] = {
            "summary": report.summary(), "rows": report.rows, "created": report.created, "updated": report.updated,
            "dry_run": report.dry_run, "warnings": [asdict(w) for w in report.warnings],
        }
        if not report.ok:
            raise ApiError(
                "roster_invalid", report.summary(), f"{len(report.errors)} errors, nothing imported",
                details={"errors": [asdict(e) for e in report.errors]},
            )
        return Response(body, status=status.HTTP_200_OK)


class SlipsIn(serializers.Serializer):
    category = serializers.RegexField(r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)
    count = serializers.IntegerField(min_value=1, max_value=2000)


class CodeSlipsApi(APIView):
    """Issue a batch of codes and answer with the A4 sheet of QR slips to print.

    The plain codes exist only in this page: print it, do not save it. The
    log records the batch (category, count, hashes).
    """

    permission_classes = [roles(*HOSTS)]

    @extend_schema(
        summary="生成并打印测评码 / issue codes as printable slips", request=SlipsIn,
        responses={(200, "text/html"): str}, parameters=[IDEMPOTENCY],
    )
    def post(self, request: Request, meeting_id: str) -> HttpResponse:
        data = parse(SlipsIn, request)
        county = str(current_schema())
        plain = codes.generate_codes(data["count"])
        hashes = [codes.code_hash(county, meeting_id, c) for c in plain]
        outcome = services.execute(
            meeting_id, lambda m: m.issue_ballot_codes(category=data["category"], code_hashes=hashes),
            command_id=command_id(request), actor=actor(request),
        )
        if outcome.result is not None and outcome.result.replayed:
            raise ApiError(
                "codes_not_repeatable", "这批测评码已经生成；明码不保存，无法再次打印。",
                "these codes were issued before and cannot be printed again", status_code=409,
            )
        return codes.slip_sheet_response(
            plain,
            base_url=f"{request.scheme}://{request.get_host()}/v/{meeting_id}",
            meeting_title=outcome.meeting.title,
            category_label=category_name_zh(data["category"]),
        )

