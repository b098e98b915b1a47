from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"
    verbose_name = "事件日志 / Event log"
    default_auto_field = "django.db.models.BigAutoField"
