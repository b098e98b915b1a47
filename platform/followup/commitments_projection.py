"""Two-way commitments as read models (inline): commitments, their versions, progress and quarterly scores.

Tables (followup/migrations/0004_year.py): proj_commitments (one row per
commitment, with the version in force), proj_commitment_versions (every
version, the signed one and each amendment), proj_commitment_progress and
proj_commitment_scores. Every value comes from the events, so a rebuild
equals the live rows.
"""

from __future__ import annotations

import json
from typing import Any

from events.records import RecordedEvent
from projections.runtime import Cursor, Projection, register


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


class Commitments(Projection):
    name = "followup_commitments"
    inline = True
    tables = ("proj_commitments", "proj_commitment_versions", "proj_commitment_progress", "proj_commitment_scores")
    handles = frozenset({"CommitmentSigned", "CommitmentAmended", "CommitmentProgressReported",
                         "CommitmentQuarterScored"})

    def apply(self, cursor: Cursor, event: RecordedEvent) -> None:
        d = event.data
        if event.type == "CommitmentSigned":
            cursor.execute(
                "INSERT INTO proj_commitments (commitment_id, direction, official_id, official_name, post, township_id,"
                " township, village_id, village, year, signed_on, version_no, recorded_by)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::date, 1, %s)",
                [d["commitment_id"], d["direction"], d["official_id"], d["official_name"], d["post"], d["township_id"],
                 d["township"], d["village_id"], d["village"], d["year"], d["signed_on"], d["recorded_by"]],
            )
            self._version(cursor, d, 1, "", d["signed_on"])
        elif event.type == "CommitmentAmended":
            cursor.execute("UPDATE proj_commitments SET version_no = %s WHERE commitment_id = %s",
                           [d["version_no"], d["commitment_id"]])
            self._version(cursor, d, d["version_no"], d["reason"], d["amended_on"])
        elif event.type == "CommitmentProgressReported":
            cursor.execute(
                "INSERT INTO proj_commitment_progress (commitment_id, report_no, month, text, evidence, reported_on,"
                " reported_by) VALUES (%s, %s, %s, %s, %s, %s::date, %s)",
                [d["commitment_id"], d["report_no"], d["month"], d["text"], d["evidence"], d["reported_on"],
                 d["reported_by"]],
            )
        elif event.type == "CommitmentQuarterScored":
            cursor.execute(
                "INSERT INTO proj_commitment_scores (commitment_id, quarter, score, note, scored_by)"
                " VALUES (%s, %s, %s, %s, %s)",
                [d["commitment_id"], d["quarter"], d["score"], d["note"], d["scored_by"]],
            )

    @staticmethod
    def _version(cursor: Cursor, d: dict[str, Any], version_no: int, reason: str, made_on: str) -> None:
        cursor.execute(
            "INSERT INTO proj_commitment_versions (commitment_id, version_no, tasks, goals, reason, made_on, recorded_by)"
            " VALUES (%s, %s, %s::jsonb, %s::jsonb, %s, %s::date, %s)",
            [d["commitment_id"], version_no, _json(d["tasks"]), _json(d["goals"]), reason, made_on, d["recorded_by"]],
        )


register(Commitments())
