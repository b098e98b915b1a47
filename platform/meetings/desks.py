"""Reads for each county role's own page and for the county's workspace.

Everything here comes from the projections (proj_meeting_board, proj_rounds)
in a fixed number of queries, whatever the number of meetings: a county's
year-end round puts hundreds of meetings on these pages.

Participation (参评率) has one definition on these pages, the one the results
carry (meetings.domain.tally): ballots counted / eligible voters, where
eligible = the roster members of the categories that grade + checked-in
attendees who are not on the roster. It exists once results are announced;
before that a page shows who checked in and what was cast, never a rate.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from django.db import connection
from django.utils import timezone

from meetings.domain.errors import PHASE_NAMES_ZH
from meetings.domain.groups import rate_names
from meetings.selectors import results_body
from meetings.streams import load_meeting

PHASES = ("scheduled", "announced", "opened", "ballot_open", "ballot_closed", "results_announced", "closed")
IN_PROGRESS = frozenset({"opened", "ballot_open", "ballot_closed", "results_announced"})
PAPER_ENTRY_PHASES = ("ballot_open", "ballot_closed")  # meetings.domain.aggregate ALLOWED_PHASES
CATEGORY_NAMES = {
    "party_member": ("党员", "Party members"),
    "representative": ("村民代表", "Village representatives"),
    "guest": ("列席人员", "Invited guests"),
    "other": ("合并组", "Pooled group"),
}
NO_ROUND = ""  # meetings recorded before rounds existed


def _rows(sql: str, params: Sequence[Any] = (), *, json_columns: Sequence[str] = ()) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    for row in rows:
        for name in json_columns:
            if isinstance(row[name], str):
                row[name] = json.loads(row[name])
    return rows


_LIST = (
    "SELECT meeting_id, round_id, title, township, village, starts_at, place, phase, present_total,"
    " ballots_cast, paper_ballots, ballots_counted, participation, flagged, version, head_hash, paper_batches,"
    " (results ->> 'eligible')::int AS eligible, host FROM proj_meeting_board"
)


def _shape(row: dict[str, Any]) -> dict[str, Any]:
    starts = timezone.localtime(row["starts_at"]) if row["starts_at"] else None
    row["starts"] = starts
    row["starts_on"] = starts.date() if starts else None
    row["phase_zh"] = PHASE_NAMES_ZH.get(row["phase"], row["phase"])
    row["round_id"] = row["round_id"] or NO_ROUND
    row["flagged_names"] = [f["name"] for f in row["flagged"]]
    row["results_out"] = row["phase"] in ("results_announced", "closed")
    return row


def meetings_all() -> list[dict[str, Any]]:
    """Every meeting of the county, earliest first (one query)."""
    rows = _rows(_LIST + " ORDER BY starts_at NULLS LAST, meeting_id", json_columns=("flagged", "paper_batches"))
    return [_shape(row) for row in rows]


def host_meetings(*, today: date, host: str | None = None) -> dict[str, Any]:
    """A host's meetings: today's and those under way, then upcoming (soonest first), then past (latest first).

    With `host`, the meetings given to that account (MeetingScheduled v3) come
    first in each group and are marked `mine`; meetings given to another host
    are left out, and meetings with no host (older ones, or "host later") stay
    listed, since any host of the county may run them (accounts.roles).
    """
    now_: list[dict[str, Any]] = []
    upcoming: list[dict[str, Any]] = []
    past: list[dict[str, Any]] = []
    for row in meetings_all():
        if host is not None and row["host"] not in (None, host):
            continue
        row["mine"] = host is not None and row["host"] == host
        day = row["starts_on"]
        if row["phase"] in IN_PROGRESS or day == today:
            now_.append(row)
        elif row["phase"] != "closed" and (day is None or day > today):
            upcoming.append(row)
        else:
            past.append(row)
    past.reverse()
    # stable sort: mine first, the order within each part kept
    return {name: sorted(rows, key=lambda r: not r["mine"]) for name, rows in
            (("today", now_), ("upcoming", upcoming), ("past", past))}


def teller_batches(*, teller: str) -> list[dict[str, Any]]:
    """Meetings whose paper ballots can be entered now, each with its batches and what waits for `teller`."""
    rows = _rows(
        _LIST + " WHERE phase = ANY(%s) ORDER BY starts_at NULLS LAST, meeting_id",
        [list(PAPER_ENTRY_PHASES)], json_columns=("flagged", "paper_batches"),
    )
    meetings = []
    for row in map(_shape, rows):
        batches = []
        for number, batch in sorted(row["paper_batches"].items(), key=lambda item: int(item[0])):
            tellers = sorted(batch.get("tellers", {}))
            mine = teller in tellers
            batches.append({
                "number": int(number), "status": batch["status"], "tellers": tellers, "entered_by_me": mine,
                # pending and not yet mine: it needs my (second) entry; a mismatch needs everyone to look again
                "waits_for_me": (batch["status"] == "pending" and not mine) or batch["status"] == "mismatch",
            })
        row["batches"] = batches
        row["waiting"] = sum(1 for b in batches if b["waits_for_me"])
        meetings.append(row)
    return meetings


def _phase_index(phase: str) -> int:
    return PHASES.index(phase) if phase in PHASES else 0


def workspace() -> dict[str, Any]:
    """The county's workspace: rounds with progress, their meetings, flagged subjects, grades per township.

    Three queries: rounds, meetings, and the grade counts summed per round and township in PostgreSQL.
    """
    rounds = _rows(
        "SELECT round_id, name, year, variant, rules FROM proj_rounds ORDER BY year DESC, opened_at DESC, round_id",
        json_columns=("rules",),
    )
    by_round: dict[str, dict[str, Any]] = {}
    for r in rounds:
        by_round[r["round_id"]] = {**r, "meetings": [], "flagged": [], "chart": []}
    for row in meetings_all():
        target = by_round.get(row["round_id"])
        if target is None:
            target = by_round.setdefault(NO_ROUND, {
                "round_id": NO_ROUND, "name": "未归入活动的会议", "year": None, "variant": "", "rules": {},
                "meetings": [], "flagged": [], "chart": [],
            })
        target["meetings"].append(row)
        target["flagged"] += [
            {"meeting_id": row["meeting_id"], "township": row["township"], "village": row["village"], "name": name}
            for name in row["flagged_names"]
        ]
    for r in by_round.values():
        stages = [_phase_index(m["phase"]) for m in r["meetings"]]
        r["progress"] = {
            "scheduled": len(stages),
            "announced": sum(1 for s in stages if s >= PHASES.index("announced")),
            "held": sum(1 for s in stages if s >= PHASES.index("opened")),
            "results_announced": sum(1 for s in stages if s >= PHASES.index("results_announced")),
        }
    for (round_id, township), counts in _grades_per_township().items():
        target = by_round.get(round_id)
        if target is not None:
            target["chart"].append(_bar(township, counts, target["rules"]))
    return {"rounds": list(by_round.values())}


def _grades_per_township() -> dict[tuple[str, str], dict[str, int]]:
    """Marks per grade, summed over every subject and criterion of the announced results, per round and township."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT COALESCE(b.round_id, ''), b.township, g.key, sum(g.value::int)
            FROM proj_meeting_board b
            CROSS JOIN LATERAL jsonb_array_elements(b.results -> 'subjects') s
            CROSS JOIN LATERAL jsonb_each(s -> 'counts') c
            CROSS JOIN LATERAL jsonb_each_text(c.value) g
            WHERE b.results IS NOT NULL
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
            """
        )
        out: dict[tuple[str, str], dict[str, int]] = {}
        for round_id, township, grade, marks in cursor.fetchall():
            out.setdefault((round_id, township), {})[grade] = int(marks)
    return out


def round_scales(rules: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Subject kind -> scale (as in Rules.to_data) of a round's rules; rules of one "scale" give it to every kind."""
    if rules.get("scales"):
        return dict(rules["scales"])
    scale = rules.get("scale") or {}
    return {"body": scale, "person": scale} if scale else {}


