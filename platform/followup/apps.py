from django.apps import AppConfig


class FollowupConfig(AppConfig):
    name = "followup"
    verbose_name = "结果运用 / After the meeting"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Interviews and the rectification ledger: event types, projections, sweepers.
        from followup import interviews, ledger, ledger_projection, ledger_sweeps  # noqa: F401
