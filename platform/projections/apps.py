from django.apps import AppConfig


class ProjectionsConfig(AppConfig):
    name = "projections"
    verbose_name = "读模型 / Projections"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from events import store
        from projections import log_index, meeting_board, registry, rounds, runtime  # noqa: F401  (registers the projections)

        # The store runs the inline projections inside each append, through this hook.
        store.set_inline_projector(runtime.apply_inline)
