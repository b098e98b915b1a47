"""/api/registry/: the county's officials and bodies (read: any county role; write: county_admin)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import allowed
from common.api import command_id, parse
from meetings.actions.registry import (
    FirstPost,
    check_assign_post,
    check_correct_official,
    check_end_post,
    check_register_body,
    check_register_official,
    check_rename_body,
)
from meetings.api.base import IDEMPOTENCY, actor_of
from meetings.api.serializers import StrictSerializer
from meetings.registry import selectors
from meetings.registry.domain import BODY_KINDS, RegistryRefusal
from meetings.registry.streams import load_body, load_official

GENDER = serializers.ChoiceField(choices=["male", "female"], required=False, allow_null=True)


class BodyIn(StrictSerializer):
    name = serializers.CharField(max_length=80)
    kind = serializers.ChoiceField(choices=sorted(BODY_KINDS))
    township_id = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)
    village_id = serializers.IntegerField(required=False, min_value=1, max_value=2**31 - 1)


class RenameIn(StrictSerializer):
    name = serializers.CharField(max_length=80)


class OfficialIn(StrictSerializer):
    name = serializers.CharField(max_length=50)
    gender = GENDER
    body_id = serializers.RegexField(r"^bd[0-9a-f]{12}$", required=False, help_text="首个职务所在组织（可选）")
    post = serializers.CharField(max_length=50, required=False)
    from_date = serializers.DateField(required=False)


class PostIn(StrictSerializer):
    body_id = serializers.RegexField(r"^bd[0-9a-f]{12}$")
    post = serializers.CharField(max_length=50)
    from_date = serializers.DateField()


class EndPostIn(StrictSerializer):
    to_date = serializers.DateField()


class CorrectIn(StrictSerializer):
    name = serializers.CharField(max_length=50)
    gender = GENDER
    reason = serializers.CharField(max_length=500)


def _write(action: str) -> list[Any]:
    return [allowed(action)()]


class BodiesApi(APIView):
    permission_classes = [allowed("read")]

    def get_permissions(self) -> list[Any]:
        return _write("register_body") if self.request.method == "POST" else super().get_permissions()

    @extend_schema(summary="组织名录 / bodies", responses={200: dict}, operation_id="registry_bodies_list")
    def get(self, request: Request) -> Response:
        township_id, q = selectors.search_terms(
            township=request.query_params.get("township_id", ""), q=request.query_params.get("q", "")
        )
        return Response({"bodies": selectors.bodies_list(township_id=township_id, q=q)})

    @extend_schema(summary="登记组织 / register a body", request=BodyIn, responses={201: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request) -> Response:
        data = parse(BodyIn, request)
        body_id = check_register_body(
            actor=actor_of(request), name=data["name"], kind=data["kind"], township_id=data.get("township_id"),
            village_id=data.get("village_id"), command_id=command_id(request),
        )
        return Response({"body_id": body_id}, status=status.HTTP_201_CREATED)


class BodyRenameApi(APIView):
    permission_classes = [allowed("rename_body")]

    @extend_schema(summary="组织更名 / rename a body", request=RenameIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, body_id: str) -> Response:
        data = parse(RenameIn, request)
        check_rename_body(actor=actor_of(request), body_id=body_id, name=data["name"], command_id=command_id(request))
        return Response({"body_id": body_id, "name": load_body(body_id).name})


class OfficialsApi(APIView):
    permission_classes = [allowed("read")]

    def get_permissions(self) -> list[Any]:
        return _write("register_official") if self.request.method == "POST" else super().get_permissions()

    @extend_schema(summary="干部名录 / officials", responses={200: dict}, operation_id="registry_officials_list")
    def get(self, request: Request) -> Response:
        township_id, q = selectors.search_terms(
            township=request.query_params.get("township_id", ""), q=request.query_params.get("q", "")
        )
        return Response({"officials": selectors.officials_list(township_id=township_id, q=q)})

    @extend_schema(summary="登记干部 / register an official", request=OfficialIn, responses={201: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request) -> Response:
        data = parse(OfficialIn, request)
        post_fields = [data.get(name) for name in ("body_id", "post", "from_date")]
        if any(post_fields) and not all(post_fields):
            raise RegistryRefusal(
                "登记时同时任职，须填写组织、职务和任职日期", "body_id, post and from_date go together",
                code="post_incomplete", field="post",
            )
        first = FirstPost(data["body_id"], data["post"], data["from_date"]) if all(post_fields) else None
        official_id = check_register_official(
            actor=actor_of(request), name=data["name"], gender=data.get("gender"), first_post=first,
            command_id=command_id(request),
        )
        return Response({"official_id": official_id}, status=status.HTTP_201_CREATED)


class OfficialApi(APIView):
    permission_classes = [allowed("read")]

    @extend_schema(summary="干部及其任职 / an official and their posts", responses={200: dict})
    def get(self, request: Request, official_id: str) -> Response:
        load_official(official_id)  # unknown_official (404)
        return Response(selectors.official_get(official_id))


class OfficialSubjectsApi(APIView):
    permission_classes = [allowed("read")]

    @extend_schema(summary="历次述评 / the meetings in which an official was a subject", responses={200: dict})
    def get(self, request: Request, official_id: str) -> Response:
        load_official(official_id)
        return Response({"official_id": official_id, "subjects": selectors.registry_subjects(official_id=official_id)})


class AssignPostApi(APIView):
    permission_classes = [allowed("assign_post")]

    @extend_schema(summary="任职 / assign a post", request=PostIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, official_id: str) -> Response:
        data = parse(PostIn, request)
        check_assign_post(
            actor=actor_of(request), official_id=official_id, body_id=data["body_id"], post=data["post"],
            from_date=data["from_date"], command_id=command_id(request),
        )
        return Response(selectors.official_get(official_id))


class EndPostApi(APIView):
    permission_classes = [allowed("end_post")]

    @extend_schema(summary="免职 / end a post", request=EndPostIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, official_id: str, post_no: int) -> Response:
        data = parse(EndPostIn, request)
        check_end_post(
            actor=actor_of(request), official_id=official_id, post_no=post_no, to_date=data["to_date"],
            command_id=command_id(request),
        )
        return Response(selectors.official_get(official_id))


class CorrectOfficialApi(APIView):
    permission_classes = [allowed("correct_official")]

    @extend_schema(summary="更正干部信息 / correct an official's details", request=CorrectIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, official_id: str) -> Response:
        data = parse(CorrectIn, request)
        check_correct_official(
            actor=actor_of(request), official_id=official_id, name=data["name"], gender=data.get("gender"),
            reason=data["reason"], command_id=command_id(request),
        )
        return Response(selectors.official_get(official_id))
