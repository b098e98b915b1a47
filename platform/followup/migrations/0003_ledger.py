"""Tables of the interviews and rectification ledger projections (rows come from the log)."""

from django.db import migrations

FORWARD = r"""
CREATE TABLE proj_followup_interviews (
    interview_id         text PRIMARY KEY,
    meeting_id           text NOT NULL,
    subject_id           text NOT NULL,
    subject_name         text NOT NULL,
    township             text NOT NULL,
    village              text NOT NULL,
    unfavourable_percent text NOT NULL,
    kind                 text NOT NULL,           -- admonishment, summons
    opened_on            date NOT NULL,
    due_on               date NOT NULL,
    state                text NOT NULL,           -- opened, held, planned
    interviewer          text,
    held_on              date,
    record               text,
    plan                 text,
    plan_deadline        date,
    UNIQUE (meeting_id, subject_id)
);
CREATE TABLE proj_ledger_items (
    item_id       text PRIMARY KEY,
    source_kind   text NOT NULL,
    source_ref    text NOT NULL,
    meeting_id    text NOT NULL,
    township      text NOT NULL,
    village       text NOT NULL,
    problem       text NOT NULL,
    note          text NOT NULL,
    raised_by     text NOT NULL,
    raised_at     timestamptz NOT NULL,
    status        text NOT NULL,                  -- in_progress, overdue, done, closed
    reviewed_by   text,
    review_passed boolean,
    review_note   text,
    reviewed_at   timestamptz
);
CREATE INDEX proj_ledger_items_place ON proj_ledger_items (township, village);
CREATE TABLE proj_ledger_measures (
    item_id      text NOT NULL,
    measure_no   integer NOT NULL,
    text         text NOT NULL,
    owner        text NOT NULL,
    deadline     date NOT NULL,
    status       text NOT NULL,                   -- in_progress, overdue, done
    completed_on date,
    completed_by text,
    evidence     text NOT NULL DEFAULT '',
    files        jsonb NOT NULL DEFAULT '[]',
    PRIMARY KEY (item_id, measure_no)
);
"""

BACKWARD = """
DROP TABLE IF EXISTS proj_ledger_measures;
DROP TABLE IF EXISTS proj_ledger_items;
DROP TABLE IF EXISTS proj_followup_interviews;
"""


class Migration(migrations.Migration):
    dependencies = [("followup", "0002_notices")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
