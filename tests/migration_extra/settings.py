"""The platform's settings plus the migration_extra app (tests/integration/test_parallel_migrate.py)."""

from shuping.settings import *  # noqa: F403
from shuping.settings import INSTALLED_APPS, TENANT_APPS

TENANT_APPS = [*TENANT_APPS, "tests.migration_extra"]
INSTALLED_APPS = [*INSTALLED_APPS, "tests.migration_extra"]
