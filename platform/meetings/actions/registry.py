"""The registry's doors: every write to the county's officials and bodies enters through a check_* here.

Each door authorizes against the one role policy (accounts.roles), loads
the stream through the one repository, lets the aggregate (registry.domain)
decide, and appends; the registry projection (projections.registry) moves
in the same transaction. Townships and villages stay Django models (the
county's map, edited in the admin): a body copies their names into its event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from accounts.roles import Actor, require
from common.commands import CommandRef
from events import repository
from events.repository import Outcome
from events.types import DomainEvent
from meetings.models import Township, Village
from meetings.registry.domain import Body, Official, RegistryRefusal
from meetings.registry.events import BODY_PREFIX, OFFICIAL_PREFIX, body_stream, official_stream
from meetings.registry.streams import load_body, load_official


@dataclass(frozen=True)
class _Place:
    township_id: int
    township: str
    village_id: int | None
    village: str | None


def _township_and_village(*, township_id: int | None, village_id: int | None) -> _Place:
    """The township (and village) a body belongs to, from the county's map; a village implies its township."""
    if village_id is not None:
        village = Village.objects.select_related("township").filter(pk=village_id).first()
        if village is None:
            raise RegistryRefusal("找不到该村（社区）", "no such village", code="unknown_village", field="village_id")
        if township_id is not None and village.township_id != township_id:
            raise RegistryRefusal(
                "该村（社区）不属于所选乡镇", "the village is not in that township", code="village_not_in_township",
                field="village_id",
            )
        return _Place(village.township_id, village.township.name, village.pk, village.name)
    township = Township.objects.filter(pk=township_id).first() if township_id is not None else None
    if township is None:
        raise RegistryRefusal("请选择乡镇（街道）", "no such township", code="unknown_township", field="township_id")
    return _Place(township.pk, township.name, None, None)


def _new_body_id() -> str:
    return f"bd{uuid.uuid4().hex[:12]}"


def _new_official_id() -> str:
    return f"of{uuid.uuid4().hex[:12]}"


# -- bodies ------------------------------------------------------------------------------------


def check_register_body(
    *, actor: Actor, name: str, kind: str, township_id: int | None, village_id: int | None,
    body_id: str | None = None, command_id: CommandRef,
) -> str:
    """Register a body of a township (乡镇党委) or of one of its villages; its new stable id."""
    require(actor, "register_body")
    place = _township_and_village(township_id=township_id, village_id=village_id)
    new_id = body_id or _new_body_id()
    outcome = repository.execute(
        body_stream(new_id), Body,
        lambda b: b.register(
            body_id=new_id, name=name, kind=kind, township_id=place.township_id, township=place.township,
            village_id=place.village_id, village=place.village,
        ),
        command_id=command_id, actor=actor.name,
    )
    assert outcome.result is not None  # a retried command answers with the body it registered
    return outcome.result.stream_id.removeprefix(BODY_PREFIX)


def check_rename_body(*, actor: Actor, body_id: str, name: str, command_id: CommandRef) -> Outcome[Body]:
    require(actor, "rename_body")
    load_body(body_id)
    return repository.execute(body_stream(body_id), Body, lambda b: b.rename(name=name), command_id=command_id, actor=actor.name)


# -- officials -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FirstPost:
    body_id: str
    post: str
    from_date: date


def check_register_official(
    *, actor: Actor, name: str, gender: str | None = None, first_post: FirstPost | None = None,
    official_id: str | None = None, command_id: CommandRef,
) -> str:
    """Register an official (and, if given, the post they hold) in one append; their new stable id."""
    require(actor, "register_official")
    body = _body_for_post(first_post.body_id) if first_post else None
    new_id = official_id or _new_official_id()

    def decide(official: Official) -> list[DomainEvent]:
        events = official.register(official_id=new_id, name=name, gender=gender)
        if first_post is None or body is None:
            return events
        state = Official()
        for event in events:
            state.apply(event)
        return events + state.assign_post(body=body, post=first_post.post, from_date=first_post.from_date)

    outcome = repository.execute(official_stream(new_id), Official, decide, command_id=command_id, actor=actor.name)
    assert outcome.result is not None
    return outcome.result.stream_id.removeprefix(OFFICIAL_PREFIX)


def check_assign_post(
    *, actor: Actor, official_id: str, body_id: str, post: str, from_date: date, command_id: CommandRef
) -> Outcome[Official]:
    require(actor, "assign_post")
    load_official(official_id)
    body = _body_for_post(body_id)
    return repository.execute(
        official_stream(official_id), Official,
        lambda o: o.assign_post(body=body, post=post, from_date=from_date),
        command_id=command_id, actor=actor.name,
    )


def check_end_post(
    *, actor: Actor, official_id: str, post_no: int, to_date: date, command_id: CommandRef
) -> Outcome[Official]:
    require(actor, "end_post")
    load_official(official_id)
    return repository.execute(
        official_stream(official_id), Official, lambda o: o.end_post(post_no=post_no, to_date=to_date),
        command_id=command_id, actor=actor.name,
    )


def check_correct_official(
    *, actor: Actor, official_id: str, name: str, gender: str | None, reason: str, command_id: CommandRef
) -> Outcome[Official]:
    require(actor, "correct_official")
    load_official(official_id)
    return repository.execute(
        official_stream(official_id), Official, lambda o: o.correct(name=name, gender=gender, reason=reason),
        command_id=command_id, actor=actor.name,
    )


def _body_for_post(body_id: str) -> Body:
    body = repository.load(body_stream(body_id), Body).state
    if not body.version:
        raise RegistryRefusal("请选择已登记的组织", f"no body {body_id!r} in the registry", code="unknown_body", field="body_id")
    return body
