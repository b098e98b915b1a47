"""/api/presets/ and /api/rounds/: the rule presets, and the county's rounds."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import allowed
from common.api import command_id, parse
from meetings import selectors
from meetings.actions.rounds import check_open_round
from meetings.api import serializers as s
from meetings.api.base import IDEMPOTENCY, actor_of
from meetings.domain.rules import PRESETS


class PresetsApi(APIView):
    permission_classes = [allowed("read")]

    @extend_schema(summary="规则预设 / rule presets", responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response({name: rules.to_data() for name, rules in PRESETS.items()})


class RoundsApi(APIView):
    permission_classes = [allowed("read")]

    def get_permissions(self) -> list:  # type: ignore[type-arg]
        return [allowed("open_round")()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(summary="述评活动列表 / rounds", responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response({"rounds": selectors.rounds_list()})

    @extend_schema(summary="发起述评活动 / open a round", request=s.RoundIn, responses={201: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request) -> Response:
        data = parse(s.RoundIn, request)
        round_id = check_open_round(
            actor=actor_of(request), name=data["name"], year=data["year"], variant=data["variant"],
            rules=data.get("rules"), command_id=command_id(request),
        )
        return Response({"round_id": round_id}, status=status.HTTP_201_CREATED)
