"""Request parsers of the API (own module: DRF's settings import it while loading)."""

from __future__ import annotations

import io
from typing import Any

from django.conf import settings
from rest_framework import status
from rest_framework.parsers import JSONParser

from shuping.api import ApiError


class LimitedJSONParser(JSONParser):
    """JSON bodies up to settings.API_MAX_JSON_BYTES; larger ones get 413 before parsing.

    Django's DATA_UPLOAD_MAX_MEMORY_SIZE guards `request.body`, but DRF reads
    the stream directly, so the limit is enforced here (on the declared length
    and on what is actually read, for chunked bodies without a length).
    """

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit = int(getattr(settings, "API_MAX_JSON_BYTES", 256 * 1024))
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and str(declared).isdigit() and int(declared) > limit:
            raise _too_large(limit)
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise _too_large(limit)
        return super().parse(io.BytesIO(raw), media_type, parser_context)


def _too_large(limit: int) -> ApiError:
    return ApiError(
        "request_too_large",
        f"请求内容过大（上限 {limit // 1024} KB）",
        f"request body too large (limit {limit // 1024} KB)",
        status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )
