"""The migration that turns the old Body and Official rows into registry events (meetings.0005)."""

from __future__ import annotations

from typing import Any

from django.core.management import call_command
from django.db import connection
from django_tenants.utils import schema_context

from events.reading import read_stream
from meetings.models import Township, Village
from meetings.registry import selectors
from projections.runtime import get, rebuild
from tenants.provisioning import migrate_schema


def test_rows_of_the_old_admin_become_registry_events(make_county: Any, django_db_blocker: Any) -> None:
    county = make_county("mig")
    schema = county.schema_name  # type: ignore[attr-defined]
    with django_db_blocker.unblock():
        # The county as it was before the registry: bodies and officials were rows.
        call_command("migrate_schemas", "meetings", "0004", tenant=True, schema_name=schema, interactive=False,
                     verbosity=0)
        with schema_context(schema):
            township = Township.objects.create(name="石桥镇")
            village = Village.objects.create(township=township, name="马家村")
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO meetings_body (name, kind, township_id, village_id) VALUES"
                    " ('石桥镇党委', 'township_party_committee', %s, NULL), ('马家村党支部', 'party_branch', %s, %s)"
                    " RETURNING id", [township.pk, township.pk, village.pk],
                )
                committee, branch = (row[0] for row in cursor.fetchall())
                cursor.execute(
                    "INSERT INTO meetings_official (name, post, body_id) VALUES"
                    " ('李书记', '乡镇党委书记', %s), ('王建国', '党支部书记', %s), ('张桂英', '党支部委员', %s)",
                    [committee, branch, branch],
                )
        migrate_schema(schema)
        with schema_context(schema):
            bodies = selectors.bodies_list()
            officials = {o["name"]: o for o in selectors.officials_list()}
            with connection.cursor() as cursor:
                cursor.execute("SELECT to_regclass('meetings_official'), to_regclass('meetings_body')")
                assert cursor.fetchone() == (None, None)  # the old tables are gone
            wang = officials["王建国"]
            events = read_stream(f"official-{wang['official_id']}")
            report = rebuild(get("registry"))

    assert [(b["name"], b["kind"], b["village"]) for b in bodies] == [
        ("石桥镇党委", "township_party_committee", None), ("马家村党支部", "party_branch", "马家村"),
    ]
    assert sorted(officials) == ["张桂英", "李书记", "王建国"]
    assert [(p["body"], p["post"]) for p in wang["current_posts"]] == [("马家村党支部", "党支部书记")]
    assert [e.type for e in events] == ["OfficialRegistered", "OfficialPostAssigned"]
    assert events[0].metadata.get("actor") == "migration"
    assert report.identical
