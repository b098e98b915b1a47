"""Reads of the rectification ledger (proj_ledger_items, proj_ledger_measures): lists, items, summaries.

The summary counts problems (items), measures, measures done and measures
still being worked on (in progress or overdue), per village, per township
and for the county, and reads as the counties write it (seed 004).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from django.db import connection

from followup.ledger import SOURCE_KINDS, summary_sentence

STATUS_NAMES = {"in_progress": "正在整改", "overdue": "逾期未完成", "done": "已完成", "closed": "已销号"}


def _rows(sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [c.name for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


_ITEMS = """
SELECT item_id, source_kind, source_ref, meeting_id, township, village, problem, note, raised_by, raised_at, status,
       reviewed_by, review_passed, review_note, reviewed_at
FROM proj_ledger_items
"""
_MEASURES = """
SELECT item_id, measure_no, text, owner, deadline, status, completed_on, completed_by, evidence, files
FROM proj_ledger_measures
"""


def _shape_measure(row: dict[str, Any]) -> dict[str, Any]:
    if isinstance(row["files"], str):
        row["files"] = json.loads(row["files"])
    row["status_name"] = STATUS_NAMES[row["status"]]
    return row


def _with_measures(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ids = [i["item_id"] for i in items]
    measures: dict[str, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for row in _rows(_MEASURES + " WHERE item_id = ANY(%s) ORDER BY item_id, measure_no", [ids]):
            measures[row["item_id"]].append(_shape_measure(row))
    for item in items:
        item["measures"] = measures[item["item_id"]]
        item["status_name"] = STATUS_NAMES[item["status"]]
        item["source_name"] = SOURCE_KINDS.get(item["source_kind"], item["source_kind"])
        item["place"] = f"{item['township']}{item['village']}"
    return items


def ledger_items(
    *, township: str | None = None, village: str | None = None, closed: bool = True,
) -> list[dict[str, Any]]:
    """Items with their measures, by place and then by when they were raised (closed=False: not the closed ones)."""
    where: list[str] = [] if closed else ["status <> 'closed'"]
    params: list[Any] = []
    if township is not None:
        where.append("township = %s")
        params.append(township)
    if village is not None:
        where.append("village = %s")
        params.append(village)
    sql = _ITEMS + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY township, village, raised_at, item_id"
    return _with_measures(_rows(sql, params))


def ledger_item(item_id: str) -> dict[str, Any] | None:
    rows = _rows(_ITEMS + " WHERE item_id = %s", [item_id])
    return _with_measures(rows)[0] if rows else None


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    problems, measures, done = int(row["problems"]), int(row["measures"]), int(row["done"])
    return {**row, "problems": problems, "measures": measures, "done": done, "working": measures - done,
            "sentence": summary_sentence(problems=problems, measures=measures, done=done)}


_SUMMARY = """
SELECT {keys}, count(DISTINCT i.item_id) AS problems, count(m.item_id) AS measures,
       count(m.item_id) FILTER (WHERE m.status = 'done') AS done
FROM proj_ledger_items i LEFT JOIN proj_ledger_measures m ON m.item_id = i.item_id
{group}
"""


def closed_count() -> int:
    return int(_rows("SELECT count(*) AS n FROM proj_ledger_items WHERE status = 'closed'")[0]["n"])


def ledger_summary() -> dict[str, Any]:
    """The summary for the county, each township and each village (villages under their township)."""
    county = _rows(_SUMMARY.format(keys="'' AS township", group=""))[0]
    townships = _rows(_SUMMARY.format(keys="i.township", group="GROUP BY i.township ORDER BY i.township"))
    villages = _rows(_SUMMARY.format(keys="i.township, i.village",
                                     group="GROUP BY i.township, i.village ORDER BY i.township, i.village"))
    by_township: dict[str, list[dict[str, Any]]] = {}
    for village in villages:
        by_township.setdefault(village["township"], []).append(_summary(village))
    return {
        "county": _summary(county),
        "townships": [{**_summary(t), "villages": by_township.get(t["township"], [])} for t in townships],
    }


def public_progress() -> list[dict[str, Any]]:
    """Rectification progress per village for the public: problems, measures and their state; no internal notes."""
    summary = ledger_summary()
    items = ledger_items()
    places: list[dict[str, Any]] = []
    for township in summary["townships"]:
        for village in township["villages"]:
            listed = [
                {
                    "problem": i["problem"], "status_name": i["status_name"], "source_name": i["source_name"],
                    "measures": [
                        {"text": m["text"], "owner": m["owner"], "deadline": m["deadline"], "status": m["status"],
                         "status_name": m["status_name"], "completed_on": m["completed_on"],
                         "evidence": m["evidence"], "photos": len(m["files"])}
                        for m in i["measures"]
                    ],
                }
                for i in items if i["township"] == village["township"] and i["village"] == village["village"]
            ]
            places.append({"township": village["township"], "village": village["village"],
                           "sentence": village["sentence"], "items": listed})
    return places


def meetings_to_choose() -> list[dict[str, Any]]:
    """Meetings whose results are announced: where ledger items come from."""
    return _rows(
        "SELECT meeting_id, title, township, village FROM proj_meeting_board"
        " WHERE phase IN ('results_announced', 'closed') ORDER BY township, village, meeting_id"
    )
