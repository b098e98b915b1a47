from django.apps import AppConfig


class StaffConfig(AppConfig):
    name = "staff"
    verbose_name = "工作人员 / Staff"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from staff import events, projection  # noqa: F401  (registers the event types and the projection)
