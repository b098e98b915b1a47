"""What the meeting API's views share: who asks, the command id header, the answer to a command."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request

from accounts.roles import Actor
from events.repository import Outcome

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
