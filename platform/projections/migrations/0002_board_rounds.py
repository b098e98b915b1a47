"""The meeting board carries what the county's pages list; a rounds projection; rebuilds on demand.

Projections are disposable, so a change of their shape does not backfill
rows here: it marks them stale (projection_stale), and `shuping migrate`
rebuilds every stale projection of a county from its log right after the
county's migrations ran, with the code that runs the platform.
"""

from django.db import migrations

FORWARD = r"""
ALTER TABLE proj_meeting_board
    ADD COLUMN round_id        text,
    ADD COLUMN phase           text NOT NULL DEFAULT 'scheduled',
    ADD COLUMN starts_at       timestamptz,
    ADD COLUMN place           text NOT NULL DEFAULT '',
    ADD COLUMN subjects        integer NOT NULL DEFAULT 0,
    ADD COLUMN present_total   integer NOT NULL DEFAULT 0,
    ADD COLUMN codes_issued    integer NOT NULL DEFAULT 0,
    ADD COLUMN paper_ballots   integer NOT NULL DEFAULT 0,
    ADD COLUMN ballots_counted integer,
    ADD COLUMN participation   text,
    ADD COLUMN flagged         jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN head_hash       char(64) NOT NULL DEFAULT repeat('0', 64),
    ADD COLUMN last_event_at   timestamptz;
CREATE INDEX proj_meeting_board_round ON proj_meeting_board (round_id);
CREATE TABLE proj_rounds (
    round_id  text PRIMARY KEY,
    name      text NOT NULL,
    year      integer NOT NULL,
    variant   text NOT NULL,
    rules     jsonb NOT NULL,
    opened_at timestamptz NOT NULL,
    opened_by text,
    meetings  integer NOT NULL DEFAULT 0
);
CREATE TABLE projection_stale (name text PRIMARY KEY);
INSERT INTO projection_stale (name) VALUES ('meeting_board'), ('rounds');
"""

BACKWARD = r"""
DROP TABLE IF EXISTS projection_stale;
DROP TABLE IF EXISTS proj_rounds;
DROP INDEX IF EXISTS proj_meeting_board_round;
ALTER TABLE proj_meeting_board
    DROP COLUMN round_id, DROP COLUMN phase, DROP COLUMN starts_at, DROP COLUMN place,
    DROP COLUMN subjects, DROP COLUMN present_total, DROP COLUMN codes_issued, DROP COLUMN paper_ballots,
    DROP COLUMN ballots_counted, DROP COLUMN participation, DROP COLUMN flagged, DROP COLUMN head_hash,
    DROP COLUMN last_event_at;
"""


class Migration(migrations.Migration):
    dependencies = [("projections", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
