"""The operator's set-up of regions: create one, put a county or a sub-region under it, give it an account.

Public-schema rows only (no county's log is touched); every refusal is a
Refusal with a Chinese message first, so the CLI prints it and changes nothing.
"""

from __future__ import annotations

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from accounts.roles import Role
from common.refusal import Refusal
from regions.models import Region
from tenants.models import County


def _region(name: str) -> Region:
    region = Region.objects.filter(name=name).first()
    if region is None:
        raise Refusal(f"没有名为「{name}」的地市/省", f"no region named {name!r}", code="unknown_region", http_status=404)
    return region


def create_region(name: str, kind: str, *, parent: str | None = None) -> Region:
    name = name.strip()
    if not name or len(name) > 100:
        raise Refusal("名称须为 1 至 100 个字", "a name is 1 to 100 characters", code="bad_region_name")
    if kind not in Region.Kind.values:
        raise Refusal("层级须为 city（地市）或 province（省）", "kind is city or province", code="bad_region_kind")
    if Region.objects.filter(name=name).exists():
        raise Refusal(f"已有名为「{name}」的地市/省", f"a region named {name!r} exists", code="region_exists",
                      http_status=409)
    above = _region(parent) if parent else None
    if above is not None and above.kind != Region.Kind.PROVINCE:
        raise Refusal("只有省可以下辖地市", "only a province has regions under it", code="bad_region_parent")
    return Region.objects.create(name=name, kind=kind, parent=above)


def add_county(region_name: str, slug: str) -> Region:
    region = _region(region_name)
    county = County.objects.exclude(schema_name="public").filter(schema_name=slug).first()
    if county is None:
        raise Refusal(f"没有县区 {slug}", f"no county {slug!r}", code="unknown_county", http_status=404)
    region.counties.add(county)
    return region


@transaction.atomic
def add_viewer(region_name: str, username: str, password: str) -> User:
    """A new account of the region's organization department (public schema, role region_viewer)."""
    region = _region(region_name)
    if User.objects.filter(username=username).exists():
        raise Refusal(f"账号 {username} 已存在", f"account {username!r} exists", code="account_exists",
                      http_status=409)
    user = User(username=username, role=Role.REGION_VIEWER)
    try:
        validate_password(password, user)
        user.set_password(password)
        user.full_clean()
    except ValidationError as refused:
        raise Refusal("账号不符合要求：" + "；".join(refused.messages), "the account was refused",
                      code="bad_account") from refused
    user.save()
    region.viewers.add(user)
    return user
