"""Printable paper ballots (纸质测评票): one A4 form per code, for villages that vote on paper.

Each form carries its one-time code in print, the meeting, the voter
category, and for every subject that category grades one row per criterion
with a box per grade. Voters tick one box per row; tellers (计票员) later
type the code and the ticks in batches (meetings.domain.voting). The page
holds plain codes: print it, never store it (no-store, like the QR slips).
"""

from __future__ import annotations

from collections.abc import Sequence

from django.http import HttpResponse
from django.template.loader import render_to_string

from meetings.codes import format_code
from meetings.domain.aggregate import Meeting
from meetings.domain.rules import category_name_zh


def paper_forms_html(meeting: Meeting, *, category: str, codes: Sequence[str]) -> str:
    """One A4 ballot per code for voters of `category` (the meeting's subjects, criteria, each subject's scale)."""
    rules = meeting.require_rules()
    subjects = []
    for subject in meeting.subjects_graded_by(category):
        scale = rules.scale_for(subject.kind)
        subjects.append({
            "name": subject.name, "criteria": [c.name_zh for c in rules.criteria],
            "grades": [grade.name_zh for grade in scale.grades], "scale_name": scale.name_zh,
        })
    return render_to_string("meetings/paper_ballots.html", {
        "meeting_title": meeting.title,
        "place": meeting.place,
        "category_label": category_name_zh(category),
        "scale_names": "；".join(scale.name_zh for scale in rules.distinct_scales()),
        "subjects": subjects,
        "forms": [format_code(code) for code in codes],
    })


def paper_forms_response(meeting: Meeting, *, category: str, codes: Sequence[str]) -> HttpResponse:
    response = HttpResponse(paper_forms_html(meeting, category=category, codes=codes))
    response["Cache-Control"] = "no-store, private"
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
