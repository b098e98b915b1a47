"""The comment ledger (点评台账): events and the plain-Python aggregate of one comment.

Seed 004 keeps, for every leader comment, who commented, on whom, when, what
was said and the rectification it led to. A comment is made in one of four
modes (at a meeting, one-to-one, on site, between organizations) and face to
face or back to back (意见箱, anonymous letters). A villager's suggestion
dropped into a village's public box (no login) is a back-to-back comment of
its own mode, "box": it names no author, and a contact only if the writer
typed one. One stream per comment: `comment-<comment_id>`; a comment may
lead to rectification items of the ledger (followup.ledger), each recorded
here as CommentItemOpened so the ledger row says what the comment led to.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date

from common.refusal import Conflict, NotFound, Refusal
from events.types import DomainEvent, event_type

MODES = {
    "meeting": "会议集中点评",
    "one_to_one": "单独谈话点评",
    "on_site": "现场就近点评",
    "between_orgs": "组织相互点评",
    "box": "群众意见箱",
}
MANNERS = {
    "face_to_face": "面对面",
    "suggestion_box": "背靠背（意见箱）",
    "anonymous_letter": "背靠背（匿名信）",
}
BACK_TO_BACK = frozenset({"suggestion_box", "anonymous_letter"})
MAX_TEXT = 2000
MAX_NAME = 100
MAX_CONTACT = 100
_NAMESPACE = uuid.UUID("5b1f0c52-7e0f-4d8e-9a57-2f4f3c7d9e11")


def new_comment_id() -> str:
    return "dp" + uuid.uuid4().hex[:12]


def comment_stream(comment_id: str) -> str:
    return f"comment-{comment_id}"


def item_command_id(comment_id: str, command_id: str) -> str:
    """The ledger's command id for an item opened from a comment: a retry opens the same item once."""
    return str(uuid.uuid5(_NAMESPACE, f"item\x1f{comment_id}\x1f{command_id}"))


@event_type(version=1)
@dataclass(frozen=True)
class LedgerCommentRecorded(DomainEvent):
    """A comment as the ledger keeps it: who (empty when back to back), on whom, when, what.

    `village_id` is the village the comment is about (None for a township's
    own body); `official_id` names the registry official it is about, if any.
    `contact` is recorded only when the writer gave one, and never shown to
    the public.
    """

    comment_id: str
    mode: str
    manner: str
    commenter: str
    about: str
    official_id: str | None
    township: str
    village: str
    village_id: int | None
    on: str
    text: str
    contact: str | None


@event_type(version=1)
@dataclass(frozen=True)
class CommentItemOpened(DomainEvent):
    """A rectification item of the ledger was opened from this comment."""

    comment_id: str
    item_id: str
    opened_by: str


@dataclass
class Comment:
    comment_id: str = ""
    items: list[str] = field(default_factory=list)
    version: int = 0

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        if isinstance(event, LedgerCommentRecorded):
            self.comment_id = event.comment_id
        elif isinstance(event, CommentItemOpened):
            self.items.append(event.item_id)

    def record(
        self, *, comment_id: str, mode: str, manner: str, commenter: str, about: str, official_id: str | None,
        township: str, village: str, village_id: int | None, on: date, today: date, text: str, contact: str,
    ) -> list[DomainEvent]:
        if self.version:
            raise Conflict("该点评已经登记", "this comment is already recorded", code="comment_exists")
        if mode not in MODES:
            raise Refusal("点评方式只能是会议集中、单独谈话、现场就近、组织相互点评或群众意见箱", "unknown mode",
                          code="unknown_comment_mode", details={"field": "mode"})
        if manner not in MANNERS:
            raise Refusal("请选择面对面或背靠背（意见箱、匿名信）", "unknown manner", code="unknown_comment_manner",
                          details={"field": "manner"})
        if mode == "box" and manner != "suggestion_box":
            raise Refusal("意见箱里的意见都是背靠背的", "a box suggestion is back to back", code="unknown_comment_manner",
                          details={"field": "manner"})
        if manner == "face_to_face":
            _text(commenter, "点评人", "commenter", MAX_NAME)
        elif commenter.strip():
            raise Refusal("背靠背的意见不记点评人", "a back-to-back comment names no commenter",
                          code="anonymous_names_commenter", details={"field": "commenter"})
        _text(about, "点评对象", "about", MAX_NAME)
        _text(text, "点评内容", "text", MAX_TEXT)
        _text(contact, "联系方式", "contact", MAX_CONTACT, required=False)
        if on > today:
            raise Refusal("点评日期不能晚于今天", "the comment's date is in the future", code="date_future",
                          details={"field": "on"})
        return [LedgerCommentRecorded(
            comment_id=comment_id, mode=mode, manner=manner, commenter=commenter.strip(), about=about.strip(),
            official_id=official_id or None, township=township, village=village, village_id=village_id,
            on=on.isoformat(), text=text.strip(), contact=contact.strip() or None,
        )]

    def lead_to_item(self, *, item_id: str, by: str) -> list[DomainEvent]:
        if not self.version:
            raise NotFound("找不到该点评", "no such comment", code="unknown_comment")
        if item_id in self.items:
            return []
        return [CommentItemOpened(comment_id=self.comment_id, item_id=item_id, opened_by=by)]


def _text(value: str, zh: str, en: str, limit: int, *, required: bool = True) -> None:
    if required and not value.strip():
        raise Refusal(f"请填写{zh}", f"the {en} is required", code=f"{en}_required", details={"field": en})
    if len(value) > limit:
        raise Refusal(f"{zh}过长（最多{limit}字）", f"the {en} is too long (at most {limit})", code="too_long",
                      details={"field": en})
