"""Bodies and officials become the registry's events (meetings.registry); their old tables go.

Before the registry, bodies and officials were rows edited in the admin
(meetings.Body, meetings.Official). This records each existing row as the
events the registry's doors would have appended: BodyRegistered for a body;
OfficialRegistered and OfficialPostAssigned (the row's post, in the row's
body, from the day of this migration: the old rows knew no dates) for an
official. The registry projection fills in the same transaction. Ids are
derived from the county and the old primary key, so a run of this migration
is repeatable. Townships and villages stay where they are (the county's map).

It calls the event store of the code base, which is what keeps the log one
format; should the registry's event types change shape, they do so through
a new version and an upcaster, and these version-1 events stay valid.
"""

import uuid
from datetime import date

from django.db import migrations


def _id(prefix: str, county: str, kind: str, pk: int) -> str:
    return prefix + uuid.uuid5(uuid.NAMESPACE_URL, f"shuping:{county}:{kind}:{pk}").hex[:12]


def record_as_events(apps, schema_editor):  # type: ignore[no-untyped-def]
    Body = apps.get_model("meetings", "Body")
    Official = apps.get_model("meetings", "Official")
    if not Body.objects.exists():
        return  # a new county or the template: nothing to record
    from events.records import NO_STREAM
    from events.store import append
    from meetings.registry.events import (
        BodyRegistered,
        OfficialPostAssigned,
        OfficialRegistered,
        body_stream,
        official_stream,
    )

    county = schema_editor.connection.schema_name
    body_ids = {}
    for body in Body.objects.select_related("township", "village").order_by("pk"):
        body_id = body_ids[body.pk] = _id("bd", county, "body", body.pk)
        event = BodyRegistered(
            body_id=body_id, name=body.name, kind=body.kind, township_id=body.township_id, township=body.township.name,
            village_id=body.village_id, village=body.village.name if body.village else None,
        )
        append(body_stream(body_id), [event], expected_version=NO_STREAM,
               command_id=uuid.uuid5(uuid.NAMESPACE_URL, f"shuping:{county}:migrate-body:{body.pk}"), actor="migration")
    today = date.today().isoformat()
    for official in Official.objects.select_related("body").order_by("pk"):
        official_id = _id("of", county, "official", official.pk)
        events = [
            OfficialRegistered(official_id=official_id, name=official.name, gender=None),
            OfficialPostAssigned(official_id=official_id, post_no=1, body_id=body_ids[official.body_id],
                                 body_name=official.body.name, post=official.post, from_date=today),
        ]
        append(official_stream(official_id), events, expected_version=NO_STREAM,
               command_id=uuid.uuid5(uuid.NAMESPACE_URL, f"shuping:{county}:migrate-official:{official.pk}"),
               actor="migration")


class Migration(migrations.Migration):
    dependencies = [
        ("meetings", "0004_ballot_box_sealed"),
        ("projections", "0004_registry"),
        ("events", "0001_event_store"),
    ]
    operations = [
        migrations.RunPython(record_as_events, migrations.RunPython.noop),
        migrations.DeleteModel(name="Official"),
        migrations.DeleteModel(name="Body"),
    ]
