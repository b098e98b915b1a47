"""The registry's streams through the one repository: a body's or an official's current state."""

from __future__ import annotations

from events import repository
from meetings.registry.domain import Body, Official, UnknownBody, UnknownOfficial
from meetings.registry.events import body_stream, official_stream


def load_body(body_id: str) -> Body:
    """The body's current state (shared: do not mutate); UnknownBody if it was never registered."""
    body = repository.load(body_stream(body_id), Body).state
    if not body.version:
        raise UnknownBody(body_id)
    return body


def load_official(official_id: str) -> Official:
    """The official's current state (shared: do not mutate); UnknownOfficial if never registered."""
    official = repository.load(official_stream(official_id), Official).state
    if not official.version:
        raise UnknownOfficial(official_id)
    return official
