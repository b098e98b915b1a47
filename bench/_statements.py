"""The limit for the event store: the same statements, sent by psycopg with precomputed parameters.

Issue 18 asks for our append against "the same statements (lock, version and
idempotency check, insert, head move, projection) sent by psycopg with
precomputed parameters, no validation, hashing or Django". Rather than write
those statements a second time (and let the copy drift from the store), the
limit records them: each writer first appends its ballots through
`events.store.append` in a county of its own ("record" county), untimed, while
every statement its thread sends through a psycopg cursor is captured with its
parameters, append by append. The timed writer then sends exactly those
statements, in the same transactions (BEGIN implied by the first statement,
COMMIT at the end, as Django's atomic block does), to a second county whose
streams start where the record county's did. What it leaves out is what the
limit must leave out: validation, canonical JSON, hashing, Django and the
after-commit publish.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import psycopg

_local = threading.local()
_patch_lock = threading.Lock()
_patched = 0
_original_execute = psycopg.Cursor.execute


def _recording_execute(self: Any, query: Any, params: Any = None, **kwargs: Any) -> Any:
    tape = getattr(_local, "tape", None)
    # The county is the timed connection's own search_path, not the record county's.
    if tape is not None and "search_path" not in str(query):
        tape.append((query, params))
    return _original_execute(self, query, params, **kwargs)


@contextlib.contextmanager
def recording() -> Iterator[list[tuple[Any, Any]]]:
    """Capture (query, params) of every psycopg statement this thread sends inside the block."""
    global _patched
    with _patch_lock:
        if _patched == 0:
            psycopg.Cursor.execute = _recording_execute  # type: ignore[method-assign]
        _patched += 1
    _local.tape = tape = []
    try:
        yield tape
    finally:
        _local.tape = None
        with _patch_lock:
            _patched -= 1
            if _patched == 0:
                psycopg.Cursor.execute = _original_execute  # type: ignore[method-assign]


class StatementsWriter:
    """Sends, per append, the statements `events.store.append` sent for the same ballot.

    `ours` is an OursWriter bound to the record county; it is opened and run
    here (untimed) to record the tapes. `schema` is the county the timed
    statements go to.
    """

    def __init__(self, url: str, schema: str, ours: Any) -> None:
        self.url, self.schema, self.ours = url, schema, ours

    def open(self) -> None:
        with recording() as setup:
            self.ours.open()  # creates the stream and warms up: replayed below as set-up
        self.tapes: list[list[tuple[Any, Any]]] = []
        for k in range(len(self.ours._events)):
            with recording() as tape:
                self.ours.append(k)
            self.tapes.append(list(tape))
        self.ours.close()
        self.conn = psycopg.connect(self.url, autocommit=False)
        self.conn.execute("SELECT set_config('search_path', %s, false)", [f"{self.schema},public"])
        self.conn.commit()
        for query, params in setup:
            self.conn.execute(query, params)
            self.conn.commit()

    def append(self, k: int) -> None:
        conn = self.conn
        for query, params in self.tapes[k]:
            conn.execute(query, params)
        conn.commit()

    def statements(self) -> int:
        return len(self.tapes[0]) if self.tapes else 0

    def close(self) -> None:
        self.conn.close()
