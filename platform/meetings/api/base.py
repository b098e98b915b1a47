"""What the meeting API's views share: who asks, the command id header, the answer to a command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Actor, allowed
from common.api import command_id, parse
from events.repository import Outcome

T = TypeVar("T", bound="MeetingCommandApi")

IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="命令编号（UUID）：重试同一命令时带上同一编号，只生效一次 / command id: a retry with the same key has the effect of one",
)


def actor_of(request: Request) -> Actor:
    return Actor.of_user(request.user)


def outcome_body(outcome: Outcome[Any], **extra: Any) -> dict[str, Any]:
    """The answer to a command: the events it recorded, the stream's version and head after it."""
    result = outcome.result
    body: dict[str, Any] = {
        "events": [type(e).__name__ for e in outcome.events],
        "version": result.last_version if result else outcome.state.version,
        "head_hash": result.head_hash if result else None,
        "replayed": outcome.replayed,
    }
    body.update(extra)
    return body


class MeetingCommandApi(APIView):
    # A command on one meeting: parse the body, call one door in `run`, answer
    # with what it recorded. Subclasses are declared with `@command(summary,
    # body, action=...)` and call exactly one door in `run(data, **door)`,
    # where `door` holds the actor, the meeting id and the command id (and any
    # other URL argument): a reader, and grep, sees which door a URL opens.
    # (A comment, not a docstring: the API's schema would show it for every command.)

    action: str = ""
    body: type[serializers.Serializer]

    def get_permissions(self) -> list[BasePermission]:
        return [allowed(self.action)()]

    def post(self, request: Request, meeting_id: str, **kwargs: str) -> Response:
        data = parse(self.body, request)
        outcome = self.run(data, actor=actor_of(request), meeting_id=meeting_id, command_id=command_id(request), **kwargs)
        return Response(outcome_body(outcome, **self.extra(outcome, data, meeting_id=meeting_id)))

    def run(self, data: dict[str, Any], **door: Any) -> Outcome[Any]:
        raise NotImplementedError

    def extra(self, outcome: Outcome[Any], data: dict[str, Any], *, meeting_id: str) -> dict[str, Any]:
        """More fields for the answer (e.g. the id the command gave a new question)."""
        return {}


def command(summary: str, body: type[serializers.Serializer], *, action: str) -> Callable[[type[T]], type[T]]:
    """Declare a MeetingCommandApi: its OpenAPI summary, its body, its role-policy action."""

    def declare(cls: type[T]) -> type[T]:
        cls.body = body
        cls.action = action
        allowed(action)  # an action the policy does not know fails at import
        schema: type[T] = extend_schema(
            summary=summary, request=body, responses={200: dict}, parameters=[IDEMPOTENCY],
        )(cls)
        return schema

    return declare
