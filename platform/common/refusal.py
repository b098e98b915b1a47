"""The one refusal type: every "no" the platform says, from any layer.

A `Refusal` carries a stable `code` (snake_case, for clients and tests), a
message for a person in Chinese and one in English, the HTTP status an API
answers it with, and optional `details` (field errors of a form, the rows of
a bad import). The domain, the event store, tokens and the API all raise
subclasses of it, so one handler (common.api.exception_handler) turns any of
them into the documented error body and nothing needs a list of codes.

Plain Python on purpose: the meeting domain imports it and imports no Django.
"""

from __future__ import annotations

from typing import Any


class Refusal(Exception):
    """A request or command is refused; nothing was changed.

    Subclasses set `code` and `http_status` as class attributes; a one-off
    refusal passes them to the constructor.
    """

    code: str = "refused"
    http_status: int = 400

    def __init__(
        self,
        message_zh: str,
        message_en: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        details: Any = None,
    ) -> None:
        super().__init__(f"{message_zh} / {message_en}")
        if code is not None:
            self.code = code
        if http_status is not None:
            self.http_status = http_status
        self.message_zh = message_zh
        self.message_en = message_en
        self.details = details


class NotFound(Refusal):
    code = "not_found"
    http_status = 404


class Conflict(Refusal):
    """The request is valid but the state does not allow it now."""

    code = "conflict"
    http_status = 409


class Forbidden(Refusal):
    code = "forbidden"
    http_status = 403
