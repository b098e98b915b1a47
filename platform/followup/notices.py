"""A meeting's public notices as an aggregate (plain Python): publish, object, answer, end the period, file.

One stream per meeting (`notices-<meeting id>`). The rules it keeps:

- a published notice never changes; a correction is a new notice that
  supersedes the current one, and both stay on the record;
- objections are taken while the current notice's period runs, never
  against a superseded or closed notice;
- the period is closed (NoticePeriodEnded) only once it is over AND every
  objection of the meeting is answered: an unanswered objection keeps it
  open, and the next sweep closes it after the answer;
- the results are filed once, after the current notice's period ended with
  every objection answered, with the head hash that notice carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from common.refusal import Conflict, NotFound
from events.types import DomainEvent
from followup.events import (
    NoticePeriodEnded,
    NoticePublished,
    ObjectionAnswered,
    ObjectionRaised,
    ResultsFiled,
)

STREAM_PREFIX = "notices-"


def notices_stream(meeting_id: str) -> str:
    return f"{STREAM_PREFIX}{meeting_id}"


def iso(moment: datetime) -> str:
    return moment.isoformat()


@dataclass
class Notice:
    notice_id: str
    head_hash: str
    period_ends: datetime
    superseded_by: str | None = None
    ended: bool = False


@dataclass
class MeetingNotices:
    notices: dict[str, Notice] = field(default_factory=dict)
    current: str | None = None  # the notice that no other supersedes
    objections: dict[str, str] = field(default_factory=dict)  # objection id -> notice id
    answered: set[str] = field(default_factory=set)
    filed: str | None = None  # the filing id
    version: int = 0

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        if isinstance(event, NoticePublished):
            self.notices[event.notice_id] = Notice(
                event.notice_id, event.head_hash, datetime.fromisoformat(event.period_ends)
            )
            if event.supersedes in self.notices:
                self.notices[event.supersedes].superseded_by = event.notice_id
            self.current = event.notice_id
        elif isinstance(event, ObjectionRaised):
            self.objections[event.objection_id] = event.notice_id
        elif isinstance(event, ObjectionAnswered):
            self.answered.add(event.objection_id)
        elif isinstance(event, NoticePeriodEnded):
            self.notices[event.notice_id].ended = True
        elif isinstance(event, ResultsFiled):
            self.filed = event.filing_id

    @property
    def unanswered(self) -> list[str]:
        return [oid for oid in self.objections if oid not in self.answered]

    # -- decisions -------------------------------------------------------------------------------

    def publish(self, draft: NoticePublished) -> list[DomainEvent]:
        """Publish `draft` (a complete NoticePublished): the first notice, or a correction of the current one."""
        if self.filed:
            raise Conflict("本场会议的结果已备案，不能再发布公示", "the results are filed: no further notice",
                           code="results_filed")
        if draft.notice_id in self.notices:
            raise Conflict("该公示编号已被使用", "this notice id is taken", code="notice_exists")
        if draft.supersedes is None and self.current is not None:
            raise Conflict(
                "本场会议已发布公示；公示发布后不能修改，如需更正请发布更正公示",
                "a notice is already published for this meeting; it cannot change: publish a correction",
                code="notice_published",
            )
        if draft.supersedes is not None and draft.supersedes != self.current:
            raise Conflict("只能更正本场会议当前有效的公示", "only the meeting's current notice can be corrected",
                           code="not_current_notice")
        return [draft]

    def raise_objection(
        self, *, objection_id: str, notice_id: str, text: str, contact: str | None, now: datetime
    ) -> list[DomainEvent]:
        notice = self._notice(notice_id)
        if notice.superseded_by is not None:
            raise Conflict("该公示已被更正公示取代，请对最新的公示提出异议",
                           "this notice was superseded by a correction: object to the newer notice",
                           code="notice_superseded")
        if notice.ended or now >= notice.period_ends:
            raise Conflict("公示期已结束，不能再提出异议", "the notice period is over: objections are closed",
                           code="notice_closed")
        if objection_id in self.objections:
            raise Conflict("该异议编号已被使用", "this objection id is taken", code="objection_exists")
        return [ObjectionRaised(objection_id=objection_id, notice_id=notice_id, text=text, contact=contact,
                                at=iso(now))]

    def answer_objection(self, *, objection_id: str, answer: str, by: str, now: datetime) -> list[DomainEvent]:
        if objection_id not in self.objections:
            raise NotFound("找不到该异议", "no such objection", code="unknown_objection")
        if objection_id in self.answered:
            raise Conflict("该异议已经答复过了", "this objection is already answered", code="objection_answered")
        return [ObjectionAnswered(objection_id=objection_id, answer=answer, answered_by=by, at=iso(now))]

    def end_period(self, *, notice_id: str, now: datetime) -> list[DomainEvent]:
        """Close the period of the current notice once it is over and every objection is answered."""
        notice = self._notice(notice_id)
        if notice.ended:
            return []  # already recorded: a second sweep records nothing
        if notice.superseded_by is not None:
            raise Conflict("该公示已被更正公示取代", "this notice was superseded", code="notice_superseded")
        if now < notice.period_ends:
            raise Conflict("公示期尚未届满", "the notice period is still running", code="period_running")
        if self.unanswered:
            raise Conflict(f"还有 {len(self.unanswered)} 条异议未答复，公示期不能结束",
                           f"{len(self.unanswered)} objection(s) unanswered: the period cannot close",
                           code="objections_unanswered")
        return [NoticePeriodEnded(notice_id=notice_id, period_ends=iso(notice.period_ends), at=iso(now))]

    def file(self, *, filing_id: str, by: str, now: datetime) -> list[DomainEvent]:
        """File the results with the head hash of the current notice (after its period, every objection answered)."""
        if self.filed:
            raise Conflict("本场会议的结果已经备案", "the results are already filed", code="already_filed")
        if self.current is None:
            raise Conflict("尚未发布公示，不能备案", "no notice is published yet", code="no_notice")
        notice = self.notices[self.current]
        if self.unanswered:
            raise Conflict(f"还有 {len(self.unanswered)} 条异议未答复，不能备案",
                           f"{len(self.unanswered)} objection(s) unanswered: cannot file",
                           code="objections_unanswered")
        if not notice.ended:
            raise Conflict("公示期尚未结束，不能备案", "the notice period has not ended", code="period_not_ended")
        return [ResultsFiled(filing_id=filing_id, notice_id=notice.notice_id, head_hash=notice.head_hash, filed_by=by,
                             at=iso(now))]

    def _notice(self, notice_id: str) -> Notice:
        notice = self.notices.get(notice_id)
        if notice is None:
            raise NotFound("找不到该公示", "no such notice", code="unknown_notice")
        return notice
