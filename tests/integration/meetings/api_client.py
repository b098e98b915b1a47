"""A small API client for tests: a county host, a role's token, JSON in and out."""

from __future__ import annotations

import uuid
from typing import Any

from django.test import Client
from django_tenants.utils import schema_context

from accounts.api_tokens import issue_token
from accounts.models import User
from tests.conftest import host_of


class Api:
    def __init__(self, county: Any, role: str | None = None, *, username: str | None = None) -> None:
        self.county = county
        self.host = host_of(county)
        self.client = Client()
        self.headers: dict[str, str] = {}
        if role is not None:
            name = username or f"{role}_{uuid.uuid4().hex[:6]}"
            with schema_context(county.schema_name):
                user = User.objects.create_user(username=name, password="pw-" + name, role=role)
                token = issue_token(user)
            self.username = name
            self.headers["HTTP_AUTHORIZATION"] = f"Token {token.key}"

    def post(self, path: str, body: Any = None, *, key: str | None = None, expect: int | None = None) -> Any:
        extra = dict(self.headers)
        if key is not None:
            extra["HTTP_IDEMPOTENCY_KEY"] = key
        response = self.client.post(
            "/api/" + path, body if body is not None else {}, content_type="application/json",
            HTTP_HOST=self.host, **extra,
        )
        return self._check(response, expect)

    def get(self, path: str, *, expect: int | None = 200) -> Any:
        response = self.client.get("/api/" + path, HTTP_HOST=self.host, **self.headers)
        return self._check(response, expect)

    @staticmethod
    def _check(response: Any, expect: int | None) -> Any:
        if expect is not None:
            assert response.status_code == expect, (response.status_code, response.content[:2000])
        if response.get("Content-Type", "").startswith("application/json"):
            body = response.json()
            body_status = response.status_code
            return Result(body, body_status)
        return Result({"raw": response.content}, response.status_code)


class Result(dict):  # type: ignore[type-arg]
    def __init__(self, body: Any, status: int) -> None:
        super().__init__(body if isinstance(body, dict) else {"body": body})
        self.status = status

    @property
    def error_code(self) -> str | None:
        error = self.get("error")
        return error.get("code") if isinstance(error, dict) else None
