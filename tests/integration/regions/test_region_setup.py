"""The operator sets up a region from the command line; bad input is refused in Chinese first and changes nothing."""

from __future__ import annotations

import pytest

from accounts.models import User
from regions.models import Region
from shuping.cli import build_parser
from shuping.region_cli import run

pytestmark = pytest.mark.django_db


def _cli(*argv: str) -> int:
    return run(build_parser().parse_args(["region", *argv]))


def test_the_operator_builds_a_province_a_city_and_its_account(make_county, capsys) -> None:
    county = make_county("rs", name="北城县")
    assert _cli("create", "测试省甲", "--kind", "province") == 0
    assert _cli("create", "测试市甲", "--kind", "city", "--parent", "测试省甲") == 0
    assert _cli("add-county", "测试市甲", county.schema_name) == 0
    assert _cli("viewer", "测试市甲", "shiwei_jia", "--password", "Lanterns-over-the-river-7") == 0
    city = Region.objects.get(name="测试市甲")
    assert city.parent == Region.objects.get(name="测试省甲")
    assert [c.schema_name for c in Region.objects.get(name="测试省甲").all_counties()] == [county.schema_name]
    viewer = User.objects.get(username="shiwei_jia")
    assert viewer.role == "region_viewer" and list(viewer.regions.all()) == [city]
    assert "region account shiwei_jia" in capsys.readouterr().out


@pytest.mark.parametrize("argv, code", [
    (("add-county", "没有的市", "x_county"), "unknown_region"),
    (("add-county", "测试市乙", "no_such_county"), "unknown_county"),
    (("add-county", "测试市乙", "public"), "unknown_county"),
    (("create", "测试市乙", "--kind", "city"), "region_exists"),
    (("create", "   ", "--kind", "city"), "bad_region_name"),
    (("create", "测试市丙", "--kind", "city", "--parent", "测试市乙"), "bad_region_parent"),
    (("viewer", "测试市乙", "shiwei_yi", "--password", "123"), "bad_account"),
])
def test_bad_input_is_refused_and_changes_nothing(argv, code, capsys) -> None:
    Region.objects.create(name="测试市乙", kind="city")
    before = (Region.objects.count(), User.objects.count(), Region.objects.get(name="测试市乙").counties.count())
    assert _cli(*argv) == 2
    err = capsys.readouterr().err
    assert f"[{code}]" in err and err.index("错误") < err.index(" / ")
    assert (Region.objects.count(), User.objects.count(),
            Region.objects.get(name="测试市乙").counties.count()) == before
