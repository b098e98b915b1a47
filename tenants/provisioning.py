"""Create counties, and the parts of migrating that every caller shares.

`shuping migrate` (tenants.migrating.migrate_all) migrates the public schema,
then the county template, then every county. Each step is skipped when it has
nothing to do, found with a constant number of queries whatever the number of
counties: public and template compare their recorded migrations with the
migration files (here); counties compare the schema state recorded on their
row (County.schema_state) with the template's, in one query (counties_behind).
A full Django migrate costs about a second per schema, which adds up to
minutes over thousands of counties (see django-tenants #719).

A county is created by replaying the template's DDL and rows (tenants.template_ddl),
not by django-tenants' clone and faked migrate, and without migrating the
other counties.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.loader import MigrationLoader

from common.county import use_public_schema
from events.grants import app_role, grant_statements, public_grant_statements
from tenants import template_ddl
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
    """Create and migrate the schema that new counties are copied from."""
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


def migrations_on_disk() -> set[tuple[str, str]]:
    """Every migration of the code (django-tenants records all of them in every schema)."""
    return set(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


def schema_state(applied: set[tuple[str, str]] | None = None) -> str:
    """A digest of the template's applied migrations and the application role it grants to.

    A county whose County.schema_state equals it has the template's schema
    and grants; the role is part of it so that setting SHUPING_APP_DB_ROLE
    later re-grants every county on the next `shuping migrate`.
    """
    rows = sorted(applied if applied is not None else applied_migrations(template_schema()))
    text = "\n".join(f"{app}.{name}" for app, name in rows) + f"\nrole={app_role() or ''}"
    return hashlib.sha256(text.encode()).hexdigest()


def migrate_platform(*, progress: Progress | None = None, verbosity: int = 0) -> bool:
    """Migrate the public schema and the template where the code has migrations they lack; True if anything ran."""
    report = progress or (lambda *_: None)
    wanted = migrations_on_disk()
    ran = False
    use_public_schema()
    if not wanted <= applied_migrations(PUBLIC):
        report(0, 0, PUBLIC, "migrating")
        migrate_public(verbosity=verbosity)
        ran = True
    ensure_public_tenant()
    if not schema_exists(template_schema()) or not wanted <= applied_migrations(template_schema()):
        report(0, 0, template_schema(), "migrating")
        ensure_template(verbosity=verbosity)
        ran = True
    role = app_role()
    if role:
        with connection.cursor() as cursor:
            for statement in public_grant_statements(role):
                cursor.execute(statement)
    return ran


def counties_behind(state: str | None = None) -> list[str]:
    """Counties whose recorded schema state is not the template's (one query)."""
    state = state or schema_state()
    return list(
        County.objects.exclude(schema_name=PUBLIC)
        .exclude(schema_state=state)
        .order_by("schema_name")
        .values_list("schema_name", flat=True)
    )


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
    template = template_schema()
    state = schema_state()
    ddl = template_ddl.ddl_for(state, template=template)
    role = app_role()
    replayed = False
    try:
        with transaction.atomic():
            county = County(schema_name=slug, name=name.strip(), schema_state=state)
            # The schema comes from the template's DDL below, not from django-tenants' clone.
            county.auto_create_schema = False
            county.save(verbosity=0)
            for index, host in enumerate(hosts):
                Domain.objects.create(domain=host, tenant=county, is_primary=index == 0)
            # The schema is committed by a connection of its own just before
            # the rows above (see template_ddl.own_connection); if the rows
            # then fail to commit, the schema is dropped again below.
            with template_ddl.own_connection() as own:
                template_ddl.replay(own, ddl, schema=slug)
                for statement in grant_statements(slug, role) if role else []:
                    own.execute(statement.encode())
            replayed = True
    except Exception:
        if replayed:
            template_ddl.drop_schema(slug)
        raise
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
