"""Creating counties: validation, cloning from the template, fast re-migration."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from meetings.models import RosterMember, Township
from tenants.migrating import migrate_all
from tenants.models import County, Domain
from tenants.provisioning import (
    ProvisioningError,
    applied_migrations,
    create_county,
    schema_exists,
    schema_state,
    template_schema,
)
from tests.conftest import host_of

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("slug", "code"),
    [("Bad-Slug", "invalid_county_slug"), ("public", "invalid_county_slug"), ("x", "invalid_county_slug"), ("pg_x", "invalid_county_slug")],
)
def test_bad_slug_is_refused_and_nothing_is_created(slug: str, code: str) -> None:
    before = County.objects.count()
    with pytest.raises(ProvisioningError) as info:
        create_county(slug=slug, name="坏县", domains=["bad.testserver"])
    assert info.value.code == code
    assert "县区代码" in info.value.message
    assert County.objects.count() == before
    assert not Domain.objects.filter(domain="bad.testserver").exists()


def test_duplicate_county_and_taken_domain_are_refused(county_a) -> None:
    with pytest.raises(ProvisioningError) as dup:
        create_county(slug=county_a.schema_name, name="重复", domains=["dup.testserver"])
    assert dup.value.code == "county_exists"
    with pytest.raises(ProvisioningError) as taken:
        create_county(slug=f"n_{uuid.uuid4().hex[:6]}", name="新县", domains=[host_of(county_a)])
    assert taken.value.code == "domain_taken" and "域名已被使用" in taken.value.message


def test_host_name_with_underscore_is_refused() -> None:
    with pytest.raises(ProvisioningError) as info:
        create_county(slug=f"h_{uuid.uuid4().hex[:6]}", name="某县", domains=["bad_host.localhost"])
    assert info.value.code == "invalid_domain" and "域名无效" in info.value.message


def test_new_county_is_cloned_with_every_migration_of_the_template(county_a) -> None:
    assert schema_exists(county_a.schema_name)
    assert applied_migrations(template_schema()) == applied_migrations(county_a.schema_name)
    with schema_context(county_a.schema_name):
        # Cloned structure, not cloned data: the template holds no rows.
        assert RosterMember.objects.count() == 0
        Township.objects.create(name="克隆测试乡")


def test_migrate_all_skips_counties_that_are_up_to_date(county_a, county_b, django_db_blocker) -> None:
    connection.set_schema_to_public()
    # county_b's record says it is behind (as for a county made before states
    # were recorded), its schema says it is not: checked, not migrated, stamped.
    County.objects.filter(schema_name=county_b.schema_name).update(schema_state="")
    counts = migrate_all()
    assert counts["migrated"] == 0
    assert counts["skipped"] == 1
    assert counts["current"] >= 1
    assert County.objects.get(schema_name=county_b.schema_name).schema_state == schema_state()


def test_cli_county_create_and_list() -> None:
    slug = f"cli_{uuid.uuid4().hex[:6]}"
    env = dict(os.environ)
    create = subprocess.run(
        [sys.executable, "-m", "shuping.cli", "county", "create", slug, "--name", "新野县", "--domain", f"{slug.replace('_', '-')}.localhost"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert create.returncode == 0, create.stderr
    assert "已创建县区 新野县" in create.stdout
    listing = subprocess.run(
        [sys.executable, "-m", "shuping.cli", "county", "list"], capture_output=True, text=True, env=env, timeout=120
    )
    assert listing.returncode == 0, listing.stderr
    assert any(line.split("\t")[:2] == [slug, "新野县"] and f"{slug.replace('_', '-')}.localhost" in line for line in listing.stdout.splitlines())
    again = subprocess.run(
        [sys.executable, "-m", "shuping.cli", "county", "create", slug, "--name", "新野县", "--domain", "other.localhost"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert again.returncode == 2 and "county_exists" in again.stderr and "已存在" in again.stderr
