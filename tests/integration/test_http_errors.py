"""Errors Django answers itself (common.http_errors): a bug, Django's own limits, the request id in the log.

A bug cannot be asked for over HTTP, so this module serves the county's URLs
plus two views that raise, as its own URLconf, through the whole middleware
stack (Django's test client, real PostgreSQL).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import path

from common.http_errors import RequestIdFilter
from shuping import urls_county
from tests.conftest import host_of


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug the request id must lead to")


urlpatterns = [path("api/boom/", boom), path("boom/", boom), *urls_county.urlpatterns]
handler400 = urls_county.handler400
handler403 = urls_county.handler403
handler404 = urls_county.handler404
handler500 = urls_county.handler500


@pytest.fixture
def request_log() -> Iterator[io.StringIO]:
    """django.request's lines, formatted as settings.LOGGING formats them on the console."""
    assert settings.LOGGING["handlers"]["console"]["filters"] == ["request_id"]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter(settings.LOGGING["formatters"]["request"]["format"]))
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_a_bug_under_api_is_a_500_in_the_error_format_logged_with_its_request_id(county_a: Any,
                                                                                request_log: io.StringIO) -> None:
    response = Client(raise_request_exception=False).get("/api/boom/", HTTP_HOST=host_of(county_a))
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    error = response.json()["error"]
    request_id = response["X-Request-ID"]
    assert error["code"] == "server_error" and error["message"] and error["message_en"]
    assert error["details"] == {"request_id": request_id}
    assert "a bug" not in response.content.decode()  # the exception is logged, never answered
    log = request_log.getvalue()
    assert f"[request {request_id}] Internal Server Error: /api/boom/" in log
    assert "RuntimeError: a bug the request id must lead to" in log


@pytest.mark.django_db
@override_settings(ROOT_URLCONF=__name__)
def test_a_bug_on_a_page_is_a_chinese_page_with_its_request_id(county_a: Any) -> None:
    response = Client(raise_request_exception=False).get("/boom/", HTTP_HOST=host_of(county_a))
    assert response.status_code == 500
    page = response.content.decode()
    assert 'lang="zh-Hans"' in page and "服务器出错了" in page
    assert response["X-Request-ID"] in page


@pytest.mark.django_db
def test_every_answer_carries_a_fresh_request_id(county_a: Any) -> None:
    client = Client()
    ids = {client.get("/api/presets/", HTTP_HOST=host_of(county_a))["X-Request-ID"] for _ in range(3)}
    ids.add(client.get("/healthz", HTTP_HOST=host_of(county_a))["X-Request-ID"])
    assert len(ids) == 4 and all(len(i) == 16 for i in ids)
    # A client cannot choose it (it would be trusted in the logs).
    chosen = client.get("/healthz", HTTP_HOST=host_of(county_a), HTTP_X_REQUEST_ID="forged")
    assert chosen["X-Request-ID"] != "forged"


@pytest.mark.django_db
def test_a_page_body_over_djangos_limit_is_a_413_page(county_a: Any) -> None:
    body = "username=a&password=" + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    response = Client().post("/login/", body, content_type="application/x-www-form-urlencoded",
                             HTTP_HOST=host_of(county_a))
    assert response.status_code == 413
    page = response.content.decode()
    assert 'lang="zh-Hans"' in page and "request_too_large" in page


@pytest.mark.django_db
def test_too_many_form_fields_under_api_is_a_400_in_the_error_format(county_a: Any) -> None:
    body = "&".join(f"f{i}=1" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = Client().post("/api/token/", body, content_type="application/x-www-form-urlencoded",
                             HTTP_HOST=host_of(county_a))
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_fields"
