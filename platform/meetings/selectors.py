"""Reads of rounds and meetings for pages and the API.

Lists (rounds, meetings, the county's dashboard) read the projections
(projections.rounds, projections.meeting_board) in a constant number of
queries, however many meetings the county has. One meeting's detail is
shaped from its state as the one repository holds it (meetings.streams):
one round trip when it is current. Shared by the API views and the live
layer, so that a screen and an API client see the same figures.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.db import connection
from django.utils import timezone

from common import tokens
from common.county import current_schema
from events.repository import Loaded
from meetings import ballot_box, codes
from meetings.domain.aggregate import Meeting
from meetings.domain.errors import PHASE_NAMES_ZH
from meetings.domain.groups import (
    ELIGIBLE_RULE_EN,
    ELIGIBLE_RULE_ZH,
    PARTICIPATION_RULE_EN,
    PARTICIPATION_RULE_ZH,
    group_label,
    group_rates,
    merge_note,
    score_formula,
)
from meetings.domain.rules import Rules, Scale
from meetings.domain.tally import GroupTally, display_percent
from meetings.streams import MEETING_PREFIX, load_meeting, meeting_stream


def _rows(sql: str, params: Sequence[Any] = (), *, json_columns: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Rows as dicts; `json_columns` (jsonb, which Django's connection hands out as text) decoded."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        for name in json_columns:
            if isinstance(row[name], str):
                row[name] = json.loads(row[name])
    return rows


# -- lists, from projections -------------------------------------------------------------------


def rounds_list() -> list[dict[str, Any]]:
    """The county's rounds, newest year first."""
    rows = _rows(
        "SELECT round_id, name, year, variant, rules, opened_at, opened_by, meetings FROM proj_rounds"
        " ORDER BY year DESC, opened_at DESC, round_id",
        json_columns=("rules",),
    )
    for row in rows:
        row["opened_at"] = timezone.localtime(row["opened_at"]).isoformat()
    return rows


_BOARD = (
    "SELECT meeting_id, round_id, title, township, village, starts_at, place, phase, subjects, present_total,"
    " codes_issued, ballots_cast, paper_ballots, ballots_counted, participation, flagged, version, head_hash,"
    " eligible FROM proj_meeting_board"
)


def meetings_list(*, round_id: str | None = None) -> list[dict[str, Any]]:
    """The county's meetings (of one round, if given), in meeting id order."""
    if round_id is None:
        rows = _rows(_BOARD + " ORDER BY meeting_id", json_columns=("flagged",))
    else:
        rows = _rows(_BOARD + " WHERE round_id = %s ORDER BY meeting_id", [round_id], json_columns=("flagged",))
    for row in rows:
        row["starts_at"] = timezone.localtime(row["starts_at"]).isoformat() if row["starts_at"] else None
        row["phase_zh"] = PHASE_NAMES_ZH.get(row["phase"], row["phase"])
    return rows


