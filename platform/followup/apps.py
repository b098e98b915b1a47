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
        # interviews and the rectification ledger (interviews, ledger, ledger_projection, ledger_sweeps),
        # the county's year (commitments*, rankings*: commitments, quarterly rankings, the 软弱涣散 rule).
        # The events floor may not import followup: followup registers its
        # after-commit hook with the store (an event in sweeps.TRIGGERS gets
        # its county swept at once). Importing jobs registers its tasks with
        # the job queue (procrastinate's app is ready: it is installed first).
        from importlib import import_module

        from events import store
        from followup import (  # noqa: F401
            adjustments_sweeps,
            comments,
            comments_projection,
            commitments,
            commitments_projection,
            events,
            interviews,
            jobs,
            ledger,
            ledger_projection,
            ledger_sweeps,
            periods,
            projection,
            rankings_projection,
            rankings_sweeps,
            results_export,
            sweeps,
        )

        store.subscribe(jobs.defer_after_commit)
        for module in sweeps.SWEEPER_MODULES:
            import_module(module)
