"""A county's map and registry for the year's tests: townships, villages, a township member and village secretaries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from accounts.roles import Actor
from meetings.actions.registry import FirstPost, check_register_body, check_register_official
from meetings.models import Township, Village

ADMIN = Actor("zuzhibu", "county_admin")
HOST = Actor("host", "host")
CRITERIA = [("组织建设", 40), ("党员教育管理", 30), ("工作绩效", 30)]


def cid() -> str:
    return str(uuid.uuid4())


def points_of(total: int) -> list[int]:
    """A total (0..100) split over CRITERIA's full marks 40, 30, 30."""
    first = min(40, total)
    second = min(30, total - first)
    return [first, second, total - first - second]


@dataclass
class Place:
    township_id: int
    township: str
    villages: dict[str, int] = field(default_factory=dict)  # name -> village id
    secretaries: dict[str, str] = field(default_factory=dict)  # village name -> official id
    member: str = ""  # a member of the township Party committee (official id)


def township_with_villages(name: str, villages: list[str], *, registry: bool = True) -> Place:
    township = Township.objects.create(name=name)
    place = Place(township_id=township.pk, township=name)
    for village_name in villages:
        place.villages[village_name] = Village.objects.create(township=township, name=village_name).pk
    if not registry:
        return place
    committee = check_register_body(actor=ADMIN, name=f"{name}党委", kind="township_party_committee",
                                    township_id=township.pk, village_id=None, command_id=cid())
    place.member = check_register_official(
        actor=ADMIN, name=f"{name}张副书记", first_post=FirstPost(committee, "党委副书记", date(2025, 1, 1)),
        command_id=cid())
    for village_name, village_id in place.villages.items():
        branch = check_register_body(actor=ADMIN, name=f"{village_name}党支部", kind="party_branch",
                                     township_id=township.pk, village_id=village_id, command_id=cid())
        place.secretaries[village_name] = check_register_official(
            actor=ADMIN, name=f"{village_name}书记", first_post=FirstPost(branch, "党支部书记", date(2025, 1, 1)),
            command_id=cid())
    return place


def plan(prefix: str = "") -> tuple[dict[int, str], dict[int, str]]:
    """Twelve monthly tasks and four quarterly goals."""
    return ({m: f"{prefix}走访党员群众{m * 3}户，解决一件实事" for m in range(1, 13)},
            {q: f"{prefix}完成阵地建设第{q}步" for q in range(1, 5)})