def sealed_counts() -> dict[str, int]:
    """Ballots sealed in the box per meeting (meetings whose ballot is open); counts only."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT meeting_id, count(*) FROM meetings_ballot_box GROUP BY meeting_id")
        return {meeting_id: int(n) for meeting_id, n in cursor.fetchall()}


def dashboard_meetings() -> list[dict[str, Any]]:
    """Every meeting of the county at a glance, with its turnout: two queries, whatever the count."""
    sealed = sealed_counts()
    meetings = []
    for row in meetings_list():
        in_box = sealed.get(row["meeting_id"], 0) if row["phase"] == "ballot_open" else 0
        meetings.append({
            "meeting_id": row["meeting_id"], "round_id": row["round_id"], "title": row["title"],
            "township": row["township"], "village": row["village"], "starts_at": row["starts_at"],
            "place": row["place"], "phase": row["phase"], "phase_zh": row["phase_zh"],
            "turnout": {
                "cast": row["ballots_cast"] + in_box,
                "paper": row["paper_ballots"],
                "eligible": row["eligible"],  # the participation rate's denominator (turnout() below)
                "present": row["present_total"],
                "codes": row["codes_issued"],
            },
            "flagged": [f["subject_id"] for f in row["flagged"]],
            "flagged_names": [f["name"] for f in row["flagged"]],
            "participation": row["participation"],
            "head_hash": row["head_hash"] if row["phase"] in ("ballot_closed", "results_announced", "closed") else None,
        })
    return meetings


# -- one meeting, from its state -------------------------------------------------------------


_from_log_only: ContextVar[bool] = ContextVar("from_log_only", default=False)


@contextmanager
def from_log_only() -> Iterator[None]:
    """Inside: the reads below answer from the folded state alone, never from the sealed ballot box.

    A replay (live.replay) shows a meeting as its log had it at a past
    version; the box holds ballots of now, and the log records no ballot
    before the close (secrecy: no casting order), so while voting the
    replayed count is what the log knew then.
    """
    token = _from_log_only.set(True)
    try:
        yield
    finally:
        _from_log_only.reset(token)


def ballots_cast(meeting_id: str, meeting: Meeting) -> int:
    """Phone ballots cast so far: sealed in the box while voting, in the log after the close."""
    sealed = meeting.phase == "ballot_open" and not _from_log_only.get()
    in_box = ballot_box.count(meeting_id) if sealed else 0
    return len(meeting.phone_ballots) + in_box


def turnout(meeting_id: str, meeting: Meeting) -> dict[str, int]:
    """Ballots cast so far, the eligible voters (the participation rate's denominator), who is present.

    `eligible` is the tally's (meetings.domain.groups: roster members of the
    grading categories + checked-in attendees not on the roster), so that the
    screen's live figure and the announced 参评率 divide by the same number;
    `present` is everyone checked in, against which the count is checked.
    """
    paper = sum(len(b) for b in meeting.paper_ballots().values()) if meeting.paper_entries else 0
    present = sum(len(ids) for ids in meeting.checked_in.values())
    return {
        "cast": ballots_cast(meeting_id, meeting), "paper": paper,
        "eligible": meeting.eligible_voters() if meeting.rules else 0,
        "present": present, "codes": len(meeting.issued),
    }


def participation_rule() -> dict[str, str]:
    """The one definition of 参评率, worded for every page that shows the figure."""
    return {"rule_zh": PARTICIPATION_RULE_ZH, "rule_en": PARTICIPATION_RULE_EN,
            "eligible_zh": ELIGIBLE_RULE_ZH, "eligible_en": ELIGIBLE_RULE_EN}


def meeting_summary(meeting: Meeting) -> dict[str, Any]:
    rules = meeting.rules
    return {
        "meeting_id": meeting.meeting_id,
        "round_id": meeting.round_id,
        "title": meeting.title,
        "host": meeting.host,
        "phase": meeting.phase,
        "version": meeting.version,
        "rules": rules.to_data() if rules else None,
        "subjects": [
            {"subject_id": x.subject_id, "name": x.name, "level": x.level, "kind": x.kind, "post": x.post,
             "official_id": x.official_id, "body_id": x.body_id}
            for x in meeting.subjects
        ],
        "roster": {cat: meeting.roster_count(cat) for cat in (rules.voter_categories if rules else ())},
        "checked_in": {cat: len(ids) for cat, ids in meeting.checked_in.items()},
        **meeting_quorum(meeting),
        "reports": meeting_reports(meeting),
        "current_report": meeting.current_report,
        "questions": [
            {
                "question_id": q.question_id, "subject_id": q.subject_id, "text": q.text, "asked_by": q.asked_by,
                "answer": q.answer, "deferred": q.deferred, "promise": q.promise, "due_on": q.due_on,
            }
            for q in meeting.questions.values()
        ],
        "comments": len(meeting.comments),
        "codes_issued": len(meeting.issued),
        "code_batches": code_batches(meeting),
        "count_check": count_check(meeting),
        "paper_batches": meeting_paper_batches(meeting),
    }


def meeting_quorum(meeting: Meeting) -> dict[str, Any]:
    """Per quorum rule roster, present, required and met; whether all are met; the override's reason if any."""
    rules = meeting.rules
    return {
        "quorum": [
            {"category": q.category, "roster": q.roster, "present": q.present, "required": q.required, "met": q.met}
            for q in meeting.quorum()
        ] if rules else [],
        "quorum_met": meeting.quorum_met() if rules else False,
        "quorum_override": meeting.quorum_override,
    }


def meeting_reports(meeting: Meeting) -> list[dict[str, Any]]:
    """Every report started so far, in order, with its times."""
    return [
        {
            "subject_id": r.subject_id,
            "started_at": r.started_at.isoformat(),
            "ended_at": r.ended_at.isoformat() if r.ended_at else None,
            "limit_seconds": r.limit_seconds,
            "duration_seconds": r.duration_seconds,
            "overtime_seconds": r.overtime_seconds,
        }
        for r in meeting.reports.values()
    ]


def meeting_paper_batches(meeting: Meeting) -> dict[str, str]:
    """Paper batch number (as text) -> its reconciliation status."""
    return {str(n): st for n, st in meeting.paper_batches().items()}


def code_batches(meeting: Meeting) -> list[dict[str, Any]]:
    """Every batch of codes issued, in order, and whether it was printed (no codes: they are never kept)."""
    return [
        {"batch_no": b.batch_no, "category": b.category, "count": b.count, "margin": b.margin, "printed": b.printed}
        for b in meeting.code_batches
    ]


def count_check(meeting: Meeting) -> dict[str, Any] | None:
    """Once the ballot closed: ballots counted against people present, per category (收回票数 ≤ 到会人数)."""
    if meeting.phase not in ("ballot_closed", "results_announced", "closed") or meeting.rules is None:
        return None
    ballots = meeting.ballots_by_category()
    decision = meeting.count_decision
    return {
        "categories": [
            {"category": category, "ballots": ballots.get(category, 0), "present": len(meeting.checked_in.get(category, {}))}
            for category in meeting.rules.voter_categories
        ],
        "over": [{"category": c.category, "ballots": c.ballots, "present": c.present} for c in meeting.over_attendance()],
        "accepted": meeting.over_attendance_accepted(),
        "decision": {"reason": decision.reason, "actor": decision.actor, "at": decision.at} if decision else None,
    }


