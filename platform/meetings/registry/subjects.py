"""A meeting's subjects from the registry: a reference becomes a SubjectEntry with a snapshot.

A subject given to `check_schedule_meeting` either names itself for that
meeting only ({subject_id, name, level, kind}, as before the registry) or
refers to the registry ({official_id} or {body_id}, with an optional
subject_id and level). A reference is resolved here, on the official's or
body's current state: the entry keeps the reference and copies the name and
the posts held today, so the meeting's log reads on its own and the county
can still find the same person in next year's meeting. The subject id of a
reference is the registry id unless one is given, so ballot marks of two
meetings name the same person the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from common.refusal import Conflict, Refusal
from meetings.events import SubjectEntry
from meetings.registry.streams import load_body, load_official

POST_SEPARATOR = "、"


class SubjectReferenceInvalid(Refusal):
    code = "subject_reference_invalid"


def subject_entry(spec: Mapping[str, Any]) -> SubjectEntry:
    """The SubjectEntry for one subject as sent: named for the meeting, or a reference resolved now."""
    official_id, body_id = spec.get("official_id"), spec.get("body_id")
    if official_id is None and body_id is None:
        missing = [name for name in ("subject_id", "name", "level") if not spec.get(name)]
        if missing:
            raise SubjectReferenceInvalid(
                "述评对象须引用名录中的干部或组织（official_id / body_id），或给出编号、名称和层级",
                f"a subject refers to the registry (official_id or body_id) or gives {', '.join(missing)}",
            )
        return SubjectEntry(
            subject_id=spec["subject_id"], name=spec["name"], level=spec["level"], kind=spec.get("kind") or "person"
        )
    if official_id is not None and body_id is not None:
        raise SubjectReferenceInvalid(
            "一个述评对象只能引用一名干部或一个组织", "a subject refers to an official or to a body, not both"
        )
    if spec.get("name") or spec.get("kind"):
        raise SubjectReferenceInvalid(
            "引用名录的述评对象，名称和类型以名录为准，请不要另填", "a subject that refers to the registry takes its name and kind from it"
        )
    if official_id is not None:
        return _official_subject(official_id, spec)
    body = load_body(str(body_id))
    return SubjectEntry(
        subject_id=spec.get("subject_id") or body.body_id, name=body.name, level=spec.get("level") or body.level,
        kind="body", body_id=body.body_id,
    )


def _official_subject(official_id: str, spec: Mapping[str, Any]) -> SubjectEntry:
    official = load_official(official_id)
    posts = official.current_posts()
    if not posts:
        raise Conflict(
            f"{official.name}目前没有在任职务（已免职），不能作为述评对象",
            f"official {official_id} holds no post now (ended), so cannot be a subject",
            code="official_post_ended",
        )
    level = spec.get("level")
    if not level:
        level = load_body(posts[0].body_id).level
    return SubjectEntry(
        subject_id=spec.get("subject_id") or official.official_id, name=official.name, level=level, kind="person",
        official_id=official.official_id, post=POST_SEPARATOR.join(p.post for p in posts),
    )
