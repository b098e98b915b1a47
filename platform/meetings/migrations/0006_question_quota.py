"""How many questions each ballot code asked from the phone, under a key the database does not hold."""

from django.db import migrations

FORWARD = """
CREATE TABLE meetings_question_quota (
    meeting_id text NOT NULL,
    slot       bytea NOT NULL,
    asked      integer NOT NULL,
    PRIMARY KEY (meeting_id, slot)
);
"""


class Migration(migrations.Migration):
    dependencies = [("meetings", "0005_registry_records_bodies_and_officials")]
    operations = [migrations.RunSQL(FORWARD, "DROP TABLE IF EXISTS meetings_question_quota;")]
