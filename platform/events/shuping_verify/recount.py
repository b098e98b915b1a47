"""The recount (docs/event-log-format.md section 13): a meeting's results from its ballots.

It shares no code with the platform's tally, so the two can disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar


class Uncountable(Exception):
    """The log does not hold what a recount needs (rules, a code's category, a mark)."""


def percent_tenths(rate: Fraction) -> int:
    """A rate in tenths of a percent, rounded half up: 1/3 -> 333, 1/8 -> 125."""
    scaled = rate * 1000
    return (2 * scaled.numerator + scaled.denominator) // (2 * scaled.denominator)


def display_percent(rate: Fraction | None) -> str:
    if rate is None:
        return "—"
    tenths = percent_tenths(rate)
    return f"{tenths // 10}.{tenths % 10}%"


def display_decimal(value: Fraction | None) -> str:
    if value is None:
        return "—"
    tenths = percent_tenths(value / 100)
    return f"{tenths // 10}.{tenths % 10}"


def scale_of(rules: dict[str, Any], subject: dict[str, Any]) -> dict[str, Any]:
    """The scale a subject is graded on: its kind's scale (rules.scales), or the one scale of older rules."""
    if "scales" in rules:
        return rules["scales"][subject.get("kind", "person")]
    return rules["scale"]


def group_categories(min_size: int, per_category: dict[str, int], graders: Sequence[str]) -> list[tuple[str, tuple[str, ...]]]:
    """A subject's groups (id, categories): categories with fewer than min_size ballots are pooled."""
    present = [(cat, per_category[cat]) for cat in graders if per_category.get(cat, 0) > 0]
    small = [cat for cat, n in present if n < min_size]
    large = [(cat, n) for cat, n in present if n >= min_size]
    if not small:
        return [(cat, (cat,)) for cat, _ in large]
    if sum(per_category[cat] for cat in small) >= min_size or not large:
        return [*((cat, (cat,)) for cat, _ in large), ("other", tuple(small))]
    absorbing = min(large, key=lambda item: item[1])[0]  # the smallest named group; ties: rules order
    kept = [(cat, (cat,)) for cat, _ in large if cat != absorbing]
    return [*kept, ("other", tuple(cat for cat in graders if cat in small or cat == absorbing))]


def _subject_outcome(rules: dict[str, Any], subject: dict[str, Any], ballots: list[tuple[str, Any]],
                     per_category: dict[str, int]) -> dict[str, Any]:
    scale = scale_of(rules, subject)
    grades = scale["grades"]
    criteria = [c["id"] for c in rules["criteria"]]
    weights = rules.get("category_weights", {})
    sid = subject["subject_id"]
    groups: list[dict[str, Any]] = []
    for group_id, categories in group_categories(rules.get("min_group_size", 5), per_category,
                                                 rules["graders"].get(subject["level"], [])):
        counts = {c: {g["id"]: 0 for g in grades} for c in criteria}
        n = 0
        for category, marks in ballots:
            if category in categories:
                n += 1
                for criterion in criteria:
                    grade = marks.get(sid, {}).get(criterion) if isinstance(marks.get(sid), dict) else None
                    if grade not in counts[criterion]:
                        raise Uncountable(f"a ballot has no valid grade for {sid}.{criterion}")
                    counts[criterion][grade] += 1
        groups.append({"group_id": group_id, "categories": list(categories), "ballots": n, "counts": counts})
    total = {c: {g["id"]: sum(gr["counts"][c][g["id"]] for gr in groups) for g in grades} for c in criteria}
    n_ballots = sum(gr["ballots"] for gr in groups)
    marks_n = n_ballots * len(criteria)
    favourable = sum(total[c][g["id"]] for c in criteria for g in grades if g.get("favourable"))
    unfavourable = sum(total[c][g["id"]] for c in criteria for g in grades if g.get("unfavourable"))
    unfavourable_rate = Fraction(unfavourable, marks_n) if marks_n else None
    weighted, weight_sum = Fraction(0), 0
    for gr in groups:
        weight = sum(weights.get(cat, 1) for cat in gr["categories"])
        points = sum(g["points"] * gr["counts"][c][g["id"]] for c in criteria for g in grades)
        weighted += weight * Fraction(points, gr["ballots"] * len(criteria))
        weight_sum += weight
    score = weighted / weight_sum if weight_sum else None
    exact = score if score is not None else Fraction(0)
    return {
        "subject_id": sid, "name": subject["name"], "ballots": n_ballots, "counts": total, "groups": groups,
        "favourable_percent": display_percent(Fraction(favourable, marks_n) if marks_n else None),
        "unfavourable_percent": display_percent(unfavourable_rate),
        "score_numerator": exact.numerator, "score_denominator": exact.denominator,
        "score": display_decimal(score),
        "scale_id": scale["id"],
        "flagged": unfavourable_rate is not None
        and unfavourable_rate >= Fraction(rules.get("admonish_threshold", "3/10")),
    }


@dataclass
class MeetingFold:
    """What the recount reads of a meeting, folded from its events in log order."""

    # The kinds apply() reads (a caller may skip the call for any other).
    FOLDED: ClassVar[frozenset[str]] = frozenset(
        {"ResultsAnnounced", "MeetingConfigured", "AttendeeCheckedIn", "BallotCodesIssued", "BallotCast",
         "PaperBatchEntered"})

    rules: dict[str, Any] | None = None
    subjects: list[dict[str, Any]] = field(default_factory=list)
    roster: dict[str, str] = field(default_factory=dict)  # member id -> category
    checked_in: dict[str, set[str]] = field(default_factory=dict)  # category -> attendee ids
    issued: dict[str, str] = field(default_factory=dict)  # code hash -> category
    phone: dict[str, Any] = field(default_factory=dict)  # code hash -> marks
    paper: dict[int, dict[str, Any]] = field(default_factory=dict)  # batch -> teller -> {code: marks}
    announced: int = 0  # ResultsAnnounced events so far

    def apply(self, kind: str, data: dict[str, Any]) -> None:
        """Fold one event; a kind not in FOLDED changes nothing."""
        self.announced += kind == "ResultsAnnounced"
        if kind == "MeetingConfigured":
            self.rules, self.subjects = data["rules"], data["subjects"]
            self.roster = {entry["member_id"]: entry["category"] for entry in data["roster"]}
        elif kind == "AttendeeCheckedIn":
            self.checked_in.setdefault(data["category"], set()).add(data["attendee_id"])
        elif kind == "BallotCodesIssued":
            self.issued.update(dict.fromkeys(data["code_hashes"], data["category"]))
        elif kind == "BallotCast" and data.get("source", "phone") == "phone":
            self.phone[data["code_hash"]] = data["marks"]
        elif kind == "PaperBatchEntered":
            # A teller's re-entry replaces their earlier one (dict order: first entry's place).
            entries = self.paper.setdefault(data["batch_no"], {})
            entries[data["teller"]] = {b["code_hash"]: b["marks"] for b in data["ballots"]}

    def reconciled(self, batch_no: int) -> dict[str, Any] | None:
        """A batch counts when two tellers' latest entries are identical."""
        entries = list(self.paper[batch_no].values())
        for i, first in enumerate(entries):
            if any(first == second for second in entries[i + 1:]):
                return first
        return None

    def results(self) -> dict[str, Any]:
        """The data a ResultsAnnounced must carry (all but `at`), recounted."""
        if self.rules is None:
            raise Uncountable("results announced before the meeting was configured")
        counted: dict[str, tuple[str, Any]] = {code: ("phone", marks) for code, marks in self.phone.items()}
        for batch_no in sorted(self.paper):
            for code, marks in (self.reconciled(batch_no) or {}).items():
                counted.setdefault(code, ("paper", marks))  # phone first, then the lowest batch
        unknown = sorted(code for code in counted if code not in self.issued)
        if unknown:
            raise Uncountable(f"a ballot's code {unknown[0][:16]}… was never issued")
        ballots = [(self.issued[code], counted[code][1]) for code in sorted(counted)]
        per_category: dict[str, int] = {}
        for category, _ in ballots:
            per_category[category] = per_category.get(category, 0) + 1
        grading = {cat for cats in self.rules["graders"].values() for cat in cats}
        eligible = sum(1 for cat in self.roster.values() if cat in grading) + sum(
            1 for cat, ids in self.checked_in.items() if cat in grading for i in ids if i not in self.roster)
        subjects = [_subject_outcome(self.rules, s, ballots, per_category) for s in self.subjects]
        phone = sum(1 for source, _ in counted.values() if source == "phone")
        return {
            "ballots_counted": len(ballots), "phone_ballots": phone, "paper_ballots": len(ballots) - phone,
            "eligible": eligible, "participation_percent": display_percent(Fraction(len(ballots), eligible) if eligible else None),
            "subjects": subjects, "flagged_subjects": [s["subject_id"] for s in subjects if s["flagged"]],
        }


def _differences(announced: Any, recounted: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    if isinstance(announced, dict) and isinstance(recounted, dict):
        for key in sorted(set(announced) | set(recounted)):
            _differences(announced.get(key), recounted.get(key), f"{path}.{key}" if path else key, out)
    elif isinstance(announced, list) and isinstance(recounted, list) and len(announced) == len(recounted):
        for index, (a, r) in enumerate(zip(announced, recounted, strict=True)):
            tag = r.get("subject_id") or r.get("group_id") if isinstance(r, dict) else None
            _differences(a, r, f"{path}[{tag or index}]", out)
    elif announced != recounted or type(announced) is not type(recounted):
        out.append((path, announced, recounted))


def recount_differences(fold: MeetingFold, announced: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(figure, announced, recounted) for each figure of a ResultsAnnounced that the recount does not reproduce."""
    out: list[tuple[str, Any, Any]] = []
    recounted = fold.results()
    if fold.rules is not None and "scales" not in fold.rules:
        # Results recorded before scales per kind (ResultsAnnounced v1) name no scale: the rules' one scale.
        named = {s.get("subject_id") for s in announced.get("subjects", []) if isinstance(s, dict) and "scale_id" in s}
        for subject in recounted.get("subjects", []):
            if subject["subject_id"] not in named:
                subject.pop("scale_id", None)
    _differences({k: v for k, v in announced.items() if k != "at"}, recounted, "", out)
    return out
