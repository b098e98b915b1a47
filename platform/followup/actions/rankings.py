"""The doors of quarterly scores and rankings (打分排队) and of the 软弱涣散 rule.

- set the county's scoring criteria (a new version each time);
- record a township's scores of a quarter (every village, every criterion),
  which records the ranking with them;
- list a village as 软弱涣散 (the rule's door: only the platform's sweeper
  opens it, with command ids derived from the village and the quarter): the
  rectification item is raised through the ledger's door first, then the
  listing that names it, so a sweep interrupted between the two completes
  on the next run without a second item.
"""

from __future__ import annotations

from accounts.roles import Actor, require
from common.commands import CommandRef
from common.limits import require_clean_text
from common.refusal import NotFound, Refusal
from events import repository
from events.repository import Outcome
from followup import rankings_selectors
from followup.actions.ledger import check_raise_place_item
from followup.rankings import (
    CRITERIA_STREAM,
    Criteria,
    QuarterScores,
    WeakListings,
    quarter_label,
    quarter_parts,
    quarter_stream,
    streak_due,
    weak_command_id,
    weak_stream,
)
from meetings.models import Township


def _clean(*values: str) -> None:
    require_clean_text(values)
    if any(len(v) > 10_000 for v in values):
        raise Refusal("输入过长", "a value is too long", code="too_long")


def check_set_scoring_criteria(
    *, actor: Actor, criteria: list[tuple[str, int]], reason: str, command_id: CommandRef,
) -> Outcome[Criteria]:
    """Set the criteria of the quarterly scoring (名称, 满分); quarters already scored keep theirs."""
    require(actor, "set_scoring_criteria")
    _clean(reason, *(name for name, _ in criteria))
    return repository.execute(
        CRITERIA_STREAM, Criteria, lambda c: c.set_criteria(criteria=criteria, reason=reason, by=actor.name or ""),
        command_id=command_id, actor=actor.name,
    )


def check_record_quarter_scores(
    *, actor: Actor, township_id: int, quarter: str, points: dict[int, list[int]], command_id: CommandRef,
) -> Outcome[QuarterScores]:
    """Record a township's scores of its villages for a quarter, with the ranking they give (once)."""
    require(actor, "record_quarter_scores")
    _clean(quarter)
    quarter_parts(quarter)
    township = Township.objects.filter(pk=township_id).first()
    if township is None:
        raise NotFound("找不到该乡镇", "no such township", code="unknown_township", details={"field": "township_id"})
    villages = [(v.pk, v.name) for v in township.villages.order_by("name", "pk")]
    criteria = repository.load(CRITERIA_STREAM, Criteria).state
    return repository.execute(
        quarter_stream(township_id, quarter), QuarterScores,
        lambda q: q.record(township_id=township_id, township=township.name, quarter=quarter, criteria=criteria,
                           villages=villages, points=points, by=actor.name or ""),
        command_id=command_id, actor=actor.name,
    )


def check_list_weak_organization(*, actor: Actor, village_id: int, quarter: str) -> Outcome[WeakListings]:
    """Apply the 软弱涣散 rule to a village at a quarter: the ledger item, then the listing citing three rankings."""
    require(actor, "list_weak_organization")
    _clean(quarter)
    quarter_parts(quarter)
    record = rankings_selectors.rule_history(village_id)
    if record is None:
        raise NotFound("该村没有打分排队记录", "the village was never ranked", code="unknown_village")
    history, bottom = record["history"], record["bottom"]
    loaded = repository.load(weak_stream(village_id), WeakListings)
    due = streak_due(history, bottom, quarter, loaded.state.used)
    item_id = ""
    if due:
        place = f"{record['township']}{record['village']}"
        cited = "、".join(f"{quarter_label(q)}倒数第{history[q].rank_from_bottom}名" for q in due if history[q])
        item_id = check_raise_place_item(
            actor=actor, township=record["township"], village=record["village"], source_kind="weak_organization",
            source_ref=f"{village_id}/{quarter}",
            problem=f"{place}党组织连续三个季度打分排队排在本乡镇后三名（{cited}），列入软弱涣散村党组织，进行集中整顿",
            note="", command_id=weak_command_id(village_id, quarter, "item"),
        )
    return repository.execute(
        weak_stream(village_id), WeakListings,
        lambda w: w.list_weak(village_id=village_id, village=record["village"], township_id=record["township_id"],
                              township=record["township"], quarter=quarter, history=history, bottom=bottom,
                              item_id=item_id),
        command_id=weak_command_id(village_id, quarter, "listing"), actor=actor.name,
    )
