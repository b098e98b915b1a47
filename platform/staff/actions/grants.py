"""The doors of the county's staff: grant, confirm, decline, revoke a role; deactivate an account.

Every change to who may do what in a county enters here, is authorized by
the one role policy (accounts.roles), decided by the plain-Python aggregate
(staff.domain) and appended to the county's `county-staff` stream through
the one repository. The inline projection (staff.projection) lists the
grants and puts each account's effective role on the account row, which is
what the policy reads on every request.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence

from accounts.models import User
from accounts.roles import PLATFORM, Actor, require
from common.commands import CommandRef
from common.limits import require_clean_text
from common.refusal import NotFound, Refusal
from events import repository
from events.repository import Outcome
from events.types import DomainEvent
from staff.domain import CountyStaff
from staff.events import RoleGranted, RoleGrantRequested

STAFF_STREAM = "county-staff"
MAX_FIELD = 150  # Django's username length; grant ids and roles are far shorter


def _who(actor: Actor) -> str:
    """How the actor is named in the staff log: the account's name, or platform:<name>."""
    if actor.role == PLATFORM:
        return f"platform:{actor.name or 'platform'}"
    return actor.name or ""


def _bounded(*values: str) -> None:
    """What reaches the database or the log: no NUL, no lone surrogate, no more than MAX_FIELD characters."""
    require_clean_text(values)
    if any(len(value) > MAX_FIELD for value in values):
        raise Refusal("输入过长", "a value is too long", code="too_long")


def _account(username: str) -> User:
    _bounded(username)
    user = User.objects.filter(username=username).first()
    if user is None:
        raise NotFound("本县区没有这个账号", "no such account in this county", code="unknown_account")
    return user


def _run(actor: Actor, decide: Callable[[CountyStaff], Sequence[DomainEvent]], command_id: CommandRef) -> Outcome[CountyStaff]:
    return repository.execute(STAFF_STREAM, CountyStaff, decide, command_id=command_id, actor=actor.name)


def check_grant_role(*, actor: Actor, username: str, role: str, command_id: CommandRef) -> str:
    """Ask for `role` for the account; a privileged role waits for a second person. Returns the grant id."""
    require(actor, "grant_role")
    _bounded(role)
    _account(username)
    grant_id = f"g{uuid.uuid4().hex[:12]}"
    direct = actor.role == PLATFORM
    outcome = _run(
        actor, lambda s: s.grant(grant_id=grant_id, username=username, role=role, by=_who(actor), direct=direct),
        command_id,
    )
    # A retried command answers with the grant it recorded the first time.
    first = outcome.events[0] if outcome.events else None
    return first.grant_id if isinstance(first, RoleGranted | RoleGrantRequested) else grant_id


def check_confirm_role_grant(*, actor: Actor, grant_id: str, command_id: CommandRef) -> Outcome[CountyStaff]:
    """The second person confirms a pending grant (never its requester, never its grantee)."""
    require(actor, "confirm_role_grant")
    _bounded(grant_id)
    direct = actor.role == PLATFORM
    return _run(actor, lambda s: s.confirm(grant_id=grant_id, by=_who(actor), direct=direct), command_id)


def check_decline_role_grant(*, actor: Actor, grant_id: str, command_id: CommandRef) -> Outcome[CountyStaff]:
    require(actor, "decline_role_grant")
    _bounded(grant_id)
    return _run(actor, lambda s: s.decline(grant_id=grant_id, by=_who(actor)), command_id)


def check_revoke_role(*, actor: Actor, username: str, command_id: CommandRef) -> Outcome[CountyStaff]:
    require(actor, "revoke_role")
    current = str(_account(username).role)
    return _run(actor, lambda s: s.revoke(username=username, current_role=current, by=_who(actor)), command_id)


def check_deactivate_account(*, actor: Actor, username: str, command_id: CommandRef) -> Outcome[CountyStaff]:
    require(actor, "deactivate_account")
    _account(username)
    return _run(actor, lambda s: s.deactivate(username=username, by=_who(actor)), command_id)
