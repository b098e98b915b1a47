"""What each kind of page shows, as one JSON-able snapshot built from the folded meeting.

Snapshots are complete (a page replaces its state with each one), carry the
meeting's stream version (the log position of the meeting) and the server's
clock (timers on screens count from it, not from the screen's own clock).

What each kind may see:
- screen (public in the hall): phase, speaker and timer, questions, quorum,
  turnout as a count, results only once announced, the log's head hash once
  the ballot is closed. Never names of who checked in.
- phone (a voter): the same as the screen minus quorum detail: nothing that
  the hall screen does not show.
- console (host): the screen's view plus the roster with check-in marks,
  comments and paper batches.
- teller: paper batches and their reconciliation.
Call these inside the county's schema (live.scope.in_county).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from events.repository import Loaded
from meetings.domain.aggregate import Meeting
from meetings.domain.errors import PHASE_NAMES_ZH
from meetings.selectors import (
    code_batches,
    count_check,
    dashboard_meetings,
    meeting_paper_batches,
    meeting_quorum,
    meeting_reports,
    results_body,
    turnout,
)
from meetings.streams import load_meeting

PHASE_NAMES_EN = {
    "new": "not scheduled",
    "scheduled": "scheduled",
    "announced": "announced",
    "opened": "in session",
    "ballot_open": "voting",
    "ballot_closed": "voting closed",
    "results_announced": "results announced",
    "closed": "closed",
}
REVEALED = ("results_announced", "closed")


def _names(meeting: Meeting) -> dict[str, str]:
    return {x.subject_id: x.name for x in meeting.subjects}


def _current_report(meeting: Meeting) -> dict[str, Any] | None:
    if meeting.current_report is None:
        return None
    report = meeting.reports[meeting.current_report]
    return {
        "subject_id": report.subject_id,
        "name": _names(meeting).get(report.subject_id, report.subject_id),
        "started_at": report.started_at.isoformat(),
        "limit_seconds": report.limit_seconds,
    }


def _questions(meeting: Meeting) -> list[dict[str, Any]]:
    names = _names(meeting)
    return [
        {
            "question_id": q.question_id,
            "subject_id": q.subject_id,
            "subject_name": names.get(q.subject_id, q.subject_id),
            "text": q.text,
            "asked_by": q.asked_by,
            "answer": q.answer,
            "deferred": q.deferred,
            "promise": q.promise,
            "due_on": q.due_on,
        }
        for q in meeting.questions.values()
    ]


def results_shown(loaded: Loaded[Meeting]) -> dict[str, Any]:
    """The results as the live pages get them: the results API's body, with the tally in it once.

    The API's body carries the recorded ResultsAnnounced event as `announced`:
    the same counts, groups and rates again, about 16 KiB of a 43 KiB screen
    frame for 10 subjects, written to every hall screen at the moment the hall
    waits for it (bench/spot.py). The pages read from it only each subject's
    announced score (frontend/static/js/results.js); the recorded event stays
    in the log and in the results API.
    """
    body = results_body(loaded)
    announced = body["announced"]
    if announced is not None:
        body["announced"] = {
            "at": announced["at"],
            "subjects": [{"subject_id": s["subject_id"], "score": s["score"]} for s in announced["subjects"]],
        }
    return body


def _base(meeting_id: str, loaded: Loaded[Meeting], kind: str) -> dict[str, Any]:
    meeting = loaded.state
    rules = meeting.rules
    body: dict[str, Any] = {
        "type": "snapshot",
        "kind": kind,
        "meeting_id": meeting_id,
        "title": meeting.title,
        "phase": meeting.phase,
        "phase_zh": PHASE_NAMES_ZH.get(meeting.phase, meeting.phase),
        "phase_en": PHASE_NAMES_EN.get(meeting.phase, meeting.phase),
        "version": meeting.version,
        "server_now": datetime.now(UTC).isoformat(),
        "subjects": [
            {"subject_id": x.subject_id, "name": x.name, "level": x.level, "kind": x.kind} for x in meeting.subjects
        ],
        "starts_at": meeting.starts_at.isoformat() if meeting.starts_at else None,
        "place": meeting.place,
        "current_report": _current_report(meeting),
        "reports_done": [
            {"subject_id": r.subject_id, "duration_seconds": r.duration_seconds, "overtime_seconds": r.overtime_seconds}
            for r in meeting.reports.values()
            if r.ended_at is not None
        ],
        "questions": _questions(meeting),
        "turnout": turnout(meeting_id, meeting),
        # Counts only (never which ballot): what the close says when ballots exceed attendance.
        "count_check": count_check(meeting),
        # Subject kind -> scale; each subject is graded on scales[its kind] (results name it by scale_id).
        "scales": rules.to_data()["scales"] if rules else None,
        "criteria": rules.to_data()["criteria"] if rules else None,
        "results": results_shown(loaded) if meeting.phase in REVEALED else None,
        # The chain's head leaves the platform on the hall screen at the close.
        "head_hash": loaded.head if meeting.phase in ("ballot_closed", *REVEALED) else None,
    }
    return body


def screen(meeting_id: str) -> dict[str, Any]:
    return screen_of(meeting_id, load_meeting(meeting_id))


def screen_of(meeting_id: str, loaded: Loaded[Meeting]) -> dict[str, Any]:
    """The hall screen's snapshot of a meeting folded to `loaded` (the live one, or a replay's: live.replay)."""
    meeting = loaded.state
    return _screen(_base(meeting_id, loaded, "screen"), meeting_quorum(meeting))


def _screen(body: dict[str, Any], quorum: dict[str, Any]) -> dict[str, Any]:
    body["quorum"] = quorum["quorum"]
    body["quorum_met"] = quorum["quorum_met"]
    body["quorum_override"] = bool(quorum["quorum_override"])
    return body


def phone(meeting_id: str) -> dict[str, Any]:
    return _base(meeting_id, load_meeting(meeting_id), "phone")


def console(meeting_id: str) -> dict[str, Any]:
    return console_of(meeting_id, load_meeting(meeting_id))


def console_of(meeting_id: str, loaded: Loaded[Meeting]) -> dict[str, Any]:
    """The host console's snapshot of a meeting folded to `loaded`."""
    meeting = loaded.state
    return _console(_base(meeting_id, loaded, "console"), meeting, meeting_quorum(meeting))


