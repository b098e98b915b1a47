"""A command's id, and the fingerprint of the request it was sent with.

An idempotency key is a promise about one request: a retry of the same
request has the effect of one command and gets the first answer; the same
key with another request (another command, another meeting, another body) is
refused and changes nothing. The event store records the fingerprint with
the command id and compares it on every replay (events.store).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class CommandKey:
    id: str  # a UUID
    fingerprint: str | None = None  # what the id was first used for; None: not bound (code, not a request)

    @classmethod
    def of(cls, ref: CommandKey | uuid.UUID | str | None) -> CommandKey:
        """A key from what a caller passed: a key, a bare id (unbound), or nothing (a fresh id)."""
        if isinstance(ref, CommandKey):
            return ref
        return cls(str(uuid.UUID(str(ref))) if ref is not None else str(uuid.uuid4()))


CommandRef = CommandKey | uuid.UUID | str | None
"""What a door takes as its command id: a bound key (from a request), a bare id (from code), or none."""
