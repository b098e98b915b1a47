"""Codes and counts that add up: code batches, their cap, and ballots against attendance.

A mixin of the meeting aggregate (meetings.domain.aggregate.Meeting), like
meetings.domain.voting; the state it reads is folded there.

The rules, decided here because the seeds give none:

- **Codes are capped by who may vote.** The codes of a category, all
  batches together, may not exceed the people of that category who may vote
  (its roster members, plus those of it checked in who are not on the roster:
  guests) plus a margin the host states on each batch (spare slips for
  spoiled ones, 0 to MAX_MARGIN) and which the batch's event records.
  The cap follows the roster and not the check-in desk because villages
  print their slips before the meeting, when nobody has checked in yet.
- **What keeps codes from turning into ballots of absent people** is the
  count: ballots counted in a category may not exceed the people of that
  category checked in (收回票数 ≤ 到会人数). When they do after the ballot
  closed, the console and the hall screen say so, and the results cannot be
  announced until the host records a decision with a reason
  (CountDiscrepancyAccepted); the decision holds for the counts it names
  only, so a paper batch entered afterwards that changes them needs another.
- **Batches stay listed until printed.** Batches are numbered 1, 2, ... in
  the order they were issued; each stays on the console's print list until
  the host records that it was printed (BallotCodesPrinted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from events.types import DomainEvent
from meetings.domain.errors import (
    BallotsExceedAttendance,
    CodeBatchPrinted,
    CodesOverRoster,
    InvalidCommand,
    UnknownCode,
    UnknownCodeBatch,
    iso,
    require_text,
)
from meetings.domain.rules import Rules, category_name_zh
from meetings.events import (
    BallotCast,
    BallotCodesPrinted,
    CategoryCount,
    CountDiscrepancyAccepted,
    RosterEntry,
)

MAX_MARGIN = 50


@dataclass
class CodeBatch:
    batch_no: int
    category: str
    count: int
    margin: int
    printed: bool = False


class Counts:
    """The counting part of the meeting aggregate (mixed into Meeting, which holds the state)."""

    roster: dict[str, RosterEntry]
    checked_in: dict[str, dict[str, str]]
    issued: dict[str, str]
    code_batches: list[CodeBatch]
    count_decision: CountDiscrepancyAccepted | None
    phone_ballots: dict[str, BallotCast]

    def _require_phase(self, command: str, *, action_zh: str, action_en: str) -> None:
        raise NotImplementedError

    def require_rules(self) -> Rules:
        raise NotImplementedError

    def counted_ballots(self) -> list[tuple[str, str, Mapping[str, Mapping[str, str]]]]:
        raise NotImplementedError

    # -- codes -----------------------------------------------------------------------------------

    def may_vote(self, category: str) -> int:
        """People of `category` who may vote: its roster members plus those checked in off the roster."""
        on_roster = sum(1 for entry in self.roster.values() if entry.category == category)
        off_roster = sum(1 for attendee in self.checked_in.get(category, {}) if attendee not in self.roster)
        return on_roster + off_roster

    def codes_of(self, category: str) -> int:
        return sum(1 for issued in self.issued.values() if issued == category)

    def require_code_room(self, *, category: str, count: int, margin: int) -> None:
        """Refuse a batch that would take the category's codes over who may vote plus the margin."""
        if isinstance(margin, bool) or not isinstance(margin, int) or not 0 <= margin <= MAX_MARGIN:
            raise InvalidCommand(
                f"余量须为0到{MAX_MARGIN}之间的整数", f"the margin must be an integer from 0 to {MAX_MARGIN}",
                code="invalid_margin",
            )
        base, already = self.may_vote(category), self.codes_of(category)
        if already + count > base + margin:
            name = category_name_zh(category)
            room = max(0, base + margin - already)
            raise CodesOverRoster(
                f"{name}测评码不能超过名册人数加余量：名册（含已签到列席）{base}人，余量{margin}，"
                f"已发{already}个，本批{count}个；最多还能发{room}个",
                f"codes of {category} may not exceed those who may vote ({base}) plus the margin ({margin}):"
                f" {already} issued, {count} asked, at most {room} more",
            )

    def category_of_codes(self, code_hashes: list[str]) -> str:
        """The one category of these issued codes (to print them); UnknownCode for one not issued here."""
        categories = set()
        for code_hash in code_hashes:
            category = self.issued.get(code_hash)
            if category is None:
                raise UnknownCode("有测评码不是本次会议发放的", "a code was not issued in this meeting")
            categories.add(category)
        if len(categories) != 1:
            raise InvalidCommand("一张打印单只能有一个参评类别的测评码", "one sheet holds codes of one category",
                                 code="mixed_categories")
        return categories.pop()

    def unprinted_batches(self) -> list[CodeBatch]:
        return [batch for batch in self.code_batches if not batch.printed]

    def mark_codes_printed(self, *, batch_no: int, now: datetime) -> list[DomainEvent]:
        """Record that a batch of codes was printed: it leaves the print list."""
        self._require_phase("mark_codes_printed", action_zh="登记测评码已打印", action_en="mark codes printed")
        if isinstance(batch_no, bool) or not isinstance(batch_no, int) or not 1 <= batch_no <= len(self.code_batches):
            raise UnknownCodeBatch(f"没有第{batch_no}批测评码", f"no code batch {batch_no}")
        if self.code_batches[batch_no - 1].printed:
            raise CodeBatchPrinted(f"第{batch_no}批测评码已登记为已打印", f"code batch {batch_no} is already marked printed")
        return [BallotCodesPrinted(batch_no=batch_no, at=iso(now))]

    # -- ballots against attendance ------------------------------------------------------------------

    def ballots_by_category(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for code, _source, _marks in self.counted_ballots():
            category = self.issued[code]
            counts[category] = counts.get(category, 0) + 1
        return counts

    def over_attendance(self) -> list[CategoryCount]:
        """The categories whose counted ballots exceed the people of them checked in (收回票数 > 到会人数)."""
        return [
            CategoryCount(category=category, ballots=ballots, present=len(self.checked_in.get(category, {})))
            for category, ballots in sorted(self.ballots_by_category().items())
            if ballots > len(self.checked_in.get(category, {}))
        ]

    def over_attendance_accepted(self) -> bool:
        """No excess, or a recorded decision on exactly the present excess."""
        over = self.over_attendance()
        return not over or (self.count_decision is not None and list(self.count_decision.categories) == over)

    def require_counts_add_up(self) -> None:
        """Refuse announcing results while ballots exceed attendance without a recorded decision."""
        if self.over_attendance_accepted():
            return
        over = self.over_attendance()
        zh = "；".join(f"{category_name_zh(c.category)}收回{c.ballots}票，到会{c.present}人" for c in over)
        en = "; ".join(f"{c.category}: {c.ballots} ballots, {c.present} present" for c in over)
        raise BallotsExceedAttendance(
            f"收回票数多于到会人数（{zh}），须由主持人登记处理决定和理由后才能公布结果",
            f"more ballots than people checked in ({en}); the host must record a decision with a reason first",
        )

    def accept_count_discrepancy(self, *, reason: str, actor: str, now: datetime) -> list[DomainEvent]:
        """Record the host's decision to announce although ballots exceed attendance, with the reason."""
        self._require_phase("accept_count_discrepancy", action_zh="登记票数处理决定", action_en="record a count decision")
        require_text(reason, "理由", "reason")
        over = self.over_attendance()
        if not over:
            raise InvalidCommand("收回票数未超过到会人数，无需登记", "ballots do not exceed attendance; nothing to decide",
                                 code="counts_add_up")
        return [CountDiscrepancyAccepted(reason=reason.strip(), actor=actor, categories=over, at=iso(now))]
