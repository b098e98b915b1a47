"""Tables of the comment ledger and of the 组织调整 flags (rows come from the log)."""

from django.db import migrations

FORWARD = r"""
CREATE TABLE proj_followup_comments (
    comment_id  text PRIMARY KEY,
    mode        text NOT NULL,          -- meeting, one_to_one, on_site, between_orgs, box
    manner      text NOT NULL,          -- face_to_face, suggestion_box, anonymous_letter
    commenter   text NOT NULL,          -- empty when back to back
    about       text NOT NULL,
    official_id text,
    township    text NOT NULL,
    village     text NOT NULL,
    village_id  integer,
    on_date     date NOT NULL,
    text        text NOT NULL,
    contact     text,                   -- only when the writer gave one; never on a public page
    recorded_at timestamptz NOT NULL,
    items       jsonb NOT NULL DEFAULT '[]'
);
CREATE INDEX proj_followup_comments_village ON proj_followup_comments (village_id);
CREATE TABLE proj_followup_adjustments (
    official_id text NOT NULL,
    year        integer NOT NULL,
    name        text NOT NULL,
    facts       jsonb NOT NULL,
    rule        text NOT NULL,
    flagged_at  timestamptz NOT NULL,
    PRIMARY KEY (official_id, year)
);
CREATE TABLE proj_followup_export_config (
    id            integer PRIMARY KEY CHECK (id = 1),
    bands         jsonb NOT NULL,
    over          text NOT NULL,
    configured_at timestamptz NOT NULL
);
"""

BACKWARD = """
DROP TABLE IF EXISTS proj_followup_export_config;
DROP TABLE IF EXISTS proj_followup_adjustments;
DROP TABLE IF EXISTS proj_followup_comments;
"""


class Migration(migrations.Migration):
    dependencies = [("followup", "0004_year")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