def _console(body: dict[str, Any], meeting: Meeting, quorum: dict[str, Any]) -> dict[str, Any]:
    present = {aid for ids in meeting.checked_in.values() for aid in ids}
    body.update(
        quorum=quorum["quorum"],
        quorum_met=quorum["quorum_met"],
        quorum_override=quorum["quorum_override"],
        roster=[
            {"member_id": e.member_id, "name": e.name, "category": e.category, "checked_in": e.member_id in present}
            for e in meeting.roster.values()
        ],
        guests=[{"guest_id": gid, "name": name} for gid, name in meeting.checked_in.get("guest", {}).items()
                if gid not in meeting.roster],
        comments=[
            {"comment_id": c.comment_id, "subject_id": c.subject_id, "text": c.text, "author": c.author, "at": c.at}
            for c in meeting.comments
        ],
        reports=meeting_reports(meeting),
        paper_batches=meeting_paper_batches(meeting),
        voter_categories=list(meeting.rules.voter_categories) if meeting.rules else [],
        code_batches=code_batches(meeting),
        codes_by_category={c: {"issued": meeting.codes_of(c), "may_vote": meeting.may_vote(c)}
                           for c in (meeting.rules.voter_categories if meeting.rules else ())},
    )
    return body


def screen_and_console_of(meeting_id: str, loaded: Loaded[Meeting]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(screen_of, console_of) of one state, equal to calling both, with their common part built once.

    A replay shows both at every position, and the common part is most of
    the work: the meeting's questions (thousands in a long meeting), the
    turnout, the count and the results' tally. The two bodies are separate
    dicts but share the values of that part (lists, dicts): read them, or
    replace a key, but do not change a shared value in place.
    """
    meeting = loaded.state
    quorum = meeting_quorum(meeting)
    common = _base(meeting_id, loaded, "screen")
    console_body = _console({**common, "kind": "console"}, meeting, quorum)
    return _screen(common, quorum), console_body


def teller(meeting_id: str) -> dict[str, Any]:
    loaded = load_meeting(meeting_id)
    meeting = loaded.state
    body = _base(meeting_id, loaded, "teller")
    body["paper_batches"] = [
        {
            "batch_no": n,
            "status": status,
            "differences": [{"code_hash": d.code_hash, "entries": d.entries} for d in meeting.paper_batch_differences(n)],
            "tellers": sorted({e.teller for e in meeting.paper_entries.get(n, [])}),
        }
        for n, status in sorted(meeting.paper_batches().items())
    ]
    return body


def dashboard() -> dict[str, Any]:
    """The county's meetings at a glance (the county dashboard's live part), from the meeting board."""
    meetings = dashboard_meetings()
    return {"type": "snapshot", "kind": "dashboard", "version": len(meetings), "server_now": datetime.now(UTC).isoformat(),
            "meetings": meetings}


BUILDERS = {"screen": screen, "phone": phone, "console": console, "teller": teller}
