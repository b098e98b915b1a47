"""Create counties and keep every schema migrated.

`migrate_all` is what `shuping migrate` runs: the public schema, then the
county template, then every county. A county whose applied migrations already
equal the template's is skipped with one query instead of a full Django
migrate (which costs about a second per schema and adds up to minutes over
thousands of counties; see django-tenants #719).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django_tenants.utils import schema_context

from common.county import use_public_schema
from events.grants import app_role, grant_app_role
from tenants.models import County, Domain, validate_county_slug

PUBLIC = "public"
# What Django's request.get_host() accepts: letters, digits, dots and hyphens.
HOST_RE = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")
PUBLIC_DOMAINS = ("localhost", "127.0.0.1")

Progress = Callable[[int, int, str, str], None]


class ProvisioningError(Exception):
    """A county could not be created; the message says why (Chinese first)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def template_schema() -> str:
    return str(settings.TENANT_BASE_SCHEMA)


def schema_exists(schema: str) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [schema])
        return cursor.fetchone() is not None


def applied_migrations(schema: str) -> set[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_tables WHERE schemaname = %s AND tablename = 'django_migrations'",
            [schema],
        )
        if cursor.fetchone() is None:
            return set()
        cursor.execute(f'SELECT app, name FROM "{schema}".django_migrations')
        return {(app, name) for app, name in cursor.fetchall()}


def migrate_public(*, verbosity: int = 0) -> None:
    use_public_schema()
    call_command("migrate_schemas", shared=True, interactive=False, verbosity=verbosity)


def migrate_schema(schema: str, *, verbosity: int = 0) -> None:
    call_command(
        "migrate_schemas", tenant=True, schema_name=schema, interactive=False, verbosity=verbosity
    )
    use_public_schema()


def ensure_template(*, verbosity: int = 0) -> None:
    """Create and migrate the schema that new counties are cloned from."""
    schema = template_schema()
    if not schema_exists(schema):
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE SCHEMA "{schema}"')
    migrate_schema(schema, verbosity=verbosity)


def ensure_public_tenant(domains: Iterable[str] = PUBLIC_DOMAINS) -> County:
    use_public_schema()
    public, _ = County.objects.get_or_create(
        schema_name=PUBLIC, defaults={"name": "述评平台 / Shuping platform"}
    )
    for index, host in enumerate(domains):
        Domain.objects.get_or_create(domain=host, defaults={"tenant": public, "is_primary": index == 0})
    return public


def migrate_all(
    *, progress: Progress | None = None, verbosity: int = 0, after_migrate: Callable[[], object] | None = None
) -> dict[str, int]:
    """Bring every schema up to date; return counts of migrated and skipped counties.

    `after_migrate()` runs inside each county schema (and the template) that
    was migrated, right after its migrations (the CLI rebuilds the
    projections that the migrations marked stale).
    """
    report = progress or (lambda *_: None)
    report(0, 0, PUBLIC, "migrating")
    migrate_public(verbosity=verbosity)
    ensure_public_tenant()
    report(0, 0, template_schema(), "migrating")
    ensure_template(verbosity=verbosity)
    _after(template_schema(), after_migrate)
    wanted = applied_migrations(template_schema())
    schemas = list(
        County.objects.exclude(schema_name=PUBLIC).order_by("schema_name").values_list("schema_name", flat=True)
    )
    counts = {"migrated": 0, "skipped": 0}
    role = app_role()
    for index, schema in enumerate(schemas, start=1):
        if wanted <= applied_migrations(schema):
            counts["skipped"] += 1
            report(index, len(schemas), schema, "up to date")
        else:
            report(index, len(schemas), schema, "migrating")
            migrate_schema(schema, verbosity=verbosity)
            _after(schema, after_migrate)
            counts["migrated"] += 1
        if role:
            grant_app_role(schema, role)
    return counts


def _after(schema: str, after_migrate: Callable[[], object] | None) -> None:
    if after_migrate is None:
        return
    with schema_context(schema):
        after_migrate()


def create_county(*, slug: str, name: str, domains: Iterable[str]) -> County:
    """Create a county: its row, its schema (cloned from the template), its host names."""
    hosts = [host.strip().lower() for host in domains if host.strip()]
    try:
        validate_county_slug(slug)
    except ValidationError as exc:
        raise ProvisioningError("invalid_county_slug", exc.messages[0]) from exc
    if not name.strip():
        raise ProvisioningError("county_name_required", "县区名称不能为空 / a county needs a name")
    if not hosts:
        raise ProvisioningError("county_domain_required", "至少需要一个域名 / at least one host name is needed")
    bad = [host for host in hosts if not HOST_RE.match(host)]
    if bad:
        raise ProvisioningError(
            "invalid_domain",
            f"域名无效（只能含字母、数字、点和连字符）：{', '.join(bad)} / invalid host name: {', '.join(bad)}",
        )
    use_public_schema()
    if County.objects.filter(schema_name=slug).exists() or schema_exists(slug):
        raise ProvisioningError("county_exists", f"县区代码 {slug} 已存在 / county {slug} exists already")
    taken = list(Domain.objects.filter(domain__in=hosts).values_list("domain", flat=True))
    if taken:
        raise ProvisioningError(
            "domain_taken", f"域名已被使用：{', '.join(taken)} / host name already in use: {', '.join(taken)}"
        )
    if not schema_exists(template_schema()):
        ensure_template()
    with transaction.atomic():
        county = County(schema_name=slug, name=name.strip())
        county.save(verbosity=0)
        for index, host in enumerate(hosts):
            Domain.objects.create(domain=host, tenant=county, is_primary=index == 0)
        role = app_role()
        if role:
            grant_app_role(slug, role)
    use_public_schema()
    return county


@dataclass(frozen=True)
class CountyRow:
    slug: str
    name: str
    domains: tuple[str, ...]


def list_counties() -> list[CountyRow]:
    use_public_schema()
    rows = []
    for county in County.objects.exclude(schema_name=PUBLIC).prefetch_related("domains"):
        rows.append(
            CountyRow(
                slug=county.schema_name,
                name=county.name,
                domains=tuple(sorted(d.domain for d in county.domains.all())),
            )
        )
    return rows
