"""Event types of the county's registry of officials and bodies (干部与组织名录).

Streams: one per body (`body-<body_id>`) and one per official
(`official-<official_id>`), not one county-wide stream. No rule of the
registry spans two officials (namesakes are allowed, and many people hold
the same post title), so a county-wide stream would only make every write of
the organization department queue behind the others and grow without bound;
one stream per person is that person's whole history, which is exactly what
"the same person year after year" reads. The one check across streams (a
post's body exists) reads the body's stream, and bodies are never removed,
so a concurrent write cannot make it false.

Ids are minted once (`bd` or `of` and 12 hex digits) and never change; they
are ASCII identifiers, so a meeting can use them as subject ids in ballot
marks. Names of townships, villages and bodies are copied into the events
that refer to them, so the log reads on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from events.types import DomainEvent, event_type

BODY_PREFIX = "body-"
OFFICIAL_PREFIX = "official-"


def body_stream(body_id: str) -> str:
    return f"{BODY_PREFIX}{body_id}"


def official_stream(official_id: str) -> str:
    return f"{OFFICIAL_PREFIX}{official_id}"


@event_type(version=1)
@dataclass(frozen=True)
class BodyRegistered(DomainEvent):
    """A body that reports as one: 村党支部, 村委会 (with a village) or 乡镇党委 (without)."""

    body_id: str
    name: str
    kind: str  # party_branch | village_committee | township_party_committee
    township_id: int
    township: str
    village_id: int | None
    village: str | None


@event_type(version=1)
@dataclass(frozen=True)
class BodyRenamed(DomainEvent):
    body_id: str
    name: str
    previous_name: str


@event_type(version=1)
@dataclass(frozen=True)
class OfficialRegistered(DomainEvent):
    official_id: str
    name: str
    gender: str | None  # male | female | None (not given)


@event_type(version=1)
@dataclass(frozen=True)
class OfficialDetailsCorrected(DomainEvent):
    """A mistake in the registered details fixed (a miswritten name), with the reason."""

    official_id: str
    name: str
    gender: str | None
    reason: str


@event_type(version=1)
@dataclass(frozen=True)
class OfficialPostAssigned(DomainEvent):
    """The official took a post in a body, from a date (YYYY-MM-DD)."""

    official_id: str
    post_no: int  # 1, 2, ... in the official's stream: which post a later end refers to
    body_id: str
    body_name: str  # the body's name at the time
    post: str  # e.g. 党支部书记, 村委会主任
    from_date: str


@event_type(version=1)
@dataclass(frozen=True)
class OfficialPostEnded(DomainEvent):
    official_id: str
    post_no: int
    to_date: str  # the last day in the post (YYYY-MM-DD)
