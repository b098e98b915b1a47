"""The County tenant and its host names. These rows live in the public schema."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django_tenants.models import DomainMixin, TenantMixin

# A county slug becomes its schema name: lowercase ASCII, short, never one of
# PostgreSQL's or ours.
SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{1,40}$")
RESERVED_SLUGS = {"public", "county_template", "information_schema", "pg_catalog", "admin", "www"}


def validate_county_slug(value: str) -> None:
    if not SLUG_RE.match(value) or value in RESERVED_SLUGS or value.startswith("pg_"):
        raise ValidationError(
            "县区代码须为 2-41 位小写字母、数字或下划线，以字母开头，且不能是保留字。"
            " / A county slug is 2-41 lowercase letters, digits or underscores, "
            "starting with a letter, and not a reserved word.",
            code="invalid_county_slug",
        )


class County(TenantMixin):
    """A county (县/区): one tenant, one PostgreSQL schema named after its slug."""

    name = models.CharField("名称 / name", max_length=100)  # type: ignore[var-annotated]
    created_at = models.DateTimeField("创建时间 / created", auto_now_add=True)  # type: ignore[var-annotated]
    # The template's schema state (tenants.provisioning.schema_state) this
    # county's schema was last brought to: `shuping migrate` finds the counties
    # behind with one query on this column instead of one per schema.
    schema_state = models.CharField(max_length=64, blank=True, default="", editable=False)  # type: ignore[var-annotated]

    # A county schema is never dropped by deleting a row: its event log is a
    # record that outlives mistakes in the admin.
    auto_drop_schema = False
    auto_create_schema = True

    class Meta:
        verbose_name = "县区 / county"
        verbose_name_plural = "县区 / counties"
        ordering = ["schema_name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.schema_name})"

    @property
    def slug(self) -> str:
        return self.schema_name


class Domain(DomainMixin):
    """A host name that resolves to a county (or to the public site)."""

    class Meta:
        verbose_name = "域名 / host name"
        verbose_name_plural = "域名 / host names"


class TemplateSnapshot(models.Model):
    """The county template's DDL and rows at one schema state, replayed to create a county.

    Written once per state by tenants.template_ddl (pg_dump of the template,
    with the schema name replaced by a placeholder); the template stays the
    single source of a county's schema and seed rows.
    """

    state = models.CharField(max_length=64, primary_key=True)  # type: ignore[var-annotated]
    ddl = models.TextField()  # type: ignore[var-annotated]
    created_at = models.DateTimeField(auto_now_add=True)  # type: ignore[var-annotated]

    def __str__(self) -> str:
        return f"template DDL {self.state[:12]}"
