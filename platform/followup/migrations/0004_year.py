"""Tables of the county's year: commitments, quarterly scores and rankings, 软弱涣散 listings (rows come from the log)."""

from django.db import migrations

FORWARD = r"""
CREATE TABLE proj_commitments (
    commitment_id text PRIMARY KEY,
    direction     text NOT NULL,                  -- township_to_village, village_to_township
    official_id   text NOT NULL,
    official_name text NOT NULL,
    post          text NOT NULL,
    township_id   integer NOT NULL,
    township      text NOT NULL,
    village_id    integer NOT NULL,
    village       text NOT NULL,
    year          integer NOT NULL,
    signed_on     date NOT NULL,
    version_no    integer NOT NULL,               -- the version in force
    recorded_by   text NOT NULL
);
CREATE INDEX proj_commitments_village ON proj_commitments (village_id, year);
CREATE INDEX proj_commitments_official ON proj_commitments (official_id, year);
CREATE TABLE proj_commitment_versions (
    commitment_id text NOT NULL,
    version_no    integer NOT NULL,
    tasks         jsonb NOT NULL,
    goals         jsonb NOT NULL,
    reason        text NOT NULL,
    made_on       date NOT NULL,
    recorded_by   text NOT NULL,
    PRIMARY KEY (commitment_id, version_no)
);
CREATE TABLE proj_commitment_progress (
    commitment_id text NOT NULL,
    report_no     integer NOT NULL,
    month         integer NOT NULL,
    text          text NOT NULL,
    evidence      text NOT NULL,
    reported_on   date NOT NULL,
    reported_by   text NOT NULL,
    PRIMARY KEY (commitment_id, report_no)
);
CREATE TABLE proj_commitment_scores (
    commitment_id text NOT NULL,
    quarter       integer NOT NULL,
    score         integer NOT NULL,
    note          text NOT NULL,
    scored_by     text NOT NULL,
    PRIMARY KEY (commitment_id, quarter)
);
CREATE TABLE proj_scoring_criteria (
    criteria_version integer PRIMARY KEY,
    criteria         jsonb NOT NULL,
    reason           text NOT NULL,
    set_by           text NOT NULL,
    set_at           timestamptz NOT NULL
);
CREATE TABLE proj_quarter_rankings (
    township_id      integer NOT NULL,
    quarter          text NOT NULL,
    village_id       integer NOT NULL,
    township         text NOT NULL,
    village          text NOT NULL,
    points           jsonb NOT NULL,
    total            integer NOT NULL,
    rank             integer NOT NULL,
    rank_from_bottom integer NOT NULL,
    villages_ranked  integer NOT NULL,
    bottom_three     boolean NOT NULL,
    criteria_version integer NOT NULL,
    recorded_by      text NOT NULL,
    PRIMARY KEY (township_id, quarter, village_id)
);
CREATE INDEX proj_quarter_rankings_village ON proj_quarter_rankings (village_id, quarter);
CREATE TABLE proj_weak_listings (
    village_id  integer NOT NULL,
    quarter     text NOT NULL,
    township_id integer NOT NULL,
    township    text NOT NULL,
    village     text NOT NULL,
    rankings    jsonb NOT NULL,
    rule        text NOT NULL,
    item_id     text NOT NULL,
    listed_at   timestamptz NOT NULL,
    PRIMARY KEY (village_id, quarter)
);
"""

BACKWARD = """
DROP TABLE IF EXISTS proj_weak_listings;
DROP TABLE IF EXISTS proj_quarter_rankings;
DROP TABLE IF EXISTS proj_scoring_criteria;
DROP TABLE IF EXISTS proj_commitment_scores;
DROP TABLE IF EXISTS proj_commitment_progress;
DROP TABLE IF EXISTS proj_commitment_versions;
DROP TABLE IF EXISTS proj_commitments;
"""


class Migration(migrations.Migration):
    dependencies = [("followup", "0003_ledger")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
