"""A person's and a village's record over the years: reads from the projections, and the rate chart's geometry.

`official_record` follows one registry official by id (new posts and other
villages included): every meeting they were a subject of, its results, the
interviews and ledger items it led to, comments about them and the 组织调整
flags. `village_record` does the same for a village: its meetings with every
subject's results, interviews, ledger items and comments. `rate_chart` turns
rates over time into an SVG's coordinates, drawn by the template with
classes only (no style attributes: the CSP refuses them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection

from followup import comments_selectors
from followup.ledger import SOURCE_KINDS
from followup.ledger_selectors import STATUS_NAMES
from meetings.models import Village
from meetings.registry import selectors as registry

CHART_W, CHART_H, PAD_L, PAD_R, PAD_T, PAD_B = 600, 220, 44, 16, 12, 40
SERIES_MAX = 8  # lines drawn; more subjects than that are listed in the table only


def _rows(sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column.name for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def percent_value(text: str | None) -> float | None:
    """"33.3%" -> 33.3; None for a result not announced."""
    if not text:
        return None
    try:
        return float(str(text).rstrip("%"))
    except ValueError:
        return None


def rate_chart(series: list[dict[str, Any]], *, threshold: float | None) -> dict[str, Any] | None:
    """Coordinates of a line chart of 不称职（差评）率 by meeting: one line per series, the threshold dashed.

    `series`: [{"name", "points": [(label, percent or None), ...]}], labels in time order.
    """
    labels: list[str] = []
    for s in series:
        for label, _ in s["points"]:
            if label not in labels:
                labels.append(label)
    if not labels:
        return None
    top = max([100.0 if threshold is None else threshold] + [v for s in series for _, v in s["points"] if v is not None])
    top = min(100.0, max(10.0, (int(top) // 10 + 1) * 10))
    inner_w, inner_h = CHART_W - PAD_L - PAD_R, CHART_H - PAD_T - PAD_B
    step = inner_w / max(1, len(labels) - 1) if len(labels) > 1 else 0.0

    def x(label: str) -> float:
        return PAD_L + (labels.index(label) * step if len(labels) > 1 else inner_w / 2)

    def y(value: float) -> float:
        return PAD_T + inner_h * (1 - value / top)

    lines = []
    for n, s in enumerate(series[:SERIES_MAX]):
        dots = [{"x": f"{x(label):.1f}", "y": f"{y(v):.1f}", "label": label, "value": f"{v:.1f}%"}
                for label, v in s["points"] if v is not None]
        lines.append({"name": s["name"], "tone": f"s{n}", "dots": dots,
                      "path": " ".join(f"{d['x']},{d['y']}" for d in dots)})
    ticks = [{"y": f"{y(v):.1f}", "label": f"{v:g}%"} for v in (0, top / 2, top)]
    return {
        "width": CHART_W, "height": CHART_H, "lines": lines, "ticks": ticks, "left": PAD_L, "right": CHART_W - PAD_R,
        "bottom": f"{PAD_T + inner_h:.1f}", "label_y": CHART_H - PAD_B + 16,
        "labels": [{"x": f"{x(label):.1f}", "text": label} for label in labels],
        "threshold": None if threshold is None else {"y": f"{y(threshold):.1f}", "label": f"{threshold:g}%"},
    }


def _threshold_of(rows: list[dict[str, Any]]) -> float | None:
    """The latest round's admonishment threshold in percent (what the dashed line shows)."""
    round_ids = [r["round_id"] for r in rows if r.get("round_id")]
    if not round_ids:
        return None
    found = _rows("SELECT rules->>'admonish_threshold' AS t FROM proj_rounds WHERE round_id = %s", [round_ids[-1]])
    text = found[0]["t"] if found and found[0]["t"] else "3/10"
    num, _, den = text.partition("/")
    return int(num) * 100 / int(den or 1)


def _label(row: dict[str, Any]) -> str:
    return f"{row['year']}" if row.get("year") is not None else str(row["meeting_id"])


