"""Doors of the county's directory (reference data, not events): importing a village roster."""

from __future__ import annotations

from typing import IO

from accounts.roles import Actor, require
from common.refusal import NotFound
from meetings.models import Village
from meetings.roster_import import ImportReport, import_roster


def check_import_roster(
    *, actor: Actor, file: IO[bytes], filename: str, village_id: int | None, dry_run: bool
) -> ImportReport:
    """Import a roster file: all rows or none; the report names every bad row with its number."""
    require(actor, "import_roster")
    village = None
    if village_id is not None:
        village = Village.objects.filter(pk=village_id).first()
        if village is None:
            raise NotFound("找不到该村", "no such village", code="unknown_village")
    return import_roster(file, filename=filename, village=village, dry_run=dry_run)
