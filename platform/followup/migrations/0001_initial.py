"""The follow-up app's first migration: nothing yet (later migrations add the projections' tables)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies: list[tuple[str, str]] = []
    operations: list[migrations.operations.base.Operation] = []
