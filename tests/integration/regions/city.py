"""A city over three counties with one announced meeting each, and its organization department's account."""

from __future__ import annotations

import uuid
from typing import Any

from django_tenants.utils import schema_context

from accounts.models import Role, User
from regions.models import Region
from tests.integration.followup.meeting_with_results import announced_meeting

NAMES = ("东城县", "西城县", "南城县")
BALLOTS = [(20, 8), (24, 12), (12, 1)]  # (ballots cast of 30, ballots grading the secretary 不称职)


def build_city(make_county: Any) -> tuple[Region, list[Any]]:
    counties = [make_county("rg", name=name) for name in NAMES]
    for county, (cast, poor) in zip(counties, BALLOTS, strict=True):
        with schema_context(county.schema_name):
            announced_meeting(ballots_cast=cast, poor=poor)
    region = Region.objects.create(name=f"测试市{uuid.uuid4().hex[:6]}", kind=Region.Kind.CITY)
    region.counties.set(counties)
    return region, counties


def region_viewer(region: Region, username: str | None = None, password: str = "pw-shiwei-1") -> User:
    """An account of the city's organization department, in the public schema."""
    user = User(username=username or f"shiwei{uuid.uuid4().hex[:6]}", role=Role.REGION_VIEWER)
    user.set_password(password)
    user.full_clean()
    user.save()
    region.viewers.add(user)
    return user
