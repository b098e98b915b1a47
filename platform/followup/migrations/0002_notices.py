"""The notices projection's tables (rows come from the `notices-<meeting id>` streams)."""

from django.db import migrations

FORWARD = r"""
CREATE TABLE proj_notices (
    notice_id             text PRIMARY KEY,
    meeting_id            text NOT NULL,
    meeting_title         text NOT NULL,
    township              text NOT NULL,
    village               text NOT NULL,
    title                 text NOT NULL,
    body                  text NOT NULL,
    subjects              text NOT NULL,      -- JSON list of NoticeSubject (text: rows are compared in rebuilds)
    flagged_subjects      text NOT NULL,      -- JSON list of names
    ballots_counted       integer NOT NULL,
    eligible              integer NOT NULL,
    participation_percent text NOT NULL,
    head_hash             text NOT NULL,
    head_version          integer NOT NULL,
    working_days          integer NOT NULL,
    published_by          text NOT NULL,
    published_at          timestamptz NOT NULL,
    period_ends           timestamptz NOT NULL,
    supersedes            text,
    superseded_by         text,
    ended_at              timestamptz
);
CREATE INDEX proj_notices_meeting ON proj_notices (meeting_id);
CREATE INDEX proj_notices_open ON proj_notices (period_ends) WHERE ended_at IS NULL AND superseded_by IS NULL;

CREATE TABLE proj_objections (
    objection_id text PRIMARY KEY,
    notice_id    text NOT NULL,
    meeting_id   text NOT NULL,
    body         text NOT NULL,
    contact      text,                       -- for the county only: never on a public page
    raised_at    timestamptz NOT NULL,
    answer       text,
    answered_by  text,
    answered_at  timestamptz
);
CREATE INDEX proj_objections_notice ON proj_objections (notice_id);

CREATE TABLE proj_filings (
    meeting_id text PRIMARY KEY,
    filing_id  text NOT NULL,
    notice_id  text NOT NULL,
    head_hash  text NOT NULL,
    filed_by   text NOT NULL,
    filed_at   timestamptz NOT NULL
);
"""

BACKWARD = "DROP TABLE IF EXISTS proj_filings; DROP TABLE IF EXISTS proj_objections; DROP TABLE IF EXISTS proj_notices;"


class Migration(migrations.Migration):
    dependencies = [("followup", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
