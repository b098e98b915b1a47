"""The registry projection's tables (projections.registry); built from the log by `shuping migrate`."""

from django.db import migrations

FORWARD = r"""
CREATE TABLE proj_registry_bodies (
    body_id       text PRIMARY KEY,
    name          text NOT NULL,
    kind          text NOT NULL,
    township_id   integer NOT NULL,
    township      text NOT NULL,
    village_id    integer,
    village       text,
    registered_at timestamptz NOT NULL
);
CREATE INDEX proj_registry_bodies_place ON proj_registry_bodies (township, village, name);
CREATE TABLE proj_registry_officials (
    official_id   text PRIMARY KEY,
    name          text NOT NULL,
    gender        text,
    corrections   integer NOT NULL DEFAULT 0,
    registered_at timestamptz NOT NULL
);
CREATE INDEX proj_registry_officials_name ON proj_registry_officials (name);
CREATE TABLE proj_registry_posts (
    official_id text NOT NULL,
    post_no     integer NOT NULL,
    body_id     text NOT NULL,
    post        text NOT NULL,
    from_date   date NOT NULL,
    to_date     date,
    PRIMARY KEY (official_id, post_no)
);
CREATE INDEX proj_registry_posts_body ON proj_registry_posts (body_id);
CREATE TABLE proj_registry_subjects (
    stream_id            text NOT NULL,
    meeting_id           text NOT NULL,
    subject_id           text NOT NULL,
    position             integer NOT NULL,
    official_id          text,
    body_id              text,
    name                 text NOT NULL,
    post                 text,
    kind                 text NOT NULL,
    level                text NOT NULL,
    ballots              integer,
    favourable_percent   text,
    unfavourable_percent text,
    score                text,
    flagged              boolean,
    PRIMARY KEY (stream_id, subject_id)
);
CREATE INDEX proj_registry_subjects_official ON proj_registry_subjects (official_id) WHERE official_id IS NOT NULL;
CREATE INDEX proj_registry_subjects_body ON proj_registry_subjects (body_id) WHERE body_id IS NOT NULL;
INSERT INTO projection_stale (name) VALUES ('registry') ON CONFLICT DO NOTHING;
"""

BACKWARD = r"""
DROP TABLE IF EXISTS proj_registry_subjects;
DROP TABLE IF EXISTS proj_registry_posts;
DROP TABLE IF EXISTS proj_registry_officials;
DROP TABLE IF EXISTS proj_registry_bodies;
"""


class Migration(migrations.Migration):
    dependencies = [("projections", "0003_board_results_batches")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
