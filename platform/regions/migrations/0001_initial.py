from django.conf import settings
from django.db import migrations, models
import django.db.models.deletion


class Migration(migrations.Migration):
    initial = True
    dependencies = [("tenants", "0002_schema_state"), migrations.swappable_dependency(settings.AUTH_USER_MODEL)]
    operations = [
        migrations.CreateModel(
            name="Region",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("name", models.CharField(max_length=100, unique=True, verbose_name="名称 / name")),
                ("kind", models.CharField(choices=[("city", "地市 / city"), ("province", "省 / province")],
                                          max_length=10, verbose_name="层级 / kind")),
                ("parent", models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT,
                                             related_name="children", to="regions.region",
                                             verbose_name="上级 / parent")),
                ("counties", models.ManyToManyField(blank=True, related_name="regions", to="tenants.county",
                                                    verbose_name="所辖县区 / counties")),
                ("viewers", models.ManyToManyField(blank=True, related_name="regions", to=settings.AUTH_USER_MODEL,
                                                   verbose_name="查看账号 / viewers")),
            ],
            options={"verbose_name": "地市/省 / region", "verbose_name_plural": "地市/省 / regions",
                     "ordering": ["name"]},
        ),
    ]