def meeting_detail(meeting_id: str) -> dict[str, Any]:
    meeting = load_meeting(meeting_id).state
    return {**meeting_summary(meeting), "ballots_cast": ballots_cast(meeting_id, meeting)}


def results_body(loaded: Loaded[Meeting]) -> dict[str, Any]:
    """The results of a meeting whose results were announced (the tally of its ballots)."""
    meeting = loaded.state
    rules = meeting.require_rules()
    results = meeting.compute_results()
    announced = meeting.results
    formula_zh, formula_en = score_formula(rules)
    scales = {scale.id: scale for scale in rules.distinct_scales()}
    return {
        "ballots_counted": results.ballots_counted,
        "phone_ballots": results.phone_ballots,
        "paper_ballots": results.paper_ballots,
        "eligible": results.eligible,
        "participation_percent": display_percent(results.participation_rate),
        "participation": participation_rule(),
        "score_formula": {"zh": formula_zh, "en": formula_en},
        "min_group_size": rules.min_group_size,
        "flagged_subjects": results.flagged_subjects,
        "subjects": [
            {
                "subject_id": r.subject_id, "name": r.name, "scale_id": r.scale_id, "ballots": r.ballots, "counts": r.counts,
                "groups": [_group_body(g, rules, scales[r.scale_id]) for g in r.groups],
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
        "head_hash": loaded.head,
    }


def _group_body(group: GroupTally, rules: Rules, scale: Scale) -> dict[str, Any]:
    """One group of a subject's results (graded on `scale`): counts, its rates, its heading and, when pooled, why."""
    rates = group_rates(group.counts, scale)
    label_zh, label_en = group_label(group.group_id, group.categories)
    note = merge_note(categories=group.categories, small=group.pooled, min_group_size=rules.min_group_size)
    return {
        "group_id": group.group_id, "categories": list(group.categories), "ballots": group.ballots,
        "counts": group.counts, "label_zh": label_zh, "label_en": label_en,
        "grade_percent": {k: display_percent(v) for k, v in rates.grade_rates.items()},
        "favourable_percent": display_percent(rates.favourable_rate),
        "unfavourable_percent": display_percent(rates.unfavourable_rate),
        "pooled": list(group.pooled),
        "note_zh": note[0] if note else None, "note_en": note[1] if note else None,
    }


def voter_form(meeting_id: str, code: str) -> dict[str, Any]:
    """What a voter's phone shows for a code: the ballot to fill in, or that it was used.

    One round trip when the meeting's state is cached: the statement that asks
    the box for the code also reads the stream's head (ballot_box.head_and_holds).
    """
    county = current_schema()
    code_hash = codes.typed_code_hash(county, meeting_id, code)
    head, held = ballot_box.head_and_holds(meeting_stream(meeting_id), meeting_id, code_hash)
    meeting = load_meeting(meeting_id, known_head=head).state
    category = meeting.voter_category(code_hash)
    rules = meeting.require_rules().to_data()
    return {
        "meeting_id": meeting_id, "title": meeting.title, "phase": meeting.phase, "category": category,
        # Each subject is graded on its kind's scale: scales[subject.kind].
        "scales": rules["scales"], "criteria": rules["criteria"],
        "subjects": [{"subject_id": x.subject_id, "name": x.name, "kind": x.kind}
                     for x in meeting.subjects_graded_by(category)],
        "voted": code_hash in meeting.phone_ballots or held,
        # Opens the phone page's websocket (read-only, this meeting only).
        "live_token": tokens.issue(county=county, meeting_id=meeting_id, kind="phone"),
    }


def host_accounts() -> Any:
    """The county's active accounts with the role host (whom a meeting may be given to)."""
    from django.contrib.auth import get_user_model

    from accounts.roles import Role

    return get_user_model().objects.filter(role=Role.HOST.value, is_active=True).order_by("username")


def meetings_with_receipt(receipt: str) -> list[str]:
    """Ids of the meetings whose log holds a ballot with this receipt (normally one, or none): one index probe.

    Reads proj_receipts (meetings.receipts_projection), keyed by the receipt's
    digest; whether a meeting's results are out is for the caller to ask.
    """
    from meetings.receipts_projection import receipt_digest

    with connection.cursor() as cursor:
        cursor.execute("SELECT stream_id FROM proj_receipts WHERE digest = %s ORDER BY stream_id",
                       [receipt_digest(receipt)])
        streams = [row[0] for row in cursor.fetchall()]
    return [stream.removeprefix(MEETING_PREFIX) for stream in streams if stream.startswith(MEETING_PREFIX)]
