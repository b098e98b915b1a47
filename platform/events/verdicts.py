"""The verifier's verdict on a stream as the database holds it, cached per head.

The auditor's list shows, for every meeting, what `shuping log verify` would
say of its exported log (events.shuping_verify: chain, head, completeness,
recount). Verifying reads the whole stream, so a verdict is kept in Django's
cache under (county, stream, head hash): a list view re-verifies only the
streams that moved since. The entry also expires after VERDICT_SECONDS, so
that rows changed behind the platform's back (by the table's owner, past the
trigger) without moving the stored head are caught on a later view; one
meeting's own page asks for a fresh verdict (`fresh=True`).
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache

from events.export import export_stream
from events.reading import stream_head, streams
from events.records import current_county
from events.shuping_verify import verify_lines

VERDICT_SECONDS = 600


@dataclass(frozen=True)
class Verdict:
    """What the verifier said of a stream's log at `head_hash` (`event_count` events)."""

    ok: bool
    event_count: int
    head_hash: str | None
    results_recounted: int
    closed_at: int | None
    problem_code: str | None = None
    problem_zh: str | None = None
    problem_en: str | None = None

    @property
    def state(self) -> str:
        """"verified", "failed" or "empty" (a stream with no event)."""
        if not self.event_count:
            return "empty"
        return "verified" if self.ok else "failed"

    def to_data(self) -> dict[str, Any]:
        return {
            "state": self.state, "ok": self.ok, "event_count": self.event_count, "head_hash": self.head_hash,
            "results_recounted": self.results_recounted, "closed_at": self.closed_at,
            "problem": None if self.problem_code is None else {
                "code": self.problem_code, "message": self.problem_zh, "message_en": self.problem_en,
            },
        }


def _key(county: str, stream_id: str, head: str) -> str:
    # Cache keys carry the county: stream ids repeat across county schemas.
    return f"shuping:verdict:{county}:{stream_id}:{head}"


def verify_stream(stream_id: str) -> Verdict:
    """Export the stream from the database (one snapshot) and verify the lines, as an auditor would."""
    out = io.StringIO()
    export_stream(stream_id, out)
    report = verify_lines(out.getvalue().splitlines())
    first = report.first_problem
    return Verdict(
        ok=report.ok, event_count=report.event_count, head_hash=report.head_hash,
        results_recounted=report.results_recounted, closed_at=report.closed_at,
        problem_code=first.code if first else None,
        problem_zh=first.message_zh if first else None,
        problem_en=first.message if first else None,
    )


def stream_verdict(stream_id: str, *, fresh: bool = False) -> Verdict:
    """The verdict on the stream at its current head: from the cache unless it moved (or `fresh`)."""
    _version, head = stream_head(stream_id)
    return _verdict(current_county(), stream_id, head, fresh=fresh)


def stream_verdicts(stream_ids: Iterable[str]) -> dict[str, Verdict]:
    """Verdicts on several streams (those that exist), their heads read in one query."""
    county = current_county()
    heads = {stream_id: head for stream_id, _version, head in streams()}
    return {stream_id: _verdict(county, stream_id, heads[stream_id]) for stream_id in stream_ids if stream_id in heads}


def _verdict(county: str, stream_id: str, head: str, *, fresh: bool = False) -> Verdict:
    if not fresh:
        found = cache.get(_key(county, stream_id, head))
        if isinstance(found, Verdict):
            return found
    verdict = verify_stream(stream_id)
    # Filed under the stored head it was asked for: a failed verdict's own head_hash is that of the
    # last event that passed, and appends since the head was read only make the entry unused.
    cache.set(_key(county, stream_id, head), verdict, VERDICT_SECONDS)
    return verdict
