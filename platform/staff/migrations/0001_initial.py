"""The staff projection's table (rows come from the county-staff stream)."""

from django.db import migrations

FORWARD = r"""
CREATE TABLE proj_staff_changes (
    change_id    text PRIMARY KEY,
    kind         text NOT NULL,           -- grant, revoke, deactivate
    username     text NOT NULL,
    role         text NOT NULL,
    requested_by text NOT NULL,
    requested_at timestamptz NOT NULL,
    state        text NOT NULL,           -- pending, granted, declined, lapsed, done
    decided_by   text,
    decided_at   timestamptz
);
CREATE INDEX proj_staff_changes_recent ON proj_staff_changes (requested_at DESC);
"""

BACKWARD = "DROP TABLE IF EXISTS proj_staff_changes;"


class Migration(migrations.Migration):
    dependencies: list[tuple[str, str]] = []
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
