"""An expand step as docs/migrations.md describes it: a nullable column on a read model, marked stale.

The column is added without a default (no table rewrite) and the read model is
marked stale, so `shuping migrate` rebuilds it from the log in the same
transaction; the event log itself is not touched.
"""

from django.db import migrations

FORWARD = r"""
ALTER TABLE proj_meeting_board ADD COLUMN extra_note text;
INSERT INTO projection_stale (name) VALUES ('meeting_board') ON CONFLICT DO NOTHING;
"""

BACKWARD = r"""
ALTER TABLE proj_meeting_board DROP COLUMN extra_note;
"""


class Migration(migrations.Migration):
    dependencies = [("projections", "0005_board_host")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
