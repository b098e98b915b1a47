from django.apps import AppConfig


class RegionsConfig(AppConfig):
    name = "regions"
    verbose_name = "地市/省 / regions"
    default_auto_field = "django.db.models.BigAutoField"
