"""API tokens kept as digests (accounts.ApiToken); DRF's authtoken and its table go.

Existing tokens stop working: their keys were stored in clear and are not
carried over (users sign in again). authtoken's table, its content types,
permissions and migration rows are removed, so a county migrated from an
older state holds what a county migrated from nothing holds.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


def forget_authtoken(apps, schema_editor):  # type: ignore[no-untyped-def]
    # The content type's permissions, their grants and admin log links go with it (the ORM's cascade).
    apps.get_model("contenttypes", "ContentType").objects.using(schema_editor.connection.alias).filter(
        app_label="authtoken"
    ).delete()
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = 'authtoken'")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_region_viewer"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("admin", "0003_logentry_add_action_flag_choices"),
    ]

    operations = [
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("digest", models.CharField(max_length=64, unique=True, verbose_name="摘要 / digest")),
                ("prefix", models.CharField(max_length=16, verbose_name="前缀 / prefix")),
                (
                    "created",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="签发时间 / issued"),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_tokens",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="账号 / account",
                    ),
                ),
            ],
            options={"verbose_name": "接口令牌 / API token", "verbose_name_plural": "接口令牌 / API tokens"},
        ),
        # Unqualified: the schema being migrated (search_path). No such table in
        # the public schema or in a county migrated from nothing.
        migrations.RunSQL("DROP TABLE IF EXISTS authtoken_token", reverse_sql=migrations.RunSQL.noop),
        migrations.RunPython(forget_authtoken, reverse_code=migrations.RunPython.noop),
    ]
