"""The log index: per stream, how many events of which type, and its head (catch-up).

What an auditor's overview lists before exporting a meeting's log. Catch-up,
because nobody needs it in the same transaction as a ballot.

A batch (a page of a catch-up or a rebuild) is folded per stream into one
upsert: its count, its types' counts, its highest version and position, and
the hash at that version. One upsert per event updated a meeting's row a
thousand times in one transaction, each update walking a longer chain of the
row's versions (the board's problem too, projections.meeting_board); the rows
end as one event at a time would leave them (tests/integration/test_projections.py).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from events.records import RecordedEvent
from projections.runtime import Cursor, Projection, register

UPSERT = """
    INSERT INTO proj_log_index AS li (stream_id, events, last_version, last_position, head_hash, by_type)
    VALUES (%s, %s, %s, %s, %s, %s::jsonb)
    ON CONFLICT (stream_id) DO UPDATE SET
        events = li.events + EXCLUDED.events,
        last_version = GREATEST(li.last_version, EXCLUDED.last_version),
        last_position = GREATEST(li.last_position, EXCLUDED.last_position),
        head_hash = CASE WHEN EXCLUDED.last_version > li.last_version
                         THEN EXCLUDED.head_hash ELSE li.head_hash END,
        by_type = COALESCE((SELECT jsonb_object_agg(kind, COALESCE((li.by_type ->> kind)::int, 0)
                                                          + COALESCE((EXCLUDED.by_type ->> kind)::int, 0))
                            FROM jsonb_object_keys(li.by_type || EXCLUDED.by_type) AS kind), '{}'::jsonb)
"""


class _Stream:
    """One stream's events of a batch, summed."""

    __slots__ = ("events", "last_version", "last_position", "head_hash", "by_type")

    def __init__(self, event: RecordedEvent) -> None:
        self.events = 0
        self.last_version = event.stream_version
        self.last_position = event.position
        self.head_hash = event.hash
        self.by_type: dict[str, int] = {}

    def add(self, event: RecordedEvent) -> None:
        self.events += 1
        self.by_type[event.type] = self.by_type.get(event.type, 0) + 1
        if event.stream_version > self.last_version:
            self.last_version, self.head_hash = event.stream_version, event.hash
        if event.position > self.last_position:
            self.last_position = event.position


class LogIndex(Projection):
    name = "log_index"
    inline = False
    tables = ("proj_log_index",)

    @property
    def handles(self) -> frozenset[str]:  # type: ignore[override]
        from events.types import registered_types

        return frozenset(registered_types())

    def apply(self, cursor: Cursor, event: RecordedEvent) -> None:
        self.apply_many(cursor, [event])

    def apply_many(self, cursor: Cursor, events: Sequence[RecordedEvent]) -> None:
        """One upsert per stream of the batch (the events it handles, in log order)."""
        handles = self.handles
        streams: dict[str, _Stream] = {}
        for event in events:
            if event.type not in handles:
                continue
            stream = streams.get(event.stream_id)
            if stream is None:
                stream = streams[event.stream_id] = _Stream(event)
            stream.add(event)
        rows: list[list[Any]] = [
            [stream_id, s.events, s.last_version, s.last_position, s.head_hash, json.dumps(s.by_type)]
            for stream_id, s in streams.items()
        ]
        for row in rows:
            cursor.execute(UPSERT, row)


register(LogIndex())
