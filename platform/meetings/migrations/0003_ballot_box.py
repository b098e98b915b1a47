"""The sealed ballot box (see meetings/ballot_box.py for why it exists).

Columns are exactly what a sealed ballot needs: no voter, no session, no
time, no serial id. The primary key on the code's hash is what makes one
ballot per code hold under any concurrency.
"""

from django.db import migrations

SQL = """
CREATE TABLE meetings_ballot_box (
    code_hash  text PRIMARY KEY,
    meeting_id text NOT NULL,
    marks      jsonb NOT NULL,
    receipt    text NOT NULL
);
CREATE INDEX meetings_ballot_box_meeting ON meetings_ballot_box (meeting_id);
"""


class Migration(migrations.Migration):
    dependencies = [("meetings", "0002_roster_guest_fields")]

    operations = [migrations.RunSQL(SQL, "DROP TABLE meetings_ballot_box")]
