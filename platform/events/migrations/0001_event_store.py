"""The event store of one county: the log, stream heads, command ids, checkpoints.

Written as SQL because every detail matters and must be visible: the
immutability triggers, the commit-order column, the indexes readers use.
Runs in each county schema (and the template they are cloned from); names are
unqualified so they land in the schema being migrated.
"""

from django.db import migrations

FORWARD = r"""
CREATE TABLE events (
    -- County-wide position, from a sequence: unique and increasing in the
    -- order positions were *taken*, which is not the order transactions
    -- *commit*. Readers that tail the log order by (transaction_id, position)
    -- and stay below the commit-order watermark; see events/store.py.
    position        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8 NOT NULL DEFAULT pg_current_xact_id(),
    stream_id       text NOT NULL CHECK (length(stream_id) BETWEEN 1 AND 200),
    stream_version  integer NOT NULL CHECK (stream_version >= 1),
    type            text NOT NULL,
    schema_version  smallint NOT NULL CHECK (schema_version >= 1),
    data            jsonb NOT NULL,
    metadata        jsonb NOT NULL,
    recorded_at     timestamptz NOT NULL,
    prev_hash       char(64) NOT NULL,
    hash            char(64) NOT NULL,
    CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version)
);
CREATE INDEX events_commit_order ON events (transaction_id, position);

-- One row per stream: its version and head hash. Appenders lock this row, so
-- appends to one stream (one meeting) are serialized and each event links to
-- the hash of the one before it; appends to different streams run in parallel.
CREATE TABLE event_streams (
    stream_id   text PRIMARY KEY,
    version     integer NOT NULL,
    head_hash   char(64) NOT NULL,
    updated_at  timestamptz NOT NULL
);

-- Idempotency: a command id is recorded with the result of its append in the
-- same transaction, so a retry finds the original result and appends nothing.
CREATE TABLE event_commands (
    command_id  uuid PRIMARY KEY,
    stream_id   text NOT NULL,
    result      jsonb NOT NULL,
    recorded_at timestamptz NOT NULL
);

-- Catch-up projections save where they are in the same transaction as their rows.
CREATE TABLE projection_checkpoints (
    name            text PRIMARY KEY,
    transaction_id  xid8 NOT NULL DEFAULT '0',
    position        bigint NOT NULL DEFAULT 0,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION events_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % on % is not allowed', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege',
              HINT = '事件日志只能追加，不能修改或删除 / events are never updated or deleted';
END
$$;
CREATE TRIGGER events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON events FOR EACH ROW EXECUTE FUNCTION events_reject_change();
CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON events FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();
-- The command records are part of the evidence too (what was decided once).
CREATE TRIGGER event_commands_no_update_or_delete
    BEFORE UPDATE OR DELETE ON event_commands FOR EACH ROW EXECUTE FUNCTION events_reject_change();
CREATE TRIGGER event_commands_no_truncate
    BEFORE TRUNCATE ON event_commands FOR EACH STATEMENT EXECUTE FUNCTION events_reject_change();

-- Defence in depth where the deployment runs the application under its own
-- role: nobody but the owner gets more than reading and appending.
REVOKE ALL ON events, event_commands FROM PUBLIC;
"""

BACKWARD = r"""
DROP TABLE IF EXISTS projection_checkpoints;
DROP TABLE IF EXISTS event_commands;
DROP TABLE IF EXISTS event_streams;
DROP TABLE IF EXISTS events;
DROP FUNCTION IF EXISTS events_reject_change();
"""


class Migration(migrations.Migration):
    initial = True
    dependencies: list[tuple[str, str]] = []
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
