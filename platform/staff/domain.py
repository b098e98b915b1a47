"""The county's staff as an aggregate (plain Python): who holds which role, which grants wait.

The rule that keeps one person from making a second teller (or host,
auditor, administrator) on their own: a privileged role takes effect only
when a second person confirms the request, someone who is neither the
requester nor the account that would get the role. The platform itself
(demo, command line, a county's first administrator) grants directly, and
the event says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from common.refusal import Conflict, Forbidden, NotFound, Refusal
from events.types import DomainEvent
from staff.events import (
    AccountDeactivated,
    RoleGrantDeclined,
    RoleGranted,
    RoleGrantRequested,
    RoleRevoked,
)

# Roles whose holders can count, run or audit a vote: two people must agree to hand one out.
PRIVILEGED = frozenset({"county_admin", "host", "teller", "auditor"})
GRANTABLE = PRIVILEGED | {"observer"}


@dataclass(frozen=True)
class Pending:
    grant_id: str
    username: str
    role: str
    requested_by: str


@dataclass
class CountyStaff:
    roles: dict[str, str] = field(default_factory=dict)  # username -> role granted through the log
    pending: dict[str, Pending] = field(default_factory=dict)  # grant_id -> request
    inactive: set[str] = field(default_factory=set)
    decided: set[str] = field(default_factory=set)  # grant ids confirmed or declined
    version: int = 0

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        if isinstance(event, RoleGrantRequested):
            self.pending[event.grant_id] = Pending(event.grant_id, event.username, event.role, event.requested_by)
        elif isinstance(event, RoleGranted):
            self.pending.pop(event.grant_id, None)
            self.decided.add(event.grant_id)
            self.roles[event.username] = event.role
        elif isinstance(event, RoleGrantDeclined):
            self.pending.pop(event.grant_id, None)
            self.decided.add(event.grant_id)
        elif isinstance(event, RoleRevoked):
            self.roles.pop(event.username, None)
        elif isinstance(event, AccountDeactivated):
            self.inactive.add(event.username)
            self.roles.pop(event.username, None)
            for grant_id in [g for g, p in self.pending.items() if p.username == event.username]:
                del self.pending[grant_id]

    # -- decisions -------------------------------------------------------------------------------

    def grant(self, *, grant_id: str, username: str, role: str, by: str, direct: bool) -> list[DomainEvent]:
        """Ask for `role` for `username`; with `direct` (the platform) or an unprivileged role it takes effect now."""
        if role not in GRANTABLE:
            raise Refusal("没有这个角色", "no such role", code="unknown_role")
        self._require_active(username)
        if grant_id in self.pending or grant_id in self.decided:
            raise Conflict("该授权编号已被使用", "this grant id is taken", code="grant_exists")
        if any(p.username == username and p.role == role for p in self.pending.values()):
            raise Conflict(
                "该账号已有同一角色的授权在等待确认", "the same role is already waiting for confirmation for this account",
                code="grant_pending",
            )
        if direct or role not in PRIVILEGED:
            return [RoleGranted(grant_id=grant_id, username=username, role=role, requested_by=by,
                                confirmed_by=by if direct else None)]
        return [RoleGrantRequested(grant_id=grant_id, username=username, role=role, requested_by=by)]

    def confirm(self, *, grant_id: str, by: str, direct: bool) -> list[DomainEvent]:
        """The second person confirms: the role takes effect. Never the requester, never the grantee."""
        request = self._pending(grant_id)
        if not direct and by == request.requested_by:
            raise Forbidden(
                "不能确认自己提出的授权：须由另一位县委组织部管理员确认",
                "you cannot confirm your own request: another county administrator must",
                code="own_grant",
            )
        if not direct and by == request.username:
            raise Forbidden("不能确认授予自己的角色", "you cannot confirm a role for yourself", code="own_grant")
        self._require_active(request.username)
        return [RoleGranted(grant_id=grant_id, username=request.username, role=request.role,
                            requested_by=request.requested_by, confirmed_by=by)]

    def decline(self, *, grant_id: str, by: str) -> list[DomainEvent]:
        """A second person declines, or the requester withdraws."""
        self._pending(grant_id)
        return [RoleGrantDeclined(grant_id=grant_id, declined_by=by)]

    def revoke(self, *, username: str, current_role: str, by: str) -> list[DomainEvent]:
        """Take the account's role away (now: less power needs no second person)."""
        if not current_role:
            raise Conflict("该账号没有角色", "the account holds no role", code="no_role")
        return [RoleRevoked(username=username, role=current_role, revoked_by=by)]

    def deactivate(self, *, username: str, by: str) -> list[DomainEvent]:
        if username == by:
            raise Forbidden("不能停用自己的账号", "you cannot deactivate your own account", code="own_account")
        self._require_active(username)
        return [AccountDeactivated(username=username, deactivated_by=by)]

    def _pending(self, grant_id: str) -> Pending:
        request = self.pending.get(grant_id)
        if request is None:
            if grant_id in self.decided:
                raise Conflict("该授权已经处理过了", "this grant was already decided", code="grant_decided")
            raise NotFound("找不到该授权申请", "no such grant request", code="unknown_grant")
        return request

    def _require_active(self, username: str) -> None:
        if username in self.inactive:
            raise Conflict("该账号已停用", "the account is deactivated", code="account_inactive")
