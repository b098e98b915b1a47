"""After the meeting: public notices, objections, filing, interviews and the rectification ledger.

The same shape as `meetings`: plain-Python aggregates decide, doors
(`followup/actions/`) authorize through accounts.roles and append through
events.repository, projections are the read models, pages read them through
selectors. Time (notice periods, deadlines, overdue states) moves through the
job queue (`followup/jobs.py`), which runs the sweepers of `followup/sweeps.py`.
"""
from django.apps import AppConfig


class FollowupConfig(AppConfig):
    name = "followup"
    verbose_name = "结果运用 / After the meeting"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Event types, projections and sweepers: the notice (events, projection, periods),
        # interviews and the rectification ledger (interviews, ledger, ledger_projection, ledger_sweeps).
        from followup import (  # noqa: F401
            adjustments_sweeps,
            comments,
            comments_projection,
            events,
            interviews,
            ledger,
            ledger_projection,
            ledger_sweeps,
            periods,
            projection,
            results_export,
        )
