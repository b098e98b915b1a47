"""Event types of the county's staff stream (`county-staff`): role grants, revocations, deactivations.

Account names are recorded as they are (staff actions are not secret, unlike
ballots). A privileged role takes effect with RoleGranted only; a request
waiting for its second person is RoleGrantRequested.
"""

from __future__ import annotations

from dataclasses import dataclass

from events.types import DomainEvent, event_type


@event_type(version=1)
@dataclass(frozen=True)
class RoleGrantRequested(DomainEvent):
    """A county admin asked that `username` hold `role`; nothing changes until a second person confirms."""

    grant_id: str
    username: str
    role: str
    requested_by: str


@event_type(version=1)
@dataclass(frozen=True)
class RoleGranted(DomainEvent):
    """`username` now holds `role` (replacing any role before).

    `confirmed_by` is the second person (another county admin, or
    "platform:<name>" when the platform granted it directly: the demo, the
    command line, a county's first administrator); None for a role that needs
    no second person (observer).
    """

    grant_id: str
    username: str
    role: str
    requested_by: str
    confirmed_by: str | None


@event_type(version=1)
@dataclass(frozen=True)
class RoleGrantDeclined(DomainEvent):
    """A pending request was turned down by a second person, or withdrawn by its requester."""

    grant_id: str
    declined_by: str


@event_type(version=1)
@dataclass(frozen=True)
class RoleRevoked(DomainEvent):
    """`username` holds no role any more (taking a role away needs no second person)."""

    username: str
    role: str
    revoked_by: str


@event_type(version=1)
@dataclass(frozen=True)
class AccountDeactivated(DomainEvent):
    """`username` can no longer log in or act; its pending requests lapse."""

    username: str
    deactivated_by: str
