"""The ballot box holds each ballot encrypted (see meetings/ballot_box.py for why).

The plain table (code hash, marks, receipt in the clear) is replaced by one
that holds, per ballot, a keyed hash of the code (`slot`, the primary key),
the meeting and the sealed ballot. A county migrated while a ballot is open
keeps its ballots: each is opened from the plain table and sealed with the
meeting's key (derived from SECRET_KEY), padded to the longest ballot of its
meeting; the plain table is dropped in the same transaction, so its heap file
is gone when the migration commits (what it wrote to the WAL before is not:
docs/api.md says so).
"""

import json

from django.db import migrations

CREATE = """
CREATE TABLE meetings_ballot_box (
    slot       bytea PRIMARY KEY,
    meeting_id text NOT NULL,
    sealed     bytea NOT NULL
);
CREATE INDEX meetings_ballot_box_meeting ON meetings_ballot_box (meeting_id);
"""

PLAIN = """
CREATE TABLE meetings_ballot_box (
    code_hash  text PRIMARY KEY,
    meeting_id text NOT NULL,
    marks      jsonb NOT NULL,
    receipt    text NOT NULL
);
CREATE INDEX meetings_ballot_box_meeting ON meetings_ballot_box (meeting_id);
"""


def seal_the_box(apps, schema_editor):
    from meetings import ballot_box

    county = getattr(schema_editor.connection, "schema_name", "public")
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT meeting_id, code_hash, marks::text FROM meetings_ballot_box")
        plain = [(meeting_id, code_hash, json.loads(marks)) for meeting_id, code_hash, marks in cursor.fetchall()]
        cursor.execute("DROP TABLE meetings_ballot_box")
        cursor.execute(CREATE)
        if not plain:
            return
        # The meeting's own bound needs its rules; the longest ballot already
        # in its box is what sizes them alike here (all were valid when cast).
        sizes = {}
        for meeting_id, code_hash, marks in plain:
            sizes[meeting_id] = max(sizes.get(meeting_id, 0), ballot_box.size_bound([marks]))
        rows = [
            (*ballot_box.seal_bytes(county=county, meeting_id=meeting_id, code_hash=code_hash, marks=marks,
                                    size=sizes[meeting_id]), meeting_id)
            for meeting_id, code_hash, marks in plain
        ]
        rows.sort()  # by slot: unrelated to the order the ballots were cast in
        cursor.executemany(
            "INSERT INTO meetings_ballot_box (slot, sealed, meeting_id) VALUES (%s, %s, %s)", rows
        )


def refuse_to_unseal(apps, schema_editor):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM meetings_ballot_box")
        if cursor.fetchone()[0]:
            raise RuntimeError(
                "票箱中有密封的选票，不能退回到明文票箱 / the ballot box holds sealed ballots: "
                "it is not turned back into a plain one"
            )
        cursor.execute("DROP TABLE meetings_ballot_box")
        cursor.execute(PLAIN)


class Migration(migrations.Migration):
    dependencies = [("meetings", "0003_ballot_box")]

    operations = [migrations.RunPython(seal_the_box, refuse_to_unseal)]
