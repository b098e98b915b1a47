from django.apps import AppConfig


class ProjectionsConfig(AppConfig):
    name = "projections"
    verbose_name = "读模型 / Projections"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Register the projections of this package.
        from projections import log_index, meeting_board  # noqa: F401
