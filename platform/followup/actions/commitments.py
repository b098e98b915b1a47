"""The doors of two-way commitments (双向承诺): sign, amend, report progress, score a quarter.

Each door authorizes through the one role policy, lets the aggregate
(followup.commitments) decide and appends through the one repository; the
inline projection moves in the same transaction. Who signs is an official of
the county's registry: a member of the township's Party committee commits to
a village of that township, a village's Party secretary (any post in a body
of the village) commits to the township.
"""

from __future__ import annotations

from datetime import date

from accounts.roles import Actor, require
from common.commands import CommandRef
from common.limits import require_clean_text
from common.refusal import NotFound, Refusal
from events import repository
from events.repository import Outcome
from followup.commitments import Commitment, commitment_id_of, commitment_stream
from meetings.models import Village
from meetings.registry.streams import load_body, load_official


def _clean(*values: str) -> None:
    require_clean_text(values)
    if any(len(v) > 10_000 for v in values):
        raise Refusal("输入过长", "a value is too long", code="too_long")


def _post_for(*, direction: str, official_id: str, village: Village) -> tuple[str, str]:
    """The official's name and the current post that lets them sign in this direction (else a Refusal)."""
    official = load_official(official_id)
    for post in official.current_posts():
        body = load_body(post.body_id)
        if direction == "village_to_township" and body.village_id == village.pk:
            return official.name, post.post
        if direction == "township_to_village" and body.village_id is None and body.township_id == village.township_id:
            return official.name, post.post
    where = village.name if direction == "village_to_township" else village.township.name + "党委"
    raise Refusal(f"{official.name}目前不在{where}任职，不能以该身份签订承诺", "the official holds no post there",
                  code="not_linked", details={"field": "official_id"})


def check_sign_commitment(
    *, actor: Actor, direction: str, official_id: str, village_id: int, year: int, tasks: dict[int, str],
    goals: dict[int, str], signed_on: date, command_id: CommandRef,
) -> str:
    """Record a signed commitment (version 1); returns its id. The same commitment is signed once."""
    require(actor, "sign_commitment")
    _clean(direction, official_id, *tasks.values(), *goals.values())
    village = Village.objects.select_related("township").filter(pk=village_id).first()
    if village is None:
        raise NotFound("找不到该村（社区）", "no such village", code="unknown_village", details={"field": "village_id"})
    name, post = _post_for(direction=direction, official_id=official_id, village=village)
    commitment_id = commitment_id_of(direction=direction, official_id=official_id, village_id=village_id, year=year)
    repository.execute(
        commitment_stream(commitment_id), Commitment,
        lambda c: c.sign(commitment_id=commitment_id, direction=direction, official_id=official_id, official_name=name,
                         post=post, township_id=village.township_id, township=village.township.name,
                         village_id=village.pk, village=village.name, year=year, tasks=tasks, goals=goals,
                         on=signed_on.isoformat(), by=actor.name or ""),
        command_id=command_id, actor=actor.name,
    )
    return commitment_id


def check_amend_commitment(
    *, actor: Actor, commitment_id: str, tasks: dict[int, str], goals: dict[int, str], reason: str, today: date,
    command_id: CommandRef,
) -> Outcome[Commitment]:
    """Record a new version of a signed commitment, with its reason (the signed one stays visible)."""
    require(actor, "amend_commitment")
    _clean(commitment_id, reason, *tasks.values(), *goals.values())
    return repository.execute(
        commitment_stream(commitment_id), Commitment,
        lambda c: c.amend(tasks=tasks, goals=goals, reason=reason, on=today.isoformat(), by=actor.name or ""),
        command_id=command_id, actor=actor.name,
    )


def check_report_commitment_progress(
    *, actor: Actor, commitment_id: str, month: int, text: str, evidence: str, today: date, command_id: CommandRef,
) -> Outcome[Commitment]:
    """Report progress on a month's task with its evidence (乡村两级工作推进台账)."""
    require(actor, "report_commitment_progress")
    _clean(commitment_id, text, evidence)
    return repository.execute(
        commitment_stream(commitment_id), Commitment,
        lambda c: c.report(month=month, text=text, evidence=evidence, on=today.isoformat(), by=actor.name or ""),
        command_id=command_id, actor=actor.name,
    )


def check_score_commitment(
    *, actor: Actor, commitment_id: str, quarter: int, score: int, note: str, command_id: CommandRef,
) -> Outcome[Commitment]:
    """The township's score of the commitment's fulfilment in a quarter (0..100), once per quarter."""
    require(actor, "score_commitment")
    _clean(commitment_id, note)
    return repository.execute(
        commitment_stream(commitment_id), Commitment,
        lambda c: c.score(quarter=quarter, score=score, note=note, by=actor.name or ""),
        command_id=command_id, actor=actor.name,
    )
