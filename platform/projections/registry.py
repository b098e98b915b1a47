"""The county's registry of officials and bodies, and whom each meeting's subjects refer to (inline).

Tables:
- proj_registry_bodies: each body with its current name, township and village;
- proj_registry_officials: each official's current details;
- proj_registry_posts: every post an official took, ended or not (their posts over time);
- proj_registry_subjects: each subject of a meeting that refers to the registry
  (an official or a body), with the name and post the meeting recorded and,
  once announced, the results: "the same person year after year".

Inline, so that a page that has just registered an official lists them, and
a meeting scheduled right after sees the post that was just assigned.
"""

from __future__ import annotations

from events.records import RecordedEvent
from projections.runtime import Cursor, Projection, register

REGISTRY_EVENTS = frozenset({
    "BodyRegistered", "BodyRenamed", "OfficialRegistered", "OfficialDetailsCorrected", "OfficialPostAssigned",
    "OfficialPostEnded",
})


class Registry(Projection):
    name = "registry"
    inline = True
    tables = ("proj_registry_bodies", "proj_registry_officials", "proj_registry_posts", "proj_registry_subjects")
    handles = REGISTRY_EVENTS | {"MeetingConfigured", "ResultsAnnounced"}

    def apply(self, cursor: Cursor, event: RecordedEvent) -> None:
        data = event.data
        if event.type == "BodyRegistered":
            cursor.execute(
                "INSERT INTO proj_registry_bodies (body_id, name, kind, township_id, township, village_id, village,"
                " registered_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                [data["body_id"], data["name"], data["kind"], data["township_id"], data["township"],
                 data["village_id"], data["village"], event.recorded_at],
            )
        elif event.type == "BodyRenamed":
            cursor.execute("UPDATE proj_registry_bodies SET name = %s WHERE body_id = %s", [data["name"], data["body_id"]])
        elif event.type == "OfficialRegistered":
            cursor.execute(
                "INSERT INTO proj_registry_officials (official_id, name, gender, registered_at) VALUES (%s, %s, %s, %s)",
                [data["official_id"], data["name"], data["gender"], event.recorded_at],
            )
        elif event.type == "OfficialDetailsCorrected":
            cursor.execute(
                "UPDATE proj_registry_officials SET name = %s, gender = %s, corrections = corrections + 1"
                " WHERE official_id = %s",
                [data["name"], data["gender"], data["official_id"]],
            )
        elif event.type == "OfficialPostAssigned":
            cursor.execute(
                "INSERT INTO proj_registry_posts (official_id, post_no, body_id, post, from_date)"
                " VALUES (%s, %s, %s, %s, %s::date)",
                [data["official_id"], data["post_no"], data["body_id"], data["post"], data["from_date"]],
            )
        elif event.type == "OfficialPostEnded":
            cursor.execute(
                "UPDATE proj_registry_posts SET to_date = %s::date WHERE official_id = %s AND post_no = %s",
                [data["to_date"], data["official_id"], data["post_no"]],
            )
        elif event.type == "MeetingConfigured":
            _subjects_configured(cursor, event)
        elif event.type == "ResultsAnnounced":
            for outcome in data["subjects"]:
                cursor.execute(
                    "UPDATE proj_registry_subjects SET ballots = %s, favourable_percent = %s,"
                    " unfavourable_percent = %s, score = %s, flagged = %s WHERE stream_id = %s AND subject_id = %s",
                    [outcome["ballots"], outcome["favourable_percent"], outcome["unfavourable_percent"],
                     outcome["score"], outcome["flagged"], event.stream_id, outcome["subject_id"]],
                )


def _subjects_configured(cursor: Cursor, event: RecordedEvent) -> None:
    # A meeting may be configured again until it is announced: its subjects
    # are what the latest configuration says.
    cursor.execute("DELETE FROM proj_registry_subjects WHERE stream_id = %s", [event.stream_id])
    meeting_id = event.stream_id.removeprefix("meeting-")
    for position, subject in enumerate(event.data["subjects"]):
        official_id, body_id = subject.get("official_id"), subject.get("body_id")
        if official_id is None and body_id is None:
            continue  # a subject named for this meeting only (older events, or callers that send no reference)
        cursor.execute(
            "INSERT INTO proj_registry_subjects (stream_id, meeting_id, subject_id, position, official_id, body_id,"
            " name, post, kind, level) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [event.stream_id, meeting_id, subject["subject_id"], position, official_id, body_id, subject["name"],
             subject.get("post"), subject.get("kind", "person"), subject["level"]],
        )


register(Registry())
