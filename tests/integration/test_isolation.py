"""One county's data is invisible from another: ORM, HTTP, admin and logins."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Role, User
from meetings.models import Township
from tests.conftest import host_of

pytestmark = pytest.mark.django_db


def _county_user(county: object, username: str, role: str = Role.COUNTY_ADMIN) -> User:
    with schema_context(county.schema_name):  # type: ignore[attr-defined]
        user = User(username=username, role=role, is_staff=True, is_superuser=True)
        user.set_password("pw-" + username)
        user.save()
        return user


def _admin_login(client: Client, host: str, username: str, password: str) -> bool:
    response = client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password},
        HTTP_HOST=host,
    )
    return response.status_code == 302 and response["Location"] == "/admin/"


def test_orm_row_of_county_a_is_invisible_in_county_b(county_a, county_b) -> None:
    with schema_context(county_a.schema_name):
        Township.objects.create(name="甲乡专属")
        assert Township.objects.filter(name="甲乡专属").count() == 1
    with schema_context(county_b.schema_name):
        assert not Township.objects.filter(name="甲乡专属").exists()
        Township.objects.create(name="甲乡专属")  # same name, separate table: no clash
        assert Township.objects.filter(name="甲乡专属").count() == 1


def test_http_with_b_host_never_shows_a_rows(county_a, county_b) -> None:
    with schema_context(county_a.schema_name):
        Township.objects.create(name="红旗乡")
    client = Client()
    page_a = client.get("/", HTTP_HOST=host_of(county_a))
    page_b = client.get("/", HTTP_HOST=host_of(county_b))
    assert page_a.status_code == 200 and page_b.status_code == 200
    assert "红旗乡" in page_a.content.decode()
    assert "红旗乡" not in page_b.content.decode()
    assert "乙县" in page_b.content.decode() and "甲县" not in page_b.content.decode()


def test_admin_of_b_does_not_list_a_rows(county_a, county_b) -> None:
    with schema_context(county_a.schema_name):
        Township.objects.create(name="向阳镇")
    _county_user(county_a, "admin_a")
    _county_user(county_b, "admin_b")
    client_a, client_b = Client(), Client()
    assert _admin_login(client_a, host_of(county_a), "admin_a", "pw-admin_a")
    assert _admin_login(client_b, host_of(county_b), "admin_b", "pw-admin_b")
    list_a = client_a.get("/admin/meetings/township/", HTTP_HOST=host_of(county_a))
    list_b = client_b.get("/admin/meetings/township/", HTTP_HOST=host_of(county_b))
    assert list_a.status_code == 200 and list_b.status_code == 200
    assert "向阳镇" in list_a.content.decode()
    assert "向阳镇" not in list_b.content.decode()
    # The county admin speaks Chinese and shows the county's name.
    assert "乡镇" in list_b.content.decode()


def test_a_county_user_cannot_log_in_on_another_county_or_the_platform(county_a, county_b) -> None:
    _county_user(county_a, "only_in_a")
    assert not _admin_login(Client(), host_of(county_b), "only_in_a", "pw-only_in_a")
    assert not _admin_login(Client(), "localhost", "only_in_a", "pw-only_in_a")
    assert _admin_login(Client(), host_of(county_a), "only_in_a", "pw-only_in_a")


def test_a_session_of_county_a_is_worthless_on_county_b(county_a, county_b) -> None:
    _county_user(county_a, "sess_a")
    client = Client()
    assert _admin_login(client, host_of(county_a), "sess_a", "pw-sess_a")
    # Even replaying A's session cookie against B's host gets the login page.
    response = client.get("/admin/", HTTP_HOST=host_of(county_b))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_operator_logs_in_on_the_platform_only(county_a) -> None:
    connection.set_schema_to_public()
    operator = User(username="op_test", role=Role.OPERATOR, is_staff=True, is_superuser=True)
    operator.set_password("pw-op")
    operator.save()
    client = Client()
    assert _admin_login(client, "localhost", "op_test", "pw-op")
    counties = client.get("/admin/tenants/county/", HTTP_HOST="localhost")
    assert counties.status_code == 200 and county_a.schema_name in counties.content.decode()
    # The operator's site has no county data registered at all.
    assert client.get("/admin/meetings/township/", HTTP_HOST="localhost").status_code == 404
    assert not _admin_login(Client(), host_of(county_a), "op_test", "pw-op")


def test_county_admin_pages_never_list_counties(county_a) -> None:
    _county_user(county_a, "nosy")
    client = Client()
    assert _admin_login(client, host_of(county_a), "nosy", "pw-nosy")
    assert client.get("/admin/tenants/county/", HTTP_HOST=host_of(county_a)).status_code == 404


def test_unknown_host_gets_a_clear_404_page() -> None:
    response = Client().get("/", HTTP_HOST="no-such-county.testserver")
    assert response.status_code == 404
    body = response.content.decode()
    assert "未找到此县区" in body and "no-such-county.testserver" in body and "unknown_host" in body


def test_no_foreign_key_leaves_a_county_schema(county_a) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT con.conname, src.nspname, dst.nspname
              FROM pg_constraint con
              JOIN pg_class srct ON srct.oid = con.conrelid
              JOIN pg_namespace src ON src.oid = srct.relnamespace
              JOIN pg_class dstt ON dstt.oid = con.confrelid
              JOIN pg_namespace dst ON dst.oid = dstt.relnamespace
             WHERE con.contype = 'f' AND src.nspname = %s
            """,
            [county_a.schema_name],
        )
        rows = cursor.fetchall()
    assert rows, "a county schema has foreign keys of its own (users to groups, villages to townships)"
    crossing = [row for row in rows if row[2] != county_a.schema_name]
    assert crossing == []


def test_county_schema_has_the_county_tables_and_not_the_tenant_registry(county_a) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", [county_a.schema_name])
        tables = {row[0] for row in cursor.fetchall()}
    assert {"accounts_user", "meetings_township", "meetings_rostermember", "django_session"} <= tables
    assert "tenants_county" not in tables and "tenants_domain" not in tables