def scale_of(rules: dict[str, Any], scale_id: str | None) -> dict[str, Any]:
    """The scale named by a result's scale_id; results recorded before they named it had the rules' one scale."""
    scales = round_scales(rules)
    for scale in scales.values():
        if scale.get("id") == scale_id:
            return scale
    return scales.get("person") or {}


def grade_names(rules: dict[str, Any]) -> list[dict[str, Any]]:
    """The grades of a round's scales in order (id, name_zh, name_en, favourable, unfavourable), each once.

    With a scale per kind (bodies 好/较好/一般/差, persons 称职/基本称职/不称职) the
    grades of both follow each other: bodies' scale first.
    """
    grades: list[dict[str, Any]] = []
    seen: set[str] = set()
    for kind in ("body", "person"):
        for grade in (round_scales(rules).get(kind) or {}).get("grades") or []:
            if grade.get("id") not in seen:
                seen.add(grade.get("id"))
                grades.append(grade)
    return grades


def _bar(township: str, counts: dict[str, int], rules: dict[str, Any]) -> dict[str, Any]:
    """One township's stacked bar: each grade's share of all marks, in the scale's order."""
    known = grade_names(rules)
    order = [g["id"] for g in known] + sorted(set(counts) - {g["id"] for g in known})
    names = {g["id"]: g for g in known}
    total = sum(counts.values())
    parts = []
    offset = 0.0  # where the part starts, in percent: the bar is drawn as SVG, no style attributes (CSP)
    for grade in order:
        n = counts.get(grade, 0)
        g = names.get(grade, {})
        share = 100 * n / total if total else 0.0
        parts.append({
            "grade": grade, "name_zh": g.get("name_zh", grade), "name_en": g.get("name_en", grade), "marks": n,
            "percent": round(share, 1), "offset": f"{offset:.2f}", "width": f"{share:.2f}", "tone": _tone(g),
        })
        offset += share
    return {"township": township, "total": total, "parts": parts}


