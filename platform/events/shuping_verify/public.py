"""A public log against the full log it was made from (docs/event-log-format.md section 14.2)."""

from __future__ import annotations

from typing import Any

from .canonical import parse_json_line
from .report import Problem


def _kept(kind: str, full: dict[str, Any], public: dict[str, Any], pseudonyms: dict[str, str],
          roster: set[str]) -> bool:
    """Whether a redacted event's published data is what section 14.1 keeps of the recorded data."""
    if kind == "MeetingConfigured":
        roster.update(m["member_id"] for m in public["roster"])
        return (public["rules"], public["subjects"]) == (full["rules"], full["subjects"]) and sorted(
            m["category"] for m in public["roster"]) == sorted(m["category"] for m in full["roster"])
    if kind == "AttendeeCheckedIn":  # one member, one pseudonym; in the roster exactly when the member is
        known = pseudonyms.setdefault(full["attendee_id"], public["attendee_id"])
        return known == public["attendee_id"] and public["category"] == full["category"]
    kept = {"QuestionAsked": ("question_id", "text", "subject"), "CommentRecorded": ("comment_id", "subject_id", "text")}
    return public == {k: full[k] for k in kept.get(kind, ()) if k in full}


def compare_public(public_path: Any, full_path: Any) -> list[Problem]:
    """Problems of a public log that is not the redaction (section 14.1) of this full log; [] if it is."""
    with open(public_path, "rb") as p_handle, open(full_path, "rb") as f_handle:
        public, full = [parse_json_line(x) for x in p_handle], [parse_json_line(x) for x in f_handle]
    keys = ("county", "stream", "event_count", "head_hash")
    if [public[0].get(k) for k in keys] != [full[0].get(k) for k in keys] or len(public) != len(full):
        return [Problem(1, None, None, "public_mismatch", "the public log is not of the same stream and head as the full log",
                        "公开日志与完整日志不是同一记录流、同一末端哈希")]
    problems: list[Problem] = []
    pseudonyms: dict[str, str] = {}
    roster: set[str] = set()
    members: set[str] = set()
    for line_no, (p, f) in enumerate(zip(public[1:], full[1:], strict=True), start=2):
        same = all(p.get(k) == f.get(k) for k in ("position", "stream", "version", "type", "schema_version", "prev_hash", "hash"))
        if f.get("type") == "MeetingConfigured":
            members = {m["member_id"] for m in f["data"]["roster"]}
        if not p.get("redacted"):
            same = same and all(p.get(k) == f.get(k) for k in ("data", "metadata", "recorded_at"))
        else:
            try:
                same = same and p["metadata"] == {} and p["recorded_at"] == f["recorded_at"][:13] + ":00:00.000000Z" and _kept(
                    f["type"], f["data"], p["data"], pseudonyms, roster)
                if f["type"] == "AttendeeCheckedIn":
                    same = same and (f["data"]["attendee_id"] in members) == (p["data"]["attendee_id"] in roster)
            except (KeyError, TypeError):
                same = False
        if not same:
            problems.append(Problem(line_no, f.get("position"), f.get("version"), "public_mismatch",
                                    "this event of the public log is not the recorded one, or not redacted as section 14.1 says",
                                    "公开日志中的这条事件与完整日志不符，或未按第 14.1 节去除个人信息"))
    return problems
