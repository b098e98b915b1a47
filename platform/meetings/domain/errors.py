"""The meeting domain's refusals, each with a stable code and the HTTP status an API gives it.

Plain Python (common.refusal is plain too): the domain imports no Django.
"""

from __future__ import annotations

from datetime import datetime

from common.refusal import Refusal

PHASE_NAMES_ZH = {
    "new": "未安排",
    "scheduled": "已安排",
    "announced": "已公告",
    "opened": "会议进行中",
    "ballot_open": "测评进行中",
    "ballot_closed": "测评已结束",
    "results_announced": "结果已公布",
    "closed": "会议已结束",
}


class DomainError(Refusal):
    """A command or configuration is refused by the domain; nothing was decided."""

    code = "domain_error"


class RulesInvalid(DomainError):
    code = "rules_invalid"


class WrongPhase(DomainError):
    code = "wrong_phase"
    http_status = 409


class NotConfigured(DomainError):
    code = "not_configured"


class InvalidCommand(DomainError):
    code = "invalid_command"


class LeadTimeTooShort(DomainError):
    code = "lead_time_too_short"


class NotOnRoster(DomainError):
    code = "not_on_roster"


class AlreadyCheckedIn(DomainError):
    code = "already_checked_in"
    http_status = 409


class QuorumNotMet(DomainError):
    code = "quorum_not_met"


class ReportOutOfOrder(DomainError):
    code = "report_out_of_order"


class ReportsIncomplete(DomainError):
    code = "reports_incomplete"


class UnknownSubject(DomainError):
    code = "unknown_subject"


class UnknownQuestion(DomainError):
    code = "unknown_question"


class UnknownCode(DomainError):
    code = "unknown_code"
    http_status = 404


class MalformedCode(DomainError):
    code = "malformed_code"


class CodeAlreadyUsed(DomainError):
    code = "code_already_used"
    http_status = 409


class BallotInvalid(DomainError):
    code = "ballot_invalid"


class PaperBatchClosed(DomainError):
    code = "paper_batch_reconciled"


class PaperBatchesUnresolved(DomainError):
    code = "paper_batches_unresolved"


class CodesOverRoster(DomainError):
    code = "codes_over_roster"


class BallotsExceedAttendance(DomainError):
    code = "ballots_exceed_attendance"


class UnknownCodeBatch(DomainError):
    code = "unknown_code_batch"
    http_status = 404


class CodeBatchPrinted(DomainError):
    code = "code_batch_printed"
    http_status = 409


class UnknownMeeting(DomainError):
    code = "unknown_meeting"
    http_status = 404

    def __init__(self, meeting_id: str) -> None:
        super().__init__(f"找不到会议 {meeting_id}", f"no meeting {meeting_id}")


class UnknownRound(DomainError):
    code = "unknown_round"
    http_status = 404

    def __init__(self, round_id: str) -> None:
        super().__init__(f"找不到述评活动 {round_id}", f"no round {round_id}")


def wrong_phase(action_zh: str, action_en: str, phase: str) -> WrongPhase:
    return WrongPhase(
        f"当前阶段（{PHASE_NAMES_ZH.get(phase, phase)}）不能{action_zh}",
        f"cannot {action_en} while the meeting is {phase}",
    )


def iso(moment: datetime) -> str:
    """An aware datetime as ISO 8601 text (what events carry); a naive one is refused."""
    if moment.tzinfo is None:
        raise InvalidCommand("时间须带时区", "times must be timezone-aware")
    return moment.isoformat()


def require_text(value: str | None, what_zh: str, what_en: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidCommand(f"{what_zh}不能为空", f"{what_en} is required")
