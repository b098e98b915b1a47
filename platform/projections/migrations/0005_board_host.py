"""The meeting board says who hosts each meeting (MeetingScheduled v3's `host`).

A host's "my meetings" lists the meetings given to them first. As in 0002,
the rows are not backfilled: the board is marked stale and `shuping migrate`
rebuilds it from the log (older meetings have no host and stay NULL).
"""

from django.db import migrations

FORWARD = r"""
ALTER TABLE proj_meeting_board ADD COLUMN host text;
INSERT INTO projection_stale (name) VALUES ('meeting_board') ON CONFLICT DO NOTHING;
"""

BACKWARD = r"""
ALTER TABLE proj_meeting_board DROP COLUMN host;
"""


class Migration(migrations.Migration):
    dependencies = [("projections", "0004_registry")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
