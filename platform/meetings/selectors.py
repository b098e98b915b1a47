"""Reads of a meeting for pages and the API: plain data built from the folded state.

Shared by the API views and the live layer so that a screen and an API
client see the same figures.
"""

from __future__ import annotations

from typing import Any

from events import store
from meetings import services
from meetings.domain.aggregate import Meeting
from meetings.domain.tally import compute_results, display_percent


def meeting_summary(meeting: Meeting) -> dict[str, Any]:
    rules = meeting.rules
    return {
        "meeting_id": meeting.meeting_id,
        "title": meeting.title,
        "phase": meeting.phase,
        "version": meeting.version,
        "rules": rules.to_data() if rules else None,
        "subjects": [
            {"subject_id": x.subject_id, "name": x.name, "level": x.level, "kind": x.kind} for x in meeting.subjects
        ],
        "roster": {cat: meeting.roster_count(cat) for cat in (rules.voter_categories if rules else ())},
        "checked_in": {cat: len(ids) for cat, ids in meeting.checked_in.items()},
        "quorum": [
            {"category": q.category, "roster": q.roster, "present": q.present, "required": q.required, "met": q.met}
            for q in meeting.quorum()
        ] if rules else [],
        "quorum_met": meeting.quorum_met() if rules else False,
        "quorum_override": meeting.quorum_override,
        "reports": [
            {
                "subject_id": r.subject_id,
                "started_at": r.started_at.isoformat(),
                "ended_at": r.ended_at.isoformat() if r.ended_at else None,
                "limit_seconds": r.limit_seconds,
                "duration_seconds": r.duration_seconds,
                "overtime_seconds": r.overtime_seconds,
            }
            for r in meeting.reports.values()
        ],
        "current_report": meeting.current_report,
        "questions": [
            {
                "question_id": q.question_id, "subject_id": q.subject_id, "text": q.text, "asked_by": q.asked_by,
                "answer": q.answer, "deferred": q.deferred, "due_on": q.due_on,
            }
            for q in meeting.questions.values()
        ],
        "comments": len(meeting.comments),
        "codes_issued": len(meeting.issued),
        "paper_batches": {str(n): st for n, st in meeting.paper_batches().items()},
    }


def results_body(meeting_id: str, meeting: Meeting) -> dict[str, Any]:
    """The results of a meeting whose results were announced (the tally of its ballots)."""
    results = compute_results(meeting)
    announced = meeting.results
    return {
        "ballots_counted": results.ballots_counted,
        "phone_ballots": results.phone_ballots,
        "paper_ballots": results.paper_ballots,
        "eligible": results.eligible,
        "participation_percent": display_percent(results.participation_rate),
        "flagged_subjects": results.flagged_subjects,
        "subjects": [
            {
                "subject_id": r.subject_id, "name": r.name, "ballots": r.ballots, "counts": r.counts,
                "groups": [{"group_id": g.group_id, "categories": list(g.categories), "ballots": g.ballots,
                            "counts": g.counts} for g in r.groups],
                "grade_percent": {k: display_percent(v) for k, v in r.grade_rates.items()},
                "favourable_percent": display_percent(r.favourable_rate),
                "unfavourable_percent": display_percent(r.unfavourable_rate),
                "score": None if r.score is None else f"{r.score.numerator}/{r.score.denominator}",
                "flagged": r.flagged,
            }
            for r in results.subjects
        ],
        "duplicate_codes": [
            {"code_hash": d.code_hash, "counted_from": d.counted_from, "ignored_from": list(d.ignored_from)}
            for d in meeting.duplicate_codes()
        ],
        "announced": announced.to_data() if announced else None,
        "head_hash": store.stream_head(services.stream_of(meeting_id))[1],
    }
