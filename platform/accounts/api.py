"""/api/token/ and /api/logout/: a program's login and logout.

Login issues a new API token and shows its key this once (accounts.api_tokens:
only its digest is stored; it expires and can be revoked). Password guessing is counted and locked out by
django-axes (accounts.logins): the request Django sees is passed to
`authenticate`, so a lock-out is answered 429 `login_locked` and the
attempt is refused before any password is hashed.
"""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import logins
from accounts.api_tokens import issue_token, revoke_token, revoke_tokens
from accounts.models import ApiToken
from common.api import LimitedJSONParser, parse
from common.refusal import Refusal


class LoginIn(serializers.Serializer):
    username = serializers.CharField(max_length=logins.USERNAME_MAX)
    password = serializers.CharField(max_length=logins.PASSWORD_MAX, trim_whitespace=False)


class LoginOut(serializers.Serializer):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField()


class LoginApi(APIView):
    """Exchange a username and password for a new API token (the account's others stay valid)."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    parser_classes = [FormParser, MultiPartParser, LimitedJSONParser]

    @extend_schema(
        summary="登录，取得接口令牌 / log in for an API token",
        request=LoginIn, responses={200: LoginOut, 400: dict, 429: dict},
    )
    def post(self, request: Request) -> Response:
        data = parse(LoginIn, request)
        django_request = request._request  # axes marks a lock-out on the request Django sees
        user = authenticate(django_request, username=data["username"], password=data["password"])
        if user is None:
            if getattr(django_request, "axes_locked_out", False):
                raise logins.locked()
            raise Refusal("用户名或密码不正确", "wrong username or password", code="login_failed")
        token = issue_token(user)
        return Response({"token": token.key, "expires_at": token.expires_at})


class LogoutApi(APIView):
    """Revoke the API token the request carries; with a session, every token of the account.

    A session itself is logged out by the pages' /logout/.
    """

    permission_classes = [IsAuthenticated]

    @extend_schema(summary="注销接口令牌 / revoke your API token", request=None, responses={200: dict})
    def post(self, request: Request) -> Response:
        if isinstance(request.auth, ApiToken):
            return Response({"revoked": revoke_token(request.auth)})
        return Response({"revoked": revoke_tokens(request.user)})
