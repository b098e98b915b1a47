"""The meeting board knows each meeting's eligible voters, the one denominator of participation (参评率).

The county's live dashboard shows ballots against the same number the
results divide by (meetings.domain.groups): roster members of the grading
categories + checked-in attendees not on the roster. `grading_guests` says
whether checked-in guests count, `roster_guests` which guests are on the
roster (their check-in adds nobody). As in 0002, the rows are not
backfilled: the board is marked stale and `shuping migrate` rebuilds it.
"""

from django.db import migrations

FORWARD = r"""
ALTER TABLE proj_meeting_board ADD COLUMN eligible integer NOT NULL DEFAULT 0,
    ADD COLUMN grading_guests boolean NOT NULL DEFAULT false,
    ADD COLUMN roster_guests jsonb NOT NULL DEFAULT '[]'::jsonb;
INSERT INTO projection_stale (name) VALUES ('meeting_board') ON CONFLICT DO NOTHING;
"""

BACKWARD = r"""
ALTER TABLE proj_meeting_board DROP COLUMN eligible, DROP COLUMN grading_guests, DROP COLUMN roster_guests;
"""


class Migration(migrations.Migration):
    dependencies = [("projections", "0005_board_host")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
