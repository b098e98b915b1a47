"""The meeting board keeps the announced results and the state of each paper batch.

The county's workspace (results per subject and voter category, a chart per
township, the Excel export) and the tellers' list (batches waiting for a
second entry) read them from here instead of folding each meeting's log.
As in 0002, the rows are not backfilled: the board is marked stale and
`shuping migrate` rebuilds it from the log.
"""

from django.db import migrations

FORWARD = r"""
ALTER TABLE proj_meeting_board
    ADD COLUMN results       jsonb,
    ADD COLUMN paper_batches jsonb NOT NULL DEFAULT '{}';
INSERT INTO projection_stale (name) VALUES ('meeting_board') ON CONFLICT DO NOTHING;
"""

BACKWARD = r"""
ALTER TABLE proj_meeting_board DROP COLUMN results, DROP COLUMN paper_batches;
"""


class Migration(migrations.Migration):
    dependencies = [("projections", "0002_board_rounds")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
