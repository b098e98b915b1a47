"""Export one stream (a meeting's log) as a self-contained JSON Lines file.

The format is docs/event-log-format.md: a header line, then one line per
event with every field the hash covers, so `shuping log verify` (or an
auditor's own program) can check it with no database and no code of ours.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from django.db import connection, transaction

from events.chain import format_recorded_at
from events.reading import iter_stream, stream_head
from events.records import current_county
from events.shuping_verify.spelling import event_line

LOG_FORMAT = "shuping-log"
LOG_FORMAT_VERSION = 1

# Turns an event's line into what is written; None leaves it as it is. A
# public log (meetings.public_log) uses it to take personal data out.
Redaction = Callable[[dict[str, Any]], dict[str, Any]]


def _line(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n"


def export_stream(
    stream_id: str, out: IO[str], *, log_format: str = LOG_FORMAT, redact: Redaction | None = None,
) -> dict[str, object]:
    """Write the stream's log to `out`; return the header that was written."""
    county = current_county()
    # One snapshot for the header and the events: REPEATABLE READ makes the
    # count and head agree with the lines even while appends go on.
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        version, head = stream_head(stream_id)
        header = {
            "format": log_format,
            "format_version": LOG_FORMAT_VERSION,
            "county": county,
            "stream": stream_id,
            "exported_at": format_recorded_at(datetime.now(UTC)),
            "event_count": version,
            "head_hash": head if version else None,
        }
        out.write(_line(header))
        for event in iter_stream(stream_id):
            line: dict[str, Any] = {
                "position": event.position,
                "stream": event.stream_id,
                "version": event.stream_version,
                "type": event.type,
                "schema_version": event.schema_version,
                "data": event.data,
                "metadata": event.metadata,
                "recorded_at": format_recorded_at(event.recorded_at),
                "prev_hash": event.prev_hash,
                "hash": event.hash,
            }
            # The spelling the verifier reads quickly (docs/event-log-format.md section 2); any
            # spelling would verify the same.
            out.write(event_line(redact(line) if redact is not None else line) + "\n")
    return header


def export_stream_to_file(stream_id: str, path: Path) -> dict[str, object]:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        return export_stream(stream_id, out)
