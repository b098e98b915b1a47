from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_no_county_superusers")]
    operations = [
        migrations.AlterField(
            model_name="user",
            name="role",
            field=models.CharField(
                blank=True,
                choices=[
                    ("operator", "平台运营 / platform operator"),
                    ("county_admin", "县委组织部 / county administrator"),
                    ("host", "主持人 / meeting host"),
                    ("teller", "计票员 / teller"),
                    ("auditor", "纪委审计 / auditor"),
                    ("observer", "观察员 / observer"),
                    ("region_viewer", "地市/省组织部 / region viewer"),
                ],
                max_length=20,
                verbose_name="角色 / role",
            ),
        ),
    ]
