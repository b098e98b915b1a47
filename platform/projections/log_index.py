"""The log index: per stream, how many events of which type, and its head (catch-up).

What an auditor's overview lists before exporting a meeting's log. Catch-up,
because nobody needs it in the same transaction as a ballot.
"""

from __future__ import annotations

import json

from events.records import RecordedEvent
from projections.runtime import Cursor, Projection, register


class LogIndex(Projection):
    name = "log_index"
    inline = False
    tables = ("proj_log_index",)

    @property
    def handles(self) -> frozenset[str]:  # type: ignore[override]
        from events.types import registered_types

        return frozenset(registered_types())

    def apply(self, cursor: Cursor, event: RecordedEvent) -> None:
        cursor.execute(
            """
            INSERT INTO proj_log_index AS li (stream_id, events, last_version, last_position, head_hash, by_type)
            VALUES (%s, 1, %s, %s, %s, %s::jsonb)
            ON CONFLICT (stream_id) DO UPDATE SET
                events = li.events + 1,
                last_version = GREATEST(li.last_version, EXCLUDED.last_version),
                last_position = GREATEST(li.last_position, EXCLUDED.last_position),
                head_hash = CASE WHEN EXCLUDED.last_version > li.last_version
                                 THEN EXCLUDED.head_hash ELSE li.head_hash END,
                by_type = jsonb_set(li.by_type, ARRAY[%s],
                                    to_jsonb(COALESCE((li.by_type ->> %s)::int, 0) + 1))
            """,
            [
                event.stream_id,
                event.stream_version,
                event.position,
                event.hash,
                json.dumps({event.type: 1}),
                event.type,
                event.type,
            ],
        )


register(LogIndex())
