"""Tables of the first read models. Disposable: rebuilt from the log at will."""

from django.db import migrations

FORWARD = r"""
CREATE TABLE proj_meeting_board (
    stream_id               text PRIMARY KEY,
    meeting_id              text NOT NULL,
    title                   text NOT NULL,
    township                text NOT NULL,
    village                 text NOT NULL,
    party_members_present   integer NOT NULL DEFAULT 0,
    representatives_present integer NOT NULL DEFAULT 0,
    guests_present          integer NOT NULL DEFAULT 0,
    questions_asked         integer NOT NULL DEFAULT 0,
    questions_answered      integer NOT NULL DEFAULT 0,
    questions_deferred      integer NOT NULL DEFAULT 0,
    ballots_cast            integer NOT NULL DEFAULT 0,
    version                 integer NOT NULL
);
CREATE TABLE proj_log_index (
    stream_id     text PRIMARY KEY,
    events        integer NOT NULL,
    last_version  integer NOT NULL,
    last_position bigint NOT NULL,
    head_hash     char(64) NOT NULL,
    by_type       jsonb NOT NULL
);
"""

BACKWARD = "DROP TABLE IF EXISTS proj_log_index; DROP TABLE IF EXISTS proj_meeting_board;"


class Migration(migrations.Migration):
    initial = True
    dependencies = [("events", "0001_event_store")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
