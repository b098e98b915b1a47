from django.apps import AppConfig


class FollowupConfig(AppConfig):
    name = "followup"
    verbose_name = "结果运用 / After the meeting"
    default_auto_field = "django.db.models.BigAutoField"