def _interviews(where: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    return _rows(
        "SELECT interview_id, meeting_id, subject_id, subject_name, township, village, unfavourable_percent, kind,"
        f" opened_on, state, held_on FROM proj_followup_interviews WHERE {where} ORDER BY opened_on, interview_id",
        params,
    )


def _items(where: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    rows = _rows(f"SELECT item_id, problem, source_kind, status FROM proj_ledger_items WHERE {where}"
                 " ORDER BY raised_at, item_id", params)
    for row in rows:
        row["source_name"] = SOURCE_KINDS.get(row["source_kind"], row["source_kind"])
        row["status_name"] = STATUS_NAMES.get(row["status"], row["status"])
    return rows


def official_record(official_id: str) -> dict[str, Any] | None:
    """Everything the county holds about one official over the years, oldest first; None if unknown."""
    official = registry.official_get(official_id)
    if official is None:
        return None
    meetings = registry.registry_subjects(official_id=official_id)
    pairs = [[m["meeting_id"], m["subject_id"]] for m in meetings]
    interviews = _interviews("(meeting_id, subject_id) IN (SELECT p->>0, p->>1 FROM jsonb_array_elements(%s::jsonb) p)",
                             [_json(pairs)])
    comments = comments_selectors.comments_list(official_id=official_id)
    # Items raised from this official's results (source_ref: the subject), interviews or comments about them.
    refs = [[m["meeting_id"], m["subject_id"]] for m in meetings] + [[i["meeting_id"], i["interview_id"]] for i in interviews]
    items = _items(
        "(meeting_id, source_ref) IN (SELECT p->>0, p->>1 FROM jsonb_array_elements(%s::jsonb) p)"
        " OR (source_kind = 'comment' AND source_ref = ANY(%s))",
        [_json(refs), [c["comment_id"] for c in comments]],
    )
    series = [{"name": official["name"],
               "points": [(_label(m), percent_value(m["unfavourable_percent"])) for m in meetings]}]
    return {
        "official": official, "meetings": meetings, "interviews": interviews, "items": items, "comments": comments,
        "adjustments": comments_selectors.adjustments_list(official_id=official_id),
        "chart": rate_chart(series, threshold=_threshold_of(meetings)),
    }


def village_record(village_id: int) -> dict[str, Any] | None:
    """Everything the county holds about one village over the years; None if unknown."""
    village = Village.objects.select_related("township").filter(pk=village_id).first()
    if village is None:
        return None
    township = village.township.name
    meetings = _rows(
        "SELECT m.meeting_id, m.title, m.starts_at, m.phase, m.round_id, r.name AS round_name, r.year"
        " FROM proj_meeting_board m LEFT JOIN proj_rounds r ON r.round_id = m.round_id"
        " WHERE m.township = %s AND m.village = %s ORDER BY r.year NULLS FIRST, m.starts_at, m.meeting_id",
        [township, village.name],
    )
    subjects = _rows(
        "SELECT s.meeting_id, s.subject_id, s.official_id, s.body_id, s.name, s.post, s.kind, s.ballots,"
        " s.favourable_percent, s.unfavourable_percent, s.score, s.flagged FROM proj_registry_subjects s"
        " WHERE s.meeting_id = ANY(%s) ORDER BY s.meeting_id, s.position",
        [[m["meeting_id"] for m in meetings]],
    )
    by_meeting: dict[str, list[dict[str, Any]]] = {}
    for s in subjects:
        by_meeting.setdefault(s["meeting_id"], []).append(s)
    series: dict[str, dict[str, Any]] = {}
    for m in meetings:
        m["subjects"] = by_meeting.get(m["meeting_id"], [])
        for s in m["subjects"]:
            key = s["official_id"] or s["body_id"] or s["subject_id"]
            series.setdefault(key, {"name": s["name"], "points": []})["points"].append(
                (_label(m), percent_value(s["unfavourable_percent"])))
    return {
        "village": village, "township": township, "meetings": meetings,
        "interviews": _interviews("township = %s AND village = %s", [township, village.name]),
        "items": _items("township = %s AND village = %s", [township, village.name]),
        "comments": comments_selectors.comments_list(village_id=village_id),
        "chart": rate_chart(list(series.values()), threshold=_threshold_of(meetings)),
    }


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
