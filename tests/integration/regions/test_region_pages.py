"""The region's page on the public host: its official sees the counties' figures; counties stay apart."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.models import Role, User
from tests.conftest import host_of
from tests.integration.regions.city import build_city, region_viewer

pytestmark = pytest.mark.django_db
PUBLIC = "localhost"


@pytest.fixture
def city(make_county):
    return build_city(make_county)


def _logged_in(username: str, password: str, host: str, login: str = "/region/login/") -> Client:
    client = Client(HTTP_HOST=host)
    client.post(login, {"username": username, "password": password})
    return client


def _county_admin(county, username: str = "zuzhibu_a") -> User:
    with schema_context(county.schema_name):
        user = User(username=username, role=Role.COUNTY_ADMIN)
        user.set_password("pw-county-1")
        user.save()
        return user


def test_the_city_official_sees_each_countys_figures(city) -> None:
    region, counties = city
    official = region_viewer(region)
    client = _logged_in(official.username, "pw-shiwei-1", PUBLIC)
    page = client.get("/region/?year=2026").content.decode()
    assert "2026年 述职评议情况" in page and region.name in page
    for county, expected in zip(counties, ("66.7%", "80.0%", "40.0%"), strict=True):
        assert county.name in page
        row = page.split(f'data-county="{county.schema_name}"')[1].split("</tr>")[0]
        assert expected in row
    assert "王建国" not in page and "东关村" not in page  # no subject or village of a county's meeting
    chart = client.get("/region/?year=2026&chart=flagged_share").content.decode()
    assert "不称职（差评）对象占比（按县区）" in chart and chart.count('class="bar"') == 3
    by_participation = client.get("/region/?year=2026&sort=participation").content.decode()
    assert by_participation.index("西城县") < by_participation.index("东城县") < by_participation.index("南城县")


@pytest.mark.parametrize("query", ["year=abc", "year=1999", "year=2026%00", "sort=password", "chart=<script>",
                                   "region=999999", "region=1%27%20OR%201=1"])
def test_bad_input_is_refused_in_chinese_first_never_a_500(city, query: str) -> None:
    region, _ = city
    client = _logged_in(region_viewer(region).username, "pw-shiwei-1", PUBLIC)
    response = client.get(f"/region/?{query}")
    assert response.status_code in (400, 404)
    page = response.content.decode()
    assert 'id="region-error"' in page and page.index('class="zh"') < page.index('class="en"', page.index("region-error"))


def test_a_city_official_cannot_open_a_countys_pages_or_api(city) -> None:
    region, counties = city
    official = region_viewer(region, password="pw-shiwei-1")
    for county in counties:
        client = _logged_in(official.username, "pw-shiwei-1", host_of(county), login="/login/")
        assert "_auth_user_id" not in client.session  # the account is unknown on a county's host
        assert client.get("/workspace/").status_code in (302, 403)
        assert client.get("/api/meetings/").status_code in (401, 403)


def test_a_county_user_sees_neither_the_region_nor_another_county(city) -> None:
    region, (a, b, _c) = city
    _county_admin(a)
    # On the public host, a county account is unknown: no region page.
    public = _logged_in("zuzhibu_a", "pw-county-1", PUBLIC)
    assert "_auth_user_id" not in public.session
    assert public.get("/region/").status_code == 302
    # On its own county's host it is logged in, yet /region/ is no page there.
    own = _logged_in("zuzhibu_a", "pw-county-1", host_of(a), login="/login/")
    assert "_auth_user_id" in own.session
    assert own.get("/region/").status_code == 404
    assert own.get("/workspace/").status_code == 200
    # On county B's host the same account is unknown.
    other = _logged_in("zuzhibu_a", "pw-county-1", host_of(b), login="/login/")
    assert "_auth_user_id" not in other.session
    assert other.get("/api/meetings/").status_code in (401, 403)


def test_a_city_official_sees_only_their_own_region(city, make_county) -> None:
    region, _ = city
    from regions.models import Region

    other = Region.objects.create(name="另一市", kind=Region.Kind.CITY)
    other.counties.add(make_county("rx", name="外市县"))
    client = _logged_in(region_viewer(region).username, "pw-shiwei-1", PUBLIC)
    assert "外市县" not in client.get("/region/").content.decode()
    assert client.get(f"/region/?region={other.pk}").status_code == 404
