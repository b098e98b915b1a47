"""The one role policy: which role may do what, for commands, reads and pages.

Every place that asks "may this person do this?" asks here: the doors
(meetings.actions check_* functions) with `require`, the API's permission
classes with `allowed`, the pages with `may`. An action is a name (the door's
name without `check_`, a read, or `page:<kind>`); asking about a name this
module does not know is a programming error (KeyError), never a silent yes.

Two actors are not accounts: a voter (anyone holding a ballot code; the code
is the credential, checked by the domain, and no identity is recorded) and
the platform itself (the demo and command-line tools, never a request).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models
from rest_framework.permissions import BasePermission

from common.refusal import Forbidden


class Role(models.TextChoices):
    OPERATOR = "operator", "平台运营 / platform operator"
    COUNTY_ADMIN = "county_admin", "县委组织部 / county administrator"
    HOST = "host", "主持人 / meeting host"
    TELLER = "teller", "计票员 / teller"
    AUDITOR = "auditor", "纪委审计 / auditor"
    OBSERVER = "observer", "观察员 / observer"
    # A city's or province's organization department (regions): the public site only, never a county.
    REGION_VIEWER = "region_viewer", "地市/省组织部 / region viewer"


COUNTY_ROLES = frozenset(role.value for role in Role if role not in (Role.OPERATOR, Role.REGION_VIEWER))
VOTER = "voter"  # not an account: whoever holds a ballot code
PUBLIC = "public"  # not an account: anyone reading a public notice (no name, no address recorded)
PLATFORM = "platform"  # not an account: the platform acting from code (demo, CLI)

_ADMIN = frozenset({Role.COUNTY_ADMIN.value})
_HOSTS = frozenset({Role.HOST.value, Role.COUNTY_ADMIN.value})
_DESK = _HOSTS | {Role.TELLER.value}  # who checks people in at the door
_TELLERS = frozenset({Role.TELLER.value})
_AUDIT = frozenset({Role.AUDITOR.value, Role.COUNTY_ADMIN.value})
_VOTERS = frozenset({VOTER})
_PUBLIC = frozenset({PUBLIC})

POLICY: dict[str, frozenset[str]] = {
    # commands: the doors of meetings.actions
    "open_round": _ADMIN,
    "schedule_meeting": _ADMIN,
    "import_roster": _ADMIN,
    # the registry of officials and bodies (meetings.registry.actions)
    "register_body": _ADMIN,
    "rename_body": _ADMIN,
    "register_official": _ADMIN,
    "assign_post": _ADMIN,
    "end_post": _ADMIN,
    "correct_official": _ADMIN,
    "announce_meeting": _HOSTS,
    "check_in": _DESK,
    "check_in_guest": _DESK,
    "override_quorum": _HOSTS,
    "open_meeting": _HOSTS,
    "start_report": _HOSTS,
    "end_report": _HOSTS,
    "record_comment": _HOSTS,
    "ask_question": _HOSTS,
    "answer_question": _HOSTS,
    "defer_question": _HOSTS,
    "issue_ballot_codes": _HOSTS,
    "mark_codes_printed": _HOSTS,
    "accept_count_discrepancy": _HOSTS,
    "open_ballot": _HOSTS,
    "close_ballot": _HOSTS,
    "enter_paper_batch": _TELLERS,
    "announce_results": _HOSTS,
    "close_meeting": _HOSTS,
    "revoke_screen_links": _HOSTS,
    "cast_ballot": _VOTERS,
    "ask_question_anonymously": _VOTERS,
    # reads
    "read": COUNTY_ROLES,
    "read_paper_batch": _DESK | {Role.AUDITOR.value},
    "export_log": _AUDIT,
    # pages
    "page:dashboard": COUNTY_ROLES,
    "page:console": _HOSTS,
    "page:teller": _TELLERS,
    "page:screen_open": _HOSTS,  # a hall-screen link is minted by whoever runs the meeting
    # the county's staff (staff.actions): who holds which role
    "grant_role": _ADMIN,
    "confirm_role_grant": _ADMIN,
    "decline_role_grant": _ADMIN,
    "revoke_role": _ADMIN,
    "deactivate_account": _ADMIN,
    "page:staff": _ADMIN,
    "page:county_admin_site": _ADMIN,
    "page:registry": _ADMIN,
    "page:schedule": _ADMIN,  # live.schedule: a township's village meetings in one form
    "page:announce": _HOSTS,  # live.announce: announce a meeting; its printable notice
    # each role's own page after login (live.desks; LANDING below says which is whose)
    "page:workspace": _ADMIN,
    "page:round_new": _ADMIN,  # live.rounds: open a round from a preset
    "page:round": _ADMIN,  # live.rounds: a round's rules and meetings
    "page:results_export": _AUDIT,
    "page:my_meetings": _HOSTS,
    "page:my_batches": _TELLERS,
    "page:audit": _AUDIT,
    "page:replay": _AUDIT,  # live.audit: a meeting's log replayed, position by position
    "page:meetings": COUNTY_ROLES,
    # interviews and the rectification ledger (followup.actions.interviews, .ledger)
    "open_interview": frozenset(),  # by the rule only: the platform's sweeper opens it
    "hold_interview": _ADMIN,
    "file_rectification_plan": _ADMIN,
    "raise_ledger_item": _ADMIN,
    "add_measure": _ADMIN,
    "complete_measure": _ADMIN,
    "mark_measures_overdue": frozenset(),  # by the clock only: the platform's sweeper records it
    "review_ledger_item": _ADMIN,
    "page:ledger": _AUDIT,
    "page:interviews": _AUDIT,
    # after the meeting (followup.actions.notices): the public notice, objections, filing
    "publish_notice": _ADMIN,
    "answer_objection": _ADMIN,
    "file_results": _ADMIN,
    "raise_objection": _PUBLIC,
    "end_notice_period": frozenset(),  # time ends a period: only the platform's sweeper
    "page:notices": _ADMIN,
    # the county's year (followup.actions.commitments, .rankings): two-way commitments, quarterly scores and rankings
    "sign_commitment": _ADMIN,
    "amend_commitment": _ADMIN,
    "report_commitment_progress": _HOSTS,  # both levels keep their progress ledger (seed 002: 乡村两级分别建立工作推进台账)
    "score_commitment": _ADMIN,
    "set_scoring_criteria": _ADMIN,
    "record_quarter_scores": _ADMIN,
    "list_weak_organization": frozenset(),  # by the rule only: the platform's sweeper lists it
    "page:commitments": _HOSTS,
    "page:rankings": _AUDIT,
    # the comment ledger and 组织调整 (followup.actions.comments)
    "enter_comment": _ADMIN,
    "drop_suggestion": _PUBLIC,  # a village's public suggestion box: no account, nothing about the writer
    "flag_adjustment": frozenset(),  # by the rule only: the platform's sweeper records it
    "page:comments": _AUDIT,
    "configure_results_export": _ADMIN,  # the grade bands of the pay and appraisal export
    "page:records": _AUDIT,  # followup.records_pages: a person's and a village's record over the years
    "page:region": frozenset({Role.REGION_VIEWER.value}),  # regions.pages: a region's standings, public site
}

# Where each county role lands after logging in (a page it may open, above).
LANDING: dict[str, str] = {
    Role.COUNTY_ADMIN.value: "/workspace/",
    Role.HOST.value: "/my/meetings/",
    Role.TELLER.value: "/my/batches/",
    Role.AUDITOR.value: "/audit/",
    Role.OBSERVER.value: "/meetings/",
}


def may(role: str, action: str) -> bool:
    """Whether `role` may do `action` (the platform itself may do anything but vote)."""
    allowed_roles = POLICY[action]
    if role == PLATFORM:
        return VOTER not in allowed_roles
    return role in allowed_roles


@dataclass(frozen=True)
class Actor:
    """Who asks for a command: an account (name, role), a voter, or the platform."""

    name: str | None  # recorded in the event's metadata; None for a voter
    role: str

    @classmethod
    def of_user(cls, user: Any) -> Actor:
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return ANONYMOUS
        return cls(name=str(user.username), role=str(user.role))


ANONYMOUS = Actor(name=None, role="")
A_VOTER = Actor(name=None, role=VOTER)
A_MEMBER_OF_PUBLIC = Actor(name=None, role=PUBLIC)


def platform_actor(name: str) -> Actor:
    """The platform acting from code under `name` (e.g. "demo"); never for a request."""
    return Actor(name=name, role=PLATFORM)


def require(actor: Actor, action: str) -> None:
    """Raise Forbidden unless `actor` may do `action`."""
    if not may(actor.role, action):
        raise Forbidden("您的角色无权执行此操作", f"your role may not {action.replace('_', ' ')}")


class _Allowed(BasePermission):
    action = ""

    def has_permission(self, request: Any, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and may(str(user.role), self.action))


def allowed(action: str) -> type[BasePermission]:
    """DRF permission: a logged-in user of this county whose role may do `action`."""
    POLICY[action]  # an unknown action fails at import, not at request time
    return type(f"Allowed_{action}", (_Allowed,), {"action": action})
