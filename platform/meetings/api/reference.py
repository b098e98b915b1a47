"""/api/rosters/import/: the county's directory (reference data): roster import."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import allowed
from common.api import parse
from common.refusal import Refusal
from meetings.actions.reference import check_import_roster
from meetings.api.base import actor_of


class RosterUpload(serializers.Serializer):
    file = serializers.FileField(help_text="CSV（UTF-8 或 GBK）或 Excel .xlsx")
    village_id = serializers.IntegerField(required=False)
    dry_run = serializers.BooleanField(default=False)


class RosterImportApi(APIView):
    """Import a roster: all rows or none; every bad row is reported with its row number."""

    permission_classes = [allowed("import_roster")]
    parser_classes = [MultiPartParser]

    @extend_schema(summary="导入花名册 / import a roster", request=RosterUpload, responses={200: dict})
    def post(self, request: Request) -> Response:
        data = parse(RosterUpload, request)
        upload = data["file"]
        report = check_import_roster(
            actor=actor_of(request), file=upload, filename=upload.name, village_id=data.get("village_id"),
            dry_run=data["dry_run"],
        )
        if not report.ok:
            raise Refusal(
                report.summary(), f"{len(report.errors)} errors, nothing imported", code="roster_invalid",
                details={"errors": [asdict(e) for e in report.errors]},
            )
        body: dict[str, Any] = {
            "summary": report.summary(), "rows": report.rows, "created": report.created, "updated": report.updated,
            "dry_run": report.dry_run, "warnings": [asdict(w) for w in report.warnings],
        }
        return Response(body, status=status.HTTP_200_OK)
