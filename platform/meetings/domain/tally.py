"""Counting ballots: counts, rates, weighted scores, flags. Exact arithmetic only.

Definitions (each rate is a `Fraction`; `None` when there is nothing to divide by):

* A subject is graded by the ballots of the voter categories that the rules
  name for its level (`Rules.graders`). Every such ballot carries one grade
  per criterion, so a subject with B ballots and C criteria has B*C marks.
* Counts: criterion -> grade -> number of marks, per group and in total.
* Rates pool all criteria: rate of a grade = its marks / all marks of the
  subject. 好评率 = favourable marks / all marks, 差评率/不称职率/不满意率 =
  unfavourable marks / all marks (which grades are favourable or unfavourable
  is part of the scale). Per-criterion rates are given as well.
* Each subject is counted on its own scale, the one the rules give its kind
  (`Rules.scale_for`): in 双述双评 a body's 差评率 counts 差, a person's
  不称职率 counts 不称职, on the same ballots.
* Groups: per-category tallies are shown only for categories with at least
  `min_group_size` ballots. Smaller categories are pooled into a group "other";
  if that pool is still smaller than `min_group_size` (and a larger group
  exists), it is pooled with the smallest larger category too, because
  total minus the named groups would otherwise reveal it. The group's
  `categories` say who is in it.
* Score: each grade has integer points. A group's mean = its points / its
  marks. The subject's score = sum(W_g * mean_g) / sum(W_g) over its groups,
  where W_g = sum of the rule weights of the categories in group g. Computed
  over the published groups, so the score reveals nothing the groups do not.
* Participation rate (参评率) = ballots counted / eligible voters, where
  eligible = roster members of a grading category + checked-in attendees not
  on the roster (invited guests).
* Flag: a subject is flagged for an admonishment interview (诫勉谈话) when
  its unfavourable rate >= `Rules.admonish_threshold` (default 3/10).

Display: `display_percent` rounds half up to one decimal ("33.3%"); this is
the only rounding anywhere, and it happens only for display. Events carry
counts and exact numerators/denominators besides the display strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from meetings.domain.groups import OTHER as OTHER  # the pooled group's id, defined with its wording
from meetings.domain.groups import pooled_small
from meetings.domain.rules import Rules
from meetings.events import GroupOutcome, ResultsAnnounced, SubjectEntry, SubjectOutcome

Marks = Mapping[str, Mapping[str, str]]


@dataclass(frozen=True)
class CountedBallot:
    category: str
    marks: Marks
    source: str = "phone"  # phone | paper


@dataclass(frozen=True)
class GroupTally:
    group_id: str  # a category id, or "other" for a pooled group
    categories: tuple[str, ...]
    ballots: int
    counts: dict[str, dict[str, int]]  # criterion -> grade -> marks
    pooled: tuple[str, ...] = ()  # of `categories`, those pooled for having fewer ballots than min_group_size


@dataclass(frozen=True)
class SubjectResult:
    subject_id: str
    name: str
    level: str
    scale_id: str  # the scale the subject was graded on (Rules.scale_for its kind)
    ballots: int
    counts: dict[str, dict[str, int]]
    groups: tuple[GroupTally, ...]
    grade_rates: dict[str, Fraction | None]  # grade -> share of all marks (称职率, 满意率, ...)
    favourable_rate: Fraction | None  # 好评率
    unfavourable_rate: Fraction | None  # 差评率 / 不称职率 / 不满意率
    criterion_favourable_rates: dict[str, Fraction | None]
    criterion_unfavourable_rates: dict[str, Fraction | None]
    score: Fraction | None
    flagged: bool


@dataclass(frozen=True)
class Results:
    subjects: tuple[SubjectResult, ...]
    ballots_counted: int
    phone_ballots: int
    paper_ballots: int
    eligible: int
    participation_rate: Fraction | None

    @property
    def flagged_subjects(self) -> list[str]:
        return [s.subject_id for s in self.subjects if s.flagged]


def _rate(part: int, whole: int) -> Fraction | None:
    return Fraction(part, whole) if whole else None


def group_categories(rules: Rules, ballots_per_category: Mapping[str, int], graders: Iterable[str]) -> list[tuple[str, tuple[str, ...]]]:
    """Groups (id, categories) for a subject graded by `graders`, applying min_group_size."""
    present = [(cat, ballots_per_category.get(cat, 0)) for cat in graders if ballots_per_category.get(cat, 0) > 0]
    small = [cat for cat, n in present if n < rules.min_group_size]
    large = [(cat, n) for cat, n in present if n >= rules.min_group_size]
    if not small:
        return [(cat, (cat,)) for cat, _ in large]
    pooled = sum(ballots_per_category[cat] for cat in small)
    if pooled >= rules.min_group_size or not large:
        return [*((cat, (cat,)) for cat, _ in large), (OTHER, tuple(small))]
    # Still too small: pool it with the smallest named group (ties: rules order).
    absorbing = min(large, key=lambda item: item[1])[0]
    kept = [(cat, (cat,)) for cat, _ in large if cat != absorbing]
    members = tuple(cat for cat in graders if cat in small or cat == absorbing)
    return [*kept, (OTHER, members)]


def tally(
    *,
    rules: Rules,
    subjects: Iterable[SubjectEntry],
    ballots: Iterable[CountedBallot],
    eligible: int,
) -> Results:
    """Count validated ballots (one per code) for each subject; see the module docstring."""
    ballots = list(ballots)
    per_category: dict[str, int] = {}
    for ballot in ballots:
        per_category[ballot.category] = per_category.get(ballot.category, 0) + 1
    criteria = [c.id for c in rules.criteria]
    results = []
    for subject in subjects:
        scale = rules.scale_for(subject.kind)
        grades = scale.grades
        points = {g.id: g.points for g in grades}
        favourable = {g.id for g in grades if g.favourable}
        unfavourable = {g.id for g in grades if g.unfavourable}
        graders = rules.categories_grading(subject.level)
        small = pooled_small(rules, per_category, graders)
        groups = []
        for group_id, categories in group_categories(rules, per_category, graders):
            counts = {c: {g.id: 0 for g in grades} for c in criteria}
            n = 0
            for ballot in ballots:
                if ballot.category in categories:
                    n += 1
                    for criterion in criteria:
                        counts[criterion][ballot.marks[subject.subject_id][criterion]] += 1
            pooled = tuple(c for c in categories if c in small) if group_id == OTHER else ()
            groups.append(GroupTally(group_id=group_id, categories=categories, ballots=n, counts=counts, pooled=pooled))
        total = {c: {g.id: sum(group.counts[c][g.id] for group in groups) for g in grades} for c in criteria}
        n_ballots = sum(group.ballots for group in groups)
        marks = n_ballots * len(criteria)
        grade_totals = {g.id: sum(total[c][g.id] for c in criteria) for g in grades}
        unfavourable_rate = _rate(sum(grade_totals[g] for g in unfavourable), marks)
        weighted = Fraction(0)
        weight_sum = 0
        for group in groups:
            weight = sum(rules.weight(cat) for cat in group.categories)
            group_points = sum(points[g] * group.counts[c][g] for c in criteria for g in points)
            weighted += weight * Fraction(group_points, group.ballots * len(criteria))
            weight_sum += weight
        results.append(
            SubjectResult(
                subject_id=subject.subject_id,
                name=subject.name,
                level=subject.level,
                scale_id=scale.id,
                ballots=n_ballots,
                counts=total,
                groups=tuple(groups),
                grade_rates={g: _rate(count, marks) for g, count in grade_totals.items()},
                favourable_rate=_rate(sum(grade_totals[g] for g in favourable), marks),
                unfavourable_rate=unfavourable_rate,
                criterion_favourable_rates={c: _rate(sum(total[c][g] for g in favourable), n_ballots) for c in criteria},
                criterion_unfavourable_rates={c: _rate(sum(total[c][g] for g in unfavourable), n_ballots) for c in criteria},
                score=weighted / weight_sum if weight_sum else None,
                flagged=unfavourable_rate is not None and unfavourable_rate >= rules.admonish_threshold,
            )
        )
    phone = sum(1 for b in ballots if b.source == "phone")
    return Results(
        subjects=tuple(results),
        ballots_counted=len(ballots),
        phone_ballots=phone,
        paper_ballots=len(ballots) - phone,
        eligible=eligible,
        participation_rate=_rate(len(ballots), eligible),
    )


# -- display and event form ----------------------------------------------------------------


def percent_tenths(rate: Fraction) -> int:
    """The rate in tenths of a percent, rounded half up: 1/3 -> 333, 1/8 -> 125 (12.5%)."""
    if rate < 0:
        raise ValueError("rates are never negative")
    scaled = rate * 1000
    return (2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator)


def display_percent(rate: Fraction | None) -> str:
    """"33.3%": the one rounding rule, half up to one decimal; "—" when undefined."""
    if rate is None:
        return "—"
    tenths = percent_tenths(rate)
    return f"{tenths // 10}.{tenths % 10}%"


def display_decimal(value: Fraction | None) -> str:
    """A score such as 86.7: half up to one decimal (same rule as display_percent)."""
    if value is None:
        return "—"
    tenths = percent_tenths(value / 100)
    return f"{tenths // 10}.{tenths % 10}"


def results_event(results: Results, *, now: datetime) -> ResultsAnnounced:
    """The results as an event: integer counts, exact score fractions, display strings."""
    subjects = []
    for s in results.subjects:
        score = s.score if s.score is not None else Fraction(0)
        subjects.append(
            SubjectOutcome(
                subject_id=s.subject_id,
                name=s.name,
                scale_id=s.scale_id,
                ballots=s.ballots,
                counts=s.counts,
                groups=[
                    GroupOutcome(group_id=g.group_id, categories=list(g.categories), ballots=g.ballots, counts=g.counts)
                    for g in s.groups
                ],
                favourable_percent=display_percent(s.favourable_rate),
                unfavourable_percent=display_percent(s.unfavourable_rate),
                score_numerator=score.numerator,
                score_denominator=score.denominator,
                score=display_decimal(s.score),
                flagged=s.flagged,
            )
        )
    return ResultsAnnounced(
        at=now.isoformat(),
        ballots_counted=results.ballots_counted,
        phone_ballots=results.phone_ballots,
        paper_ballots=results.paper_ballots,
        eligible=results.eligible,
        participation_percent=display_percent(results.participation_rate),
        subjects=subjects,
        flagged_subjects=results.flagged_subjects,
    )
