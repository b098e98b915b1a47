"""County accounts hold no Django superuser or staff flag (what they may do is their role's).

Before, the demo made each county's administrator a superuser. Those flags
grant nothing on a county's host any more (the county admin site and the
API ask the role policy), but they should not lie about it either. The
platform's operators, in the public schema, keep theirs.
"""

from typing import Any

from django.db import connection, migrations


def clear_flags(apps: Any, schema_editor: Any) -> None:
    if getattr(connection, "schema_name", "public") == "public":
        return
    User = apps.get_model("accounts", "User")
    User.objects.filter(is_superuser=True).update(is_superuser=False)
    User.objects.filter(is_staff=True).update(is_staff=False)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0002_role_blank")]
    operations = [migrations.RunPython(clear_flags, migrations.RunPython.noop)]
