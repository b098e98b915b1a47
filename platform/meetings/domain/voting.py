"""Voting: ballot codes, phone ballots (sealed, then closed), paper batches, the count.

A mixin of the meeting aggregate (meetings.domain.aggregate.Meeting), split
out by subject: the state it reads is the meeting's, folded there.

Secrecy: phone ballots are not appended one by one. The Django layer seals
them (meetings.ballot_box), calling `validate_ballot` at casting time, and at
close passes them all to `close_ballot`, which returns their `BallotCast`
events sorted by code hash (unrelated to casting order) followed by
`BallotClosed`.

Paper ballots (see `enter_paper_batch`): each numbered batch is entered by at
least two different tellers. A batch's status is derived from the latest
entry of each teller: fewer than two tellers -> "pending"; two tellers whose
latest entries are identical (same code hashes, same marks) -> "reconciled"
(their content is what is counted); otherwise -> "mismatch", shown side by
side by `paper_batch_differences`. A mismatch is resolved by a further entry
that agrees with an existing one: a third teller's entry, or a re-entry by
one of the two tellers (it replaces that teller's earlier entry). The same
teller entering a batch twice never reconciles it: it takes two people. A
reconciled batch takes no more entries. Results cannot be announced while
any batch is pending or mismatched.

A code is counted once: a phone ballot beats a paper ballot with the same
code, and between paper batches the lowest batch number wins; the others are
reported by `duplicate_codes` and left out of the tally.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeVar

from events.types import DomainEvent
from meetings.domain.counts import Counts
from meetings.domain.errors import (
    BallotInvalid,
    CodeAlreadyUsed,
    InvalidCommand,
    PaperBatchClosed,
    PaperBatchesUnresolved,
    QuorumNotMet,
    ReportsIncomplete,
    UnknownCode,
    iso,
    require_text,
)
from meetings.domain.rules import Rules, category_name_zh
from meetings.domain.tally import CountedBallot, Results, results_event, tally
from meetings.events import (
    BallotCast,
    BallotClosed,
    BallotCodesIssued,
    BallotOpened,
    PaperBallot,
    PaperBatchEntered,
    PaperBatchMismatchDetected,
    PaperBatchReconciled,
    ResultsAnnounced,
    RosterEntry,
    SubjectEntry,
    ballot_receipt,
)

Marks = Mapping[str, Mapping[str, str]]
T = TypeVar("T")

@dataclass(frozen=True)
class SealedBallot:
    """A phone ballot held sealed by the Django layer until the ballot closes."""

    code_hash: str
    marks: Marks


class SealedLike(Protocol):
    """Anything with a code hash and marks (e.g. the ballot box's sealed rows)."""

    @property
    def code_hash(self) -> str: ...

    @property
    def marks(self) -> Marks: ...


@dataclass(frozen=True)
class BallotCheck:
    receipt: str
    already_cast: bool  # the identical ballot was cast before: answer idempotently


@dataclass(frozen=True)
class PaperDifference:
    """One ballot of a batch as each teller entered it (None: not entered by that teller)."""

    code_hash: str
    entries: dict[str, Marks | None]  # teller -> marks


@dataclass(frozen=True)
class DuplicateCode:
    code_hash: str
    counted_from: str  # "phone" or "paper:<batch_no>"
    ignored_from: tuple[str, ...]


@dataclass(frozen=True)
class QuorumStatus:
    category: str
    roster: int
    present: int
    required: int

    @property
    def met(self) -> bool:
        return self.present >= self.required


@dataclass
class PaperEntry:
    teller: str
    ballots: dict[str, dict[str, dict[str, str]]]  # code hash -> marks


class Voting(Counts):
    """The voting part of the meeting aggregate (mixed into Meeting, which holds the state)."""

    # The meeting's state this part reads (fields of Meeting).
    phase: str
    rules: Rules | None
    subjects: list[SubjectEntry]
    roster: dict[str, RosterEntry]
    checked_in: dict[str, dict[str, str]]
    current_report: str | None
    quorum_override: str | None
    issued: dict[str, str]
    phone_ballots: dict[str, BallotCast]
    paper_entries: dict[int, list[PaperEntry]]
    results: ResultsAnnounced | None

    def _require_phase(self, command: str, *, action_zh: str, action_en: str) -> None:
        raise NotImplementedError

    def require_rules(self) -> Rules:
        raise NotImplementedError

    def subjects_graded_by(self, category: str) -> list[SubjectEntry]:
        raise NotImplementedError

    def next_subject(self) -> SubjectEntry | None:
        raise NotImplementedError

    def quorum(self) -> list[QuorumStatus]:
        raise NotImplementedError

    version: int

    def used_code_hashes(self) -> set[str]:
        return set(self.phone_ballots)

    def _derived(self, name: str, compute: Callable[[], T]) -> T:
        """`compute()` once per folded version: what a state derives, kept with it.

        A snapshot for the screens and the console, the count check and the
        announcement each asked for the paper batches' status, the counted
        ballots and the tally again (each comparing the tellers' entries or
        counting every mark). A state is not changed in place once handed
        out (events.repository), and `apply` moves the version on, which
        forgets what was derived: results are never those of an older state.
        Callers must not change what they are given.
        """
        memo = self.__dict__.get("_memo")
        if memo is None or memo[0] != self.version:
            memo = (self.version, {})
            self.__dict__["_memo"] = memo
        values: dict[str, Any] = memo[1]
        if name not in values:
            values[name] = compute()
        return values[name]  # type: ignore[no-any-return]

    def _keep_derived(self) -> None:
        """Carry what the version before this one derived over to this one.

        Only for an event that changes none of the inputs (meetings.domain.
        aggregate.KEEPS_DERIVED): announcing the results records the tally the
        decision has just computed, and the screens' snapshot right after the
        commit counted every mark again (about 15 ms of the way from the
        announcement to the hall screens in bench/spot.py). A new dict: the
        old one may be shared with the state this one was copied from.
        """
        memo = self.__dict__.get("_memo")
        if memo is not None and memo[0] == self.version - 1:
            self.__dict__["_memo"] = (self.version, dict(memo[1]))

    def paper_batch_status(self, batch_no: int) -> str:
        """"pending", "reconciled" or "mismatch" (see the module docstring)."""
        return self._batch(batch_no)[0]

    def _batch(self, batch_no: int) -> tuple[str, PaperEntry | None, list[PaperEntry]]:
        return self._derived(f"batch:{batch_no}", lambda: _batch_status(self.paper_entries.get(batch_no, [])))

    def paper_batches(self) -> dict[int, str]:
        return {batch_no: self.paper_batch_status(batch_no) for batch_no in sorted(self.paper_entries)}

    def paper_batch_differences(self, batch_no: int) -> list[PaperDifference]:
        """The ballots on which the tellers' latest entries of a batch disagree, side by side."""
        return _differences(self._batch(batch_no)[2])

    def paper_ballots(self) -> dict[int, dict[str, dict[str, dict[str, str]]]]:
        """The agreed content of each reconciled batch: batch number -> code hash -> marks."""
        agreed = {}
        for batch_no in sorted(self.paper_entries):
            status, entry, _ = self._batch(batch_no)
            if status == "reconciled" and entry is not None:
                agreed[batch_no] = entry.ballots
        return agreed

    def counted_ballots(self) -> list[tuple[str, str, Marks]]:
        """(code hash, source, marks) of each ballot counted: one per code, phone first."""
        return self._derived("counted_ballots", self._counted_ballots)

    def _counted_ballots(self) -> list[tuple[str, str, Marks]]:
        counted: dict[str, tuple[str, str, Marks]] = {
            code: (code, "phone", cast.marks) for code, cast in self.phone_ballots.items()
        }
        for batch_no, ballots in self.paper_ballots().items():
            for code, marks in ballots.items():
                counted.setdefault(code, (code, f"paper:{batch_no}", marks))
        return [counted[code] for code in sorted(counted)]

    def duplicate_codes(self) -> list[DuplicateCode]:
        """Codes found more than once (phone and paper, or two batches), and which one counts."""
        sources: dict[str, list[str]] = {code: ["phone"] for code in self.phone_ballots}
        for batch_no, ballots in self.paper_ballots().items():
            for code in ballots:
                sources.setdefault(code, []).append(f"paper:{batch_no}")
        return [
            DuplicateCode(code_hash=code, counted_from=found[0], ignored_from=tuple(found[1:]))
            for code, found in sorted(sources.items())
            if len(found) > 1
        ]

    # -- ballot validation (shared by phone, sealed and paper ballots) --------------------------

    def voter_category(self, code_hash: str) -> str:
        """The voter category a code was issued for; UnknownCode if it was never issued here."""
        category = self.issued.get(code_hash)
        if category is None:
            raise UnknownCode("测评码无效，请核对后重新输入", "unknown ballot code")
        return category

    def validate_marks(self, *, code_hash: str, marks: Marks) -> str:
        """Check a ballot against the issued codes and the rules; return the voter's category."""
        rules = self.require_rules()
        category = self.issued.get(code_hash)
        if category is None:
            raise UnknownCode("测评码无效", "unknown ballot code")
        if not isinstance(marks, Mapping):
            raise BallotInvalid("选票格式不正确", "marks must be an object")
        expected = {s.subject_id: s for s in self.subjects_graded_by(category)}
        for subject_id in marks:
            if subject_id not in expected:
                raise BallotInvalid(
                    f"{category_name_zh(category)}不评议“{subject_id}”",
                    f"{category} does not grade subject {subject_id!r}",
                )
        criteria = {c.id: c for c in rules.criteria}
        for subject_id, subject in expected.items():
            subject_marks = marks.get(subject_id)
            if not isinstance(subject_marks, Mapping):
                raise BallotInvalid(f"未对“{subject.name}”作出评价", f"subject {subject_id!r} is not graded")
            for criterion_id in subject_marks:
                if criterion_id not in criteria:
                    raise BallotInvalid(
                        f"“{subject.name}”的评价含未知指标“{criterion_id}”",
                        f"subject {subject_id!r} has an unknown criterion {criterion_id!r}",
                    )
            for criterion in rules.criteria:
                grade_id = subject_marks.get(criterion.id)
                if grade_id is None:
                    raise BallotInvalid(
                        f"未对“{subject.name}”的“{criterion.name_zh}”作出评价",
                        f"subject {subject_id!r} is not graded on {criterion.id!r}",
                    )
                scale = rules.scale_for(subject.kind)
                if not isinstance(grade_id, str) or scale.grade(grade_id) is None:
                    # Bodies and persons may be graded on different scales (seed 000): a grade of
                    # the other scale is refused like any unknown grade (code ballot_invalid, as before).
                    raise BallotInvalid(
                        f"“{subject.name}”的“{criterion.name_zh}”评价等次“{grade_id}”不在“{scale.name_zh}”中",
                        f"grade {grade_id!r} for {subject_id!r}/{criterion.id!r} is not in scale {scale.id!r}",
                    )
        return category

    def widest_marks(self) -> list[dict[str, dict[str, str]]]:
        """For each voter category, the valid marks whose every grade is the longest id (in UTF-8) of its subject's scale.

        An encoding of marks whose length adds up over its parts (JSON, say)
        encodes no valid ballot of this meeting longer than the longest of
        these: the ballot box pads every sealed ballot to that length.
        """
        rules = self.require_rules()
        def widest(subject: SubjectEntry) -> str:
            grades = rules.scale_for(subject.kind).grades
            return max((grade.id for grade in grades), key=lambda grade_id: len(grade_id.encode()))

        return [
            {subject.subject_id: {criterion.id: widest(subject) for criterion in rules.criteria}
             for subject in self.subjects_graded_by(category)}
            for category in rules.voter_categories
        ]

    def validate_ballot(
        self, *, code_hash: str, marks: Marks, used_code_hashes: AbstractSet[str] | Mapping[str, str]
    ) -> BallotCheck:
        """Validate a phone ballot at casting time (ballot open); nothing is appended.

        `used_code_hashes` are the codes already sealed by the Django layer; when
        it is a mapping code hash -> receipt, recasting the identical ballot is
        reported as `already_cast` instead of raising CodeAlreadyUsed. The same
        ballot again after the close (a phone retrying when its first answer
        was lost on the hall's Wi-Fi) is `already_cast` too, with its receipt:
        that check comes before the phase's.
        """
        counted = self.phone_ballots.get(code_hash)
        if counted is not None and self.phase != "ballot_open" and _is_marks(marks):
            if ballot_receipt(code_hash, _plain_marks(marks)) == counted.receipt:
                return BallotCheck(receipt=counted.receipt, already_cast=True)
        self._require_phase("cast_ballot", action_zh="投票", action_en="cast a ballot")
        self.validate_marks(code_hash=code_hash, marks=marks)
        receipt = ballot_receipt(code_hash, _plain_marks(marks))
        earlier: str | None = None
        if code_hash in self.phone_ballots:
            earlier = self.phone_ballots[code_hash].receipt
        elif code_hash in used_code_hashes:
            earlier = used_code_hashes[code_hash] if isinstance(used_code_hashes, Mapping) else ""
        if earlier is None:
            return BallotCheck(receipt=receipt, already_cast=False)
        if earlier == receipt:
            return BallotCheck(receipt=receipt, already_cast=True)
        raise CodeAlreadyUsed("该测评码已投过票", "this ballot code has already been used")

    # -- commands -----------------------------------------------------------------------------

    def issue_ballot_codes(self, *, category: str, code_hashes: list[str], margin: int = 0) -> list[DomainEvent]:
        """Record the hashes of one-time codes for voters of a category (codes are made elsewhere).

        The category's codes may not exceed who may vote plus the stated
        margin (meetings.domain.counts).
        """
        self._require_phase("issue_ballot_codes", action_zh="发放测评码", action_en="issue ballot codes")
        rules = self.require_rules()
        if category not in rules.voter_categories:
            raise InvalidCommand(f"“{category}”不是本次会议的参评类别", f"{category!r} is not a voter category")
        if not code_hashes:
            raise InvalidCommand("没有测评码", "no codes given")
        for code_hash in code_hashes:
            if not _is_hex64(code_hash):
                raise InvalidCommand("测评码摘要须为64位小写十六进制", "code hashes must be 64 lowercase hex digits")
        if len(set(code_hashes)) != len(code_hashes) or any(c in self.issued for c in code_hashes):
            raise InvalidCommand("测评码重复", "a code hash is issued twice")
        self.require_code_room(category=category, count=len(code_hashes), margin=margin)
        # Sorted, not in the order the codes were made: that is the order of the
        # printed slips, and whoever saw the slips handed out could otherwise
        # link each ballot in the published log to a voter.
        return [BallotCodesIssued(
            category=category, count=len(code_hashes), code_hashes=sorted(code_hashes), margin=margin,
        )]

    def open_ballot(self, *, now: datetime) -> list[DomainEvent]:
        """Open voting: all reports done, no report running, quorum met or overridden."""
        self._require_phase("open_ballot", action_zh="开始测评", action_en="open the ballot")
        self.require_rules()
        if self.current_report is not None or self.next_subject() is not None:
            raise ReportsIncomplete("述职尚未全部结束，不能开始测评", "all reports must end before the ballot opens")
        if self.quorum_override is None:
            short = [status for status in self.quorum() if not status.met]
            if short:
                details_zh = "；".join(f"{category_name_zh(s.category)}应到{s.required}人，实到{s.present}人" for s in short)
                details_en = "; ".join(f"{s.category}: {s.present} present of {s.required} required" for s in short)
                raise QuorumNotMet(f"未达到法定人数：{details_zh}", f"quorum not met: {details_en}")
        return [BallotOpened(at=iso(now))]

    def cast_ballot(self, *, code_hash: str, marks: Marks) -> list[DomainEvent]:
        """Cast one phone ballot directly (when ballots need not be sealed, e.g. in tests or replays).

        The identical ballot cast again returns [] (answer idempotently with the same receipt).
        """
        check = self.validate_ballot(code_hash=code_hash, marks=marks, used_code_hashes=frozenset())
        if check.already_cast:
            return []
        return [BallotCast(code_hash=code_hash, marks=_plain_marks(marks), receipt=check.receipt, source="phone")]

    def close_ballot(self, *, sealed_ballots: Iterable[SealedLike], now: datetime) -> list[DomainEvent]:
        """Close voting: the sealed phone ballots as BallotCast sorted by code hash, then BallotClosed.

        Each sealed ballot is validated as at casting time; an identical duplicate is
        dropped, a differing one raises CodeAlreadyUsed.
        """
        self._require_phase("close_ballot", action_zh="结束测评", action_en="close the ballot")
        chosen: dict[str, BallotCast] = {}
        receipts: dict[str, str] = {}  # code hash -> receipt of the ballots chosen so far
        for sealed in sealed_ballots:
            check = self.validate_ballot(code_hash=sealed.code_hash, marks=sealed.marks, used_code_hashes=receipts)
            if check.already_cast:
                continue
            chosen[sealed.code_hash] = BallotCast(
                code_hash=sealed.code_hash, marks=_plain_marks(sealed.marks), receipt=check.receipt, source="phone"
            )
            receipts[sealed.code_hash] = check.receipt
        casts: list[DomainEvent] = [chosen[code] for code in sorted(chosen)]
        return [*casts, BallotClosed(at=iso(now), phone_ballots=len(self.phone_ballots) + len(chosen))]

    def enter_paper_batch(
        self, *, batch_no: int, teller: str, ballots: list[PaperBallot], now: datetime
    ) -> list[DomainEvent]:
        """One teller's entry of a numbered batch of paper ballots.

        Returns [PaperBatchEntered] plus PaperBatchReconciled when this entry agrees
        with another teller's, or PaperBatchMismatchDetected when two or more
        tellers' latest entries now disagree (see the module docstring).
        """
        self._require_phase("enter_paper_batch", action_zh="录入纸质选票", action_en="enter paper ballots")
        require_text(teller, "计票员", "teller")
        if batch_no < 1:
            raise InvalidCommand("批次号须为正整数", "batch numbers are positive integers")
        if self.paper_batch_status(batch_no) == "reconciled":
            raise PaperBatchClosed(f"第{batch_no}批已核对一致，不能再录入", f"batch {batch_no} is reconciled; no more entries")
        seen: set[str] = set()
        for ballot in ballots:
            if ballot.code_hash in seen:
                raise BallotInvalid("同一批次中测评码重复", f"code {ballot.code_hash[:12]}… appears twice in the batch")
            seen.add(ballot.code_hash)
            self.validate_marks(code_hash=ballot.code_hash, marks=ballot.marks)
        entered = PaperBatchEntered(
            batch_no=batch_no, teller=teller,
            ballots=[PaperBallot(code_hash=b.code_hash, marks=_plain_marks(b.marks)) for b in ballots],
            at=iso(now),
        )
        new_entry = PaperEntry(teller, {b.code_hash: b.marks for b in entered.ballots})
        status, agreed, entries = _batch_status([*self.paper_entries.get(batch_no, []), new_entry])
        events: list[DomainEvent] = [entered]
        if status == "reconciled" and agreed is not None:
            tellers = sorted(e.teller for e in entries if e.ballots == agreed.ballots)
            events.append(PaperBatchReconciled(batch_no=batch_no, tellers=tellers, ballot_count=len(agreed.ballots), at=iso(now)))
        elif status == "mismatch":
            events.append(
                PaperBatchMismatchDetected(
                    batch_no=batch_no,
                    tellers=sorted(e.teller for e in entries),
                    code_hashes=[d.code_hash for d in _differences(entries)],
                    at=iso(now),
                )
            )
        return events

    def announce_results(self, *, now: datetime) -> list[DomainEvent]:
        """Announce the tally: refused while a paper batch is pending or mismatched, and while
        ballots exceed attendance without a recorded decision (meetings.domain.counts)."""
        self._require_phase("announce_results", action_zh="公布结果", action_en="announce results")
        unresolved = {n: s for n, s in self.paper_batches().items() if s != "reconciled"}
        if unresolved:
            listed = "、".join(f"第{n}批（{'核对不一致' if s == 'mismatch' else '待第二人录入'}）" for n, s in unresolved.items())
            raise PaperBatchesUnresolved(
                f"纸质选票尚未核对一致：{listed}",
                f"paper batches not reconciled: {', '.join(f'{n} ({s})' for n, s in unresolved.items())}",
            )
        self.require_counts_add_up()
        return [results_event(self.compute_results(), now=now)]

    # -- the count ------------------------------------------------------------------------------

    def eligible_voters(self) -> int:
        """Roster members of a grading category + checked-in attendees not on the roster."""
        rules = self.require_rules()
        grading = {cat for cats in rules.graders.values() for cat in cats}
        on_roster = sum(1 for entry in self.roster.values() if entry.category in grading)
        guests = sum(
            1
            for category, ids in self.checked_in.items()
            if category in grading
            for attendee_id in ids
            if attendee_id not in self.roster
        )
        return on_roster + guests

    def compute_results(self) -> Results:
        """Tally the counted ballots (one per code; phone before paper); see meetings.domain.tally."""
        return self._derived("results", self._compute_results)

    def _compute_results(self) -> Results:
        rules = self.require_rules()
        ballots = [
            CountedBallot(category=self.issued[code], marks=marks, source="phone" if source == "phone" else "paper")
            for code, source, marks in self.counted_ballots()
        ]
        return tally(rules=rules, subjects=self.subjects, ballots=ballots, eligible=self.eligible_voters())


# -- helpers --------------------------------------------------------------------------------------


def _batch_status(all_entries: list[PaperEntry]) -> tuple[str, PaperEntry | None, list[PaperEntry]]:
    """(status, agreed entry or None, latest entry per teller) of one paper batch."""
    latest: dict[str, PaperEntry] = {}
    for entry in all_entries:
        latest[entry.teller] = entry  # a re-entry replaces the teller's earlier one
    entries = list(latest.values())
    if len(entries) < 2:
        return "pending", None, entries
    for i, first in enumerate(entries):
        for second in entries[i + 1:]:
            if first.ballots == second.ballots:
                return "reconciled", first, entries
    return "mismatch", None, entries


def _differences(entries: list[PaperEntry]) -> list[PaperDifference]:
    codes = sorted({code for entry in entries for code in entry.ballots})
    differences = []
    for code in codes:
        seen: dict[str, Marks | None] = {entry.teller: entry.ballots.get(code) for entry in entries}
        values = list(seen.values())
        if any(value != values[0] for value in values):
            differences.append(PaperDifference(code_hash=code, entries=seen))
    return differences


def _is_hex64(value: object) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _is_marks(value: object) -> bool:
    return isinstance(value, Mapping) and all(isinstance(grades, Mapping) for grades in value.values())


def _plain_marks(marks: Marks) -> dict[str, dict[str, str]]:
    return {subject: dict(grades) for subject, grades in marks.items()}
