from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = "县区 / Counties"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from tenants import hosts

        hosts.connect_signals()