def _tone(grade: dict[str, Any]) -> str:
    if grade.get("favourable"):
        return "good"
    if grade.get("unfavourable"):
        return "bad"
    return "mid"


def round_results(round_id: str) -> dict[str, Any] | None:
    """A round and the announced results of its meetings (the ResultsAnnounced payloads), for the export.

    None when there is no such round. Two queries.
    """
    found = _rows("SELECT round_id, name, year, rules FROM proj_rounds WHERE round_id = %s", [round_id],
                  json_columns=("rules",))
    if not found:
        return None
    meetings = _rows(
        "SELECT meeting_id, title, township, village, starts_at, phase, head_hash, results FROM proj_meeting_board"
        " WHERE round_id = %s AND results IS NOT NULL ORDER BY township, village, starts_at, meeting_id",
        [round_id], json_columns=("results",),
    )
    for row in meetings:
        row["starts"] = timezone.localtime(row["starts_at"]) if row["starts_at"] else None
    return {**found[0], "meetings": meetings}


def round_page(round_id: str) -> dict[str, Any] | None:
    """A round (name, year, variant, rules, who opened it) and its meetings, earliest first; None if unknown.

    Two queries, both on projections.
    """
    found = _rows(
        "SELECT round_id, name, year, variant, rules, opened_at, opened_by FROM proj_rounds WHERE round_id = %s",
        [round_id], json_columns=("rules",),
    )
    if not found:
        return None
    rows = _rows(
        _LIST + " WHERE round_id = %s ORDER BY starts_at NULLS LAST, meeting_id", [round_id],
        json_columns=("flagged", "paper_batches"),
    )
    return {**found[0], "meetings": [_shape(row) for row in rows]}


def meeting_notice(meeting_id: str) -> dict[str, Any] | None:
    """What a meeting's announcement shows: its board row (time, place, township, village, host) and, from
    its state, the subjects, the lead time of its rules and what was announced. None for an unknown meeting."""
    rows = _rows(_LIST + " WHERE meeting_id = %s", [meeting_id], json_columns=("flagged", "paper_batches"))
    if not rows:
        return None
    row = _shape(rows[0])
    state = load_meeting(meeting_id).state
    announced = state.announcement
    row["subjects"] = [{"name": s.name, "post": s.post, "kind": s.kind} for s in state.subjects]
    row["lead_days"] = state.rules.announce_lead_days if state.rules else None
    row["announcement"] = None if announced is None else {
        "agenda": list(announced.agenda), "channels": list(announced.channels),
        "announced_at": timezone.localtime(datetime.fromisoformat(announced.announced_at)),
        "override_reason": announced.lead_time_override_reason,
    }
    return row


def meeting_results(meeting_id: str) -> dict[str, Any] | None:
    """One meeting's announced results for the workspace, split by voter group (双评); None until announced.

    The numbers are the results API's (meetings.selectors.results_body), laid
    out as one table per subject: all ballots first, then each group with its
    rates and, for a pooled group, why it was pooled.
    """
    rows = _rows(_LIST + " WHERE meeting_id = %s", [meeting_id], json_columns=("flagged", "paper_batches"))
    if not rows or rows[0]["phase"] not in ("results_announced", "closed"):
        return None
    loaded = load_meeting(meeting_id)
    rules = loaded.state.require_rules()
    body = results_body(loaded)
    scales = {scale.id: scale for scale in rules.distinct_scales()}
    scores = {s["subject_id"]: s["score"] for s in (body["announced"] or {}).get("subjects", [])}
    subjects = []
    for subject in body["subjects"]:
        scale = scales[subject["scale_id"]]  # each subject on its own scale (a body 好…差, a person 称职…不称职)
        grades = [{"id": g.id, "name_zh": g.name_zh, "name_en": g.name_en} for g in scale.grades]
        total = {"label_zh": "全体", "label_en": "All ballots", "ballots": subject["ballots"], "total": True,
                 "grade_percent": [subject["grade_percent"].get(g["id"], "—") for g in grades],
                 "favourable_percent": subject["favourable_percent"],
                 "unfavourable_percent": subject["unfavourable_percent"], "score": scores.get(subject["subject_id"])}
        groups = [{**g, "total": False, "grade_percent": [g["grade_percent"].get(x["id"], "—") for x in grades]}
                  for g in subject["groups"]]
        (fav_zh, fav_en), (unfav_zh, unfav_en) = rate_names(scale.id)
        subjects.append({
            "subject_id": subject["subject_id"], "name": subject["name"], "flagged": subject["flagged"],
            "grades": grades, "columns": len(grades) + 5, "rows": [total, *groups],
            "rate_names": {"fav_zh": fav_zh, "fav_en": fav_en, "unfav_zh": unfav_zh, "unfav_en": unfav_en},
        })
    return {"meeting": _shape(rows[0]), "results": body, "subjects": subjects}
