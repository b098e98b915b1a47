"""The door of the results export's configuration: the county's grade bands for pay and appraisal."""

from __future__ import annotations

from accounts.roles import Actor, require
from common.commands import CommandRef
from common.limits import require_clean_text
from events import repository
from events.repository import Outcome
from followup.results_export import STREAM, ExportConfig


def check_configure_results_export(
    *, actor: Actor, bands: list[tuple[str, str]], over: str, command_id: CommandRef,
) -> Outcome[ExportConfig]:
    """Set the grade bands (name, at most this 不称职 rate in percent) and the name of the band above them."""
    require(actor, "configure_results_export")
    require_clean_text([over, *(part for band in bands for part in band)])
    return repository.execute(STREAM, ExportConfig, lambda c: c.configure(bands=bands, over=over),
                              command_id=command_id, actor=actor.name)
