"""The receipts of the counted ballots by digest (meetings.receipts_projection), for the public receipt check.

Replaces the scan of the county's ballots that 0008 left (a lookup read every
BallotCast of the county). Rows are written by the projection, inline; this
migration only creates the table and marks it stale, so `shuping migrate`
builds it from the log in each county.
"""

from django.db import migrations

FORWARD = r"""
CREATE TABLE proj_receipts (
    digest    bytea NOT NULL,
    stream_id text NOT NULL,
    PRIMARY KEY (digest, stream_id)
);
INSERT INTO projection_stale (name) VALUES ('receipts') ON CONFLICT DO NOTHING;
"""


class Migration(migrations.Migration):
    dependencies = [("meetings", "0008_drop_ballot_receipt_index"), ("projections", "0002_board_rounds")]
    operations = [migrations.RunSQL(FORWARD, "DROP TABLE IF EXISTS proj_receipts;")]
