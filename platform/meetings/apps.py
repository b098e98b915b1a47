from django.apps import AppConfig


class MeetingsConfig(AppConfig):
    name = "meetings"
    verbose_name = "述评 / Report and evaluation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from meetings import (
            events,  # noqa: F401  (registers the event types)
            receipts_projection,  # noqa: F401  (registers the projection)
        )
        from meetings.registry import events as registry_events  # noqa: F401
