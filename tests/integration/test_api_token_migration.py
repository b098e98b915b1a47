"""The migration from DRF's authtoken to digests (accounts.0005): old keys stop working, nothing of authtoken stays.

A county is taken back to accounts.0004 and given what DRF's authtoken left
in every county before: its table with a key in clear, its content types,
permissions (one granted to an account), an admin log line about a token
and its migration rows. After `migrate` the county holds the same content
types, permissions and migration rows as a county created now.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import User
from tenants.provisioning import migrate_schema
from tests.conftest import host_of

OLD_KEY = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"
AUTHTOKEN_MIGRATIONS = ("0001_initial", "0002_auto_20160226_1747", "0003_tokenproxy", "0004_alter_tokenproxy_options")


def _leave_what_authtoken_left(user: User) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, created timestamptz NOT NULL,"
            " user_id bigint NOT NULL UNIQUE REFERENCES accounts_user (id) DEFERRABLE INITIALLY DEFERRED)"
        )
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, now(), %s)", [OLD_KEY, user.pk])
        for name in AUTHTOKEN_MIGRATIONS:
            cursor.execute("INSERT INTO django_migrations (app, name, applied) VALUES ('authtoken', %s, now())", [name])
    ContentType.objects.clear_cache()
    for model in ("token", "tokenproxy"):
        content_type = ContentType.objects.create(app_label="authtoken", model=model)
        for action in ("add", "change", "delete", "view"):
            Permission.objects.create(content_type=content_type, codename=f"{action}_{model}", name=f"Can {action}")
    user.user_permissions.add(Permission.objects.get(content_type__app_label="authtoken", codename="view_token"))
    LogEntry.objects.create(user=user, content_type=ContentType.objects.get(app_label="authtoken", model="token"),
                            object_id=OLD_KEY[:4], object_repr="token", action_flag=1)
    ContentType.objects.clear_cache()


def _authtoken_rows() -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT to_regclass('authtoken_token')::text,"
            " (SELECT count(*) FROM django_content_type WHERE app_label = 'authtoken'),"
            " (SELECT count(*) FROM django_migrations WHERE app = 'authtoken')"
        )
        table, content_types, migrations = cursor.fetchone()
    return {"table": table, "content_types": content_types, "migrations": migrations}


def _seeded_rows() -> dict[str, list[tuple[str, ...]]]:
    """The rows migrations and post_migrate write, without ids and times."""
    with connection.cursor() as cursor:
        found = {}
        for name, query in (
            ("content_types", "SELECT app_label, model FROM django_content_type"),
            ("permissions", "SELECT c.app_label, p.codename FROM auth_permission p JOIN django_content_type c"
                            " ON c.id = p.content_type_id"),
            ("migrations", "SELECT app, name FROM django_migrations"),
        ):
            cursor.execute(query)
            found[name] = sorted(cursor.fetchall())
    return found


def test_an_old_county_loses_authtoken_and_its_keys(make_county: Any, django_db_blocker: Any) -> None:
    old, new = make_county("tokold"), make_county("toknew")
    with django_db_blocker.unblock():
        call_command("migrate_schemas", "accounts", "0004_region_viewer", tenant=True, schema_name=old.schema_name,
                     interactive=False, verbosity=0)
        with schema_context(old.schema_name):
            user = User.objects.create_user(username="old_host", password="Lanterns-over-the-river-7", role="host")
            _leave_what_authtoken_left(user)
            assert _authtoken_rows() == {"table": "authtoken_token", "content_types": 2, "migrations": 4}
        migrate_schema(old.schema_name)
        with schema_context(old.schema_name):
            assert _authtoken_rows() == {"table": None, "content_types": 0, "migrations": 0}
            assert not user.user_permissions.exists()
            assert LogEntry.objects.get(user=user).content_type_id is None
            upgraded = _seeded_rows()
        with schema_context(new.schema_name):
            created = _seeded_rows()
        response = Client().get("/api/meetings/", HTTP_HOST=host_of(old), HTTP_AUTHORIZATION=f"Token {OLD_KEY}")
    assert upgraded == created
    assert response.status_code == 401 and response.json()["error"]["code"] == "authentication_failed"
