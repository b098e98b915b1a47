"""Set up the crash test's county on the PostgreSQL of DATABASE_URL; print its accounts' API tokens.

Run as its own process by tests/e2e/test_crash.py: the test process's Django
is bound to the test run's database, and this county lives on a cluster of
its own (the one the test kills).
"""

from __future__ import annotations

import json
import os
import secrets

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shuping.settings")

import django  # noqa: E402

django.setup()

from django_tenants.utils import schema_context  # noqa: E402

from accounts.api_tokens import issue_token  # noqa: E402
from accounts.models import User  # noqa: E402
from tenants.provisioning import create_county  # noqa: E402

HOST = "crash.localhost"

county = create_county(slug="crash", name="断电县", domains=[HOST])
keys = {}
with schema_context(county.schema_name):
    for role in ("county_admin", "host", "auditor"):
        user = User.objects.create_user(username=role, password=secrets.token_urlsafe(16), role=role)
        keys[role] = issue_token(user).key
print(json.dumps({"host": HOST, "tokens": keys}))
