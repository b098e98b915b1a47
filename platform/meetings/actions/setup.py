"""Doors that set a meeting up: schedule it in a round (with subjects and roster), announce it."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model

from accounts.roles import Actor, Role, require
from common.commands import CommandRef
from events import repository
from events.repository import Outcome
from events.types import DomainEvent
from meetings.actions._run import on_meeting
from meetings.domain.aggregate import Meeting
from meetings.domain.errors import InvalidCommand
from meetings.events import RosterEntry
from meetings.models import RosterMember
from meetings.registry.subjects import subject_entry
from meetings.streams import MEETING_PREFIX, load_round, meeting_stream, now


@dataclass(frozen=True)
class Scheduled:
    meeting_id: str
    outcome: Outcome[Meeting]


def check_schedule_meeting(
    *,
    actor: Actor,
    round_id: str,
    title: str,
    township: str,
    village: str,
    starts_at: datetime,
    place: str,
    subjects: Sequence[dict[str, Any]],
    roster: Sequence[dict[str, Any]] = (),
    village_id: int | None = None,
    meeting_id: str | None = None,
    host: str | None = None,
    command_id: CommandRef,
) -> Scheduled:
    """Schedule a meeting of a round and fix its rules (the round's), subjects and roster.

    The roster is the given entries plus, with `village_id`, that village's
    roster from the county's directory (a snapshot: later edits of the
    directory do not change the meeting). A subject is named for this
    meeting ({subject_id, name, level, kind}) or refers to the county's
    registry ({official_id} or {body_id}; meetings.registry.subjects):
    an unknown official or body, or an official whose posts have all ended,
    is refused and nothing is appended. `host` names the account (role
    host) that is to run the meeting; an unknown or non-host account is
    refused.
    """
    require(actor, "schedule_meeting")
    if host is not None:
        _require_host(host)
    rules = load_round(round_id).state.require_rules()
    new_id = meeting_id or f"m{uuid.uuid4().hex[:12]}"
    subject_entries = [subject_entry(x) for x in subjects]
    roster_entries = [RosterEntry(**x) for x in roster]
    if village_id is not None:
        roster_entries += _roster_of_village(village_id)

    def decide(meeting: Meeting) -> list[DomainEvent]:
        return _in_a_row(
            meeting,
            lambda m: m.schedule(
                meeting_id=new_id, title=title, township=township, village=village,
                starts_at=starts_at, place=place, round_id=round_id, host=host,
            ),
            lambda m: m.configure(rules=rules, subjects=subject_entries, roster=roster_entries),
        )

    outcome = repository.execute(
        meeting_stream(new_id), Meeting, decide, command_id=command_id, actor=actor.name
    )
    if outcome.result is not None:  # a retried command answers with the meeting it created
        new_id = outcome.result.stream_id.removeprefix(MEETING_PREFIX)
    return Scheduled(new_id, outcome)


def check_announce_meeting(
    *,
    actor: Actor,
    meeting_id: str,
    starts_at: datetime,
    place: str,
    agenda: Sequence[str],
    channels: Sequence[str],
    override_reason: str | None = None,
    command_id: CommandRef,
) -> Outcome[Meeting]:
    """Publish time, place and procedure; a lead time shorter than the rules' needs a reason."""
    require(actor, "announce_meeting")
    return on_meeting(
        meeting_id,
        lambda m: m.announce(
            starts_at=starts_at, place=place, agenda=list(agenda), channels=list(channels), now=now(),
            override_reason=override_reason,
        ),
        actor=actor, command_id=command_id,
    )


def _in_a_row(meeting: Meeting, *steps: Callable[[Meeting], Sequence[DomainEvent]]) -> list[DomainEvent]:
    """Decide several commands in a row on a private copy (schedule, then configure)."""
    state = copy.deepcopy(meeting)
    events: list[DomainEvent] = []
    for step in steps:
        new = list(step(state))
        for event in new:
            state.apply(event)
        events.extend(new)
    return events


def _roster_of_village(village_id: int) -> list[RosterEntry]:
    members = RosterMember.objects.filter(village_id=village_id).order_by("pk")
    if not members.exists():
        raise InvalidCommand("该村花名册为空", "the village's roster is empty", code="empty_roster")
    return [RosterEntry(member_id=f"p{m.pk}", name=m.name, category=m.category) for m in members]


def _require_host(username: str) -> None:
    """Refuse a host who is not an active host account of this county."""
    if not host_accounts().filter(username=username).exists():
        raise InvalidCommand(
            f"“{username}”不是本县的主持人账号", f"{username!r} is not a host account of this county",
            code="unknown_host",
        )


def host_accounts() -> Any:
    """The county's active accounts with the role host (whom a meeting may be given to)."""
    return get_user_model().objects.filter(role=Role.HOST.value, is_active=True).order_by("username")
