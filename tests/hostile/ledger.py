"""What a run of requests changed in the database, held against what their answers said.

`Ledger.take(schema)` counts, in every county schema, the tables a request
can write (the event log, the command records, the ballot box, the roster,
the directory, the API tokens) and remembers the fuzzed county's command ids
and last event position. `check(sent)` compares with the database after the
run and returns every change that no successful request accounts for:

- a command record or an event whose command id is not that of a request
  answered 2xx (every fuzz request names its command id through a fresh
  Idempotency-Key, so a command of a refused request, or one started
  without the key, is found by its id);
- a ballot in the box, a roster member, a token, a township or a village
  that no 2xx answer created;
- any change at all in another county.

Counts alone could be fooled (a refused request that appends while a
successful one appends less than it says); ids cannot.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection

from tests.hostile.fuzz import Sent

TABLES = (
    "events", "event_commands", "meetings_ballot_box", "meetings_rostermember", "accounts_apitoken",
    "meetings_township", "meetings_village",
)
BALLOT = "POST /api/v/{meeting_id}/ballot/"
BALLOT_CLOSE = "POST /api/meetings/{meeting_id}/ballot/close/"
ROSTER_IMPORT = "POST /api/rosters/import/"
TOKEN = "POST /api/token/"


def _county_schemas() -> list[str]:
    from tenants.models import County

    return sorted(County.objects.exclude(schema_name="public").values_list("schema_name", flat=True))


def _counts(schema: str) -> dict[str, int]:
    counts = {}
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f'SELECT count(*) FROM "{schema}"."{table}"')
            counts[table] = cursor.fetchone()[0]
    return counts


@dataclass
class Ledger:
    schema: str  # the county the requests were sent to
    counts: dict[str, dict[str, int]]  # schema -> table -> rows
    commands: frozenset[str]
    last_position: int

    @classmethod
    def take(cls, schema: str) -> Ledger:
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT command_id::text FROM "{schema}".event_commands')
            commands = frozenset(row[0] for row in cursor.fetchall())
            cursor.execute(f'SELECT coalesce(max(position), 0) FROM "{schema}".events')
            last = int(cursor.fetchone()[0])
        return cls(schema, {s: _counts(s) for s in _county_schemas()}, commands, last)

    def appended(self) -> tuple[int, int]:
        """(events, command records) of the county appended since `take`."""
        with connection.cursor() as cursor:
            cursor.execute(f'SELECT count(*) FROM "{self.schema}".events WHERE position > %s', [self.last_position])
            events = int(cursor.fetchone()[0])
            cursor.execute(f'SELECT command_id::text FROM "{self.schema}".event_commands')
            commands = len({row[0] for row in cursor.fetchall()} - self.commands)
        return events, commands

    def check(self, sent: Iterable[Sent]) -> list[str]:
        """Every change since `take` that the 2xx answers among `sent` do not account for (module docstring)."""
        sent = list(sent)
        succeeded = [s for s in sent if 200 <= s.status < 300]
        accepted = {s.command_id for s in succeeded}
        refused = {s.command_id for s in sent if not 200 <= s.status < 300}
        violations: list[str] = []

        with connection.cursor() as cursor:
            cursor.execute(f'SELECT command_id::text FROM "{self.schema}".event_commands')
            new_commands = {row[0] for row in cursor.fetchall()} - self.commands
            cursor.execute(
                f"SELECT position, type, metadata->>'command_id' FROM \"{self.schema}\".events WHERE position > %s",
                [self.last_position],
            )
            new_events = cursor.fetchall()
        if stray := sorted(new_commands & refused):
            violations.append(f"{len(stray)} command records of refused requests: {stray[:5]}")
        if stray := sorted(new_commands - accepted - refused):
            violations.append(f"{len(stray)} command records of no request sent: {stray[:5]}")
        if stray := [(p, t, c) for p, t, c in new_events if c not in accepted]:
            violations.append(f"{len(stray)} events of no successful request: {stray[:5]}")

        now = {s: _counts(s) for s in _county_schemas()}
        for schema, before in self.counts.items():
            after = now.get(schema, {})
            if schema != self.schema and after != before:
                violations.append(f"county {schema} changed: {before} -> {after}")
        before, after = self.counts[self.schema], now[self.schema]
        delta = {table: after[table] - before[table] for table in TABLES}
        if delta["events"] != len(new_events) or delta["event_commands"] != len(new_commands):
            violations.append(f"the log's counts moved otherwise than its rows: {delta}")
        violations += _directory_violations(delta, succeeded)
        return violations


def _directory_violations(delta: dict[str, int], succeeded: list[Sent]) -> list[str]:
    """Rows outside the log: each must come from a 2xx answer that says it made it."""
    violations = []
    casts = sum(1 for s in succeeded if s.label == BALLOT and s.status == 201)
    closed = any(s.label == BALLOT_CLOSE for s in succeeded)  # a close empties the box into the log
    box = delta["meetings_ballot_box"]
    if box > casts or (box != casts and not closed):
        violations.append(f"the ballot box moved by {box} with {casts} ballots accepted")
    created = sum(_int(s.body, "created") for s in succeeded if s.label == ROSTER_IMPORT and not _dry(s.body))
    if delta["meetings_rostermember"] != created:
        violations.append(f"the roster moved by {delta['meetings_rostermember']} with {created} members imported")
    logins = sum(1 for s in succeeded if s.label == TOKEN)
    if not 0 <= delta["accounts_apitoken"] <= logins:
        violations.append(f"the tokens moved by {delta['accounts_apitoken']} with {logins} logins accepted")
    for table in ("meetings_township", "meetings_village"):
        if delta[table]:
            violations.append(f"{table} moved by {delta[table]}")
    return violations


def _int(body: Any, name: str) -> int:
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, int) else 0


def _dry(body: Any) -> bool:
    return bool(body.get("dry_run")) if isinstance(body, dict) else False
