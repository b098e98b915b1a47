from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "账号 / Accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import pre_save

        from accounts.api_tokens import revoke_on_account_change
        from accounts.models import User
        from accounts.sessions import stamp_login

        pre_save.connect(revoke_on_account_change, sender=User, dispatch_uid="accounts.revoke_tokens")
        user_logged_in.connect(stamp_login, dispatch_uid="accounts.session_clock")
