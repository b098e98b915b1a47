"""The registry's aggregates in plain Python: a body, and an official with posts over time.

Each decides on its own stream's events and returns new events, or raises a
Refusal (nothing is written). Dates come in as `date` and are recorded as
YYYY-MM-DD.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from common.refusal import Conflict, NotFound, Refusal
from events.types import DomainEvent
from meetings.registry.events import (
    BodyRegistered,
    BodyRenamed,
    OfficialDetailsCorrected,
    OfficialPostAssigned,
    OfficialPostEnded,
    OfficialRegistered,
)

BODY_KINDS = {
    "party_branch": "村党支部",
    "village_committee": "村委会",
    "township_party_committee": "乡镇党委",
}
VILLAGE_BODY_KINDS = frozenset({"party_branch", "village_committee"})
GENDERS = frozenset({"male", "female"})
NAME_MAX = 50
BODY_NAME_MAX = 80
POST_MAX = 50
REASON_MAX = 500


class RegistryRefusal(Refusal):
    """Bad input for the registry; `field` names the form field it is about (for pages)."""

    code = "registry_invalid"

    def __init__(self, zh: str, en: str, *, code: str, field: str | None = None, http_status: int | None = None) -> None:
        super().__init__(zh, en, code=code, http_status=http_status, details={"field": field} if field else None)
        self.field = field


class UnknownOfficial(NotFound):
    code = "unknown_official"

    def __init__(self, official_id: str) -> None:
        super().__init__(f"名录中没有编号为“{official_id}”的干部", f"no official {official_id!r} in the registry")


class UnknownBody(NotFound):
    code = "unknown_body"

    def __init__(self, body_id: str) -> None:
        super().__init__(f"名录中没有编号为“{body_id}”的组织", f"no body {body_id!r} in the registry")


def clean_text(value: str, *, field: str, label: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise RegistryRefusal(f"请填写{label}", f"{field} is required", code="field_required", field=field)
    if len(text) > limit:
        raise RegistryRefusal(
            f"{label}不能超过{limit}个字", f"{field} is longer than {limit} characters", code="field_too_long", field=field
        )
    return text


def _gender(value: str | None) -> str | None:
    if value in (None, ""):
        return None
    if value not in GENDERS:
        raise RegistryRefusal("性别只能是男或女", "gender must be male or female", code="invalid_gender", field="gender")
    return value


@dataclass
class Body:
    body_id: str = ""
    name: str = ""
    kind: str = ""
    township_id: int = 0
    township: str = ""
    village_id: int | None = None
    village: str | None = None
    version: int = 0

    @property
    def level(self) -> str:
        """Who grades it in a meeting's rules: a village body or the township's."""
        return "village" if self.village_id is not None else "township"

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        if isinstance(event, BodyRegistered):
            self.body_id, self.name, self.kind = event.body_id, event.name, event.kind
            self.township_id, self.township = event.township_id, event.township
            self.village_id, self.village = event.village_id, event.village
        elif isinstance(event, BodyRenamed):
            self.name = event.name

    def register(
        self, *, body_id: str, name: str, kind: str, township_id: int, township: str,
        village_id: int | None, village: str | None,
    ) -> list[DomainEvent]:
        if self.version:
            raise Conflict("该组织已登记", f"body {body_id} is already registered", code="already_registered")
        if kind not in BODY_KINDS:
            raise RegistryRefusal("请选择组织类型", f"unknown body kind {kind!r}", code="invalid_body_kind", field="kind")
        if kind in VILLAGE_BODY_KINDS and village_id is None:
            raise RegistryRefusal(
                f"{BODY_KINDS[kind]}须属于一个村（社区）", f"a {kind} belongs to a village", code="village_required",
                field="village_id",
            )
        if kind not in VILLAGE_BODY_KINDS and village_id is not None:
            raise RegistryRefusal(
                "乡镇党委不属于某个村，请不要选择村（社区）", "a township Party committee belongs to no village",
                code="village_not_allowed", field="village_id",
            )
        name = clean_text(name, field="name", label="组织名称", limit=BODY_NAME_MAX)
        return [BodyRegistered(
            body_id=body_id, name=name, kind=kind, township_id=township_id, township=township,
            village_id=village_id, village=village,
        )]

    def rename(self, *, name: str) -> list[DomainEvent]:
        self._require_registered()
        name = clean_text(name, field="name", label="组织名称", limit=BODY_NAME_MAX)
        if name == self.name:
            return []  # nothing changes: nothing to record
        return [BodyRenamed(body_id=self.body_id, name=name, previous_name=self.name)]

    def _require_registered(self) -> None:
        if not self.version:
            raise UnknownBody(self.body_id or "?")


@dataclass
class Post:
    post_no: int
    body_id: str
    body_name: str
    post: str
    from_date: str
    to_date: str | None = None

    @property
    def current(self) -> bool:
        return self.to_date is None


@dataclass
class Official:
    official_id: str = ""
    name: str = ""
    gender: str | None = None
    posts: dict[int, Post] = field(default_factory=dict)
    version: int = 0

    def apply(self, event: DomainEvent) -> None:
        self.version += 1
        if isinstance(event, OfficialRegistered):
            self.official_id, self.name, self.gender = event.official_id, event.name, event.gender
        elif isinstance(event, OfficialDetailsCorrected):
            self.name, self.gender = event.name, event.gender
        elif isinstance(event, OfficialPostAssigned):
            self.posts[event.post_no] = Post(
                event.post_no, event.body_id, event.body_name, event.post, event.from_date
            )
        elif isinstance(event, OfficialPostEnded):
            self.posts[event.post_no].to_date = event.to_date

    def current_posts(self) -> list[Post]:
        return [p for p in sorted(self.posts.values(), key=lambda p: p.post_no) if p.current]

    def register(self, *, official_id: str, name: str, gender: str | None) -> list[DomainEvent]:
        if self.version:
            raise Conflict("该干部已登记", f"official {official_id} is already registered", code="already_registered")
        name = clean_text(name, field="name", label="姓名", limit=NAME_MAX)
        return [OfficialRegistered(official_id=official_id, name=name, gender=_gender(gender))]

    def correct(self, *, name: str, gender: str | None, reason: str) -> list[DomainEvent]:
        self._require_registered()
        name = clean_text(name, field="name", label="姓名", limit=NAME_MAX)
        reason = clean_text(reason, field="reason", label="更正理由", limit=REASON_MAX)
        gender = _gender(gender)
        if (name, gender) == (self.name, self.gender):
            raise RegistryRefusal(
                "信息没有变化，无需更正", "nothing differs from the registered details", code="nothing_to_correct", field="name"
            )
        return [OfficialDetailsCorrected(official_id=self.official_id, name=name, gender=gender, reason=reason)]

    def assign_post(self, *, body: Body, post: str, from_date: date) -> list[DomainEvent]:
        """Take a post in a registered body; the same post of the same body is held once at a time."""
        self._require_registered()
        if not body.version:
            raise RegistryRefusal("请选择已登记的组织", "the body is not registered", code="unknown_body", field="body_id")
        post = clean_text(post, field="post", label="职务", limit=POST_MAX)
        for held in self.current_posts():
            if held.body_id == body.body_id and held.post == post:
                raise RegistryRefusal(
                    f"{self.name}已在{held.body_name}担任{post}", f"{self.official_id} already holds this post",
                    code="post_already_held", field="post",
                )
        return [OfficialPostAssigned(
            official_id=self.official_id, post_no=max(self.posts, default=0) + 1, body_id=body.body_id,
            body_name=body.name, post=post, from_date=from_date.isoformat(),
        )]

    def end_post(self, *, post_no: int, to_date: date) -> list[DomainEvent]:
        self._require_registered()
        held = self.posts.get(post_no)
        if held is None:
            raise RegistryRefusal("没有这一任职记录", f"no post {post_no}", code="unknown_post", field="post_no")
        if not held.current:
            raise RegistryRefusal(
                f"该职务已于{held.to_date}免去", f"post {post_no} ended on {held.to_date}", code="post_already_ended",
                field="post_no", http_status=409,
            )
        if to_date.isoformat() < held.from_date:
            raise RegistryRefusal(
                f"免职日期不能早于任职日期（{held.from_date}）", "the end date is before the start date",
                code="post_end_before_start", field="to_date",
            )
        return [OfficialPostEnded(official_id=self.official_id, post_no=post_no, to_date=to_date.isoformat())]

    def _require_registered(self) -> None:
        if not self.version:
            raise UnknownOfficial(self.official_id or "?")
