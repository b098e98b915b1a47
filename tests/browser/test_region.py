"""A city's organization department in Chromium: logs in on the platform's host and sees its three counties.

The counties hold one announced meeting each; the city official's page lists
their participation, flagged share and rectification, sorts by participation
and switches the bar chart, with no name of a subject or village shown. A
screenshot is saved to tests/artifacts/region.png.
"""

from __future__ import annotations

from typing import Any

from django.utils.timezone import localdate
from playwright.sync_api import expect

from tests.integration.regions.city import build_city, region_viewer


def test_the_city_official_sees_the_three_counties_and_their_chart(
    hall: Any, make_county: Any, contexts: Any, artifacts: Any,
) -> None:
    with hall.db():
        region, counties = build_city(make_county)
        official = region_viewer(region, password="pw-shiwei-Shuping1")
    base = f"http://localhost:{hall.server.port}"
    page = contexts.desk().new_page()
    page.goto(f"{base}/region/")
    page.wait_for_url(f"{base}/region/login/?next=/region/")
    expect(page.locator("h1")).to_contain_text("地市/省组织部登录")
    page.fill("#id_username", official.username)
    page.fill("#id_password", "pw-shiwei-Shuping1")
    page.click("#login-submit")
    page.wait_for_url(f"{base}/region/")
    # The page opens on the current year; the test county's round is of 2026, chosen in the year field.
    expect(page.locator("#year")).to_have_value(str(localdate().year))
    page.fill("#year", "2026")
    page.locator("#year").press("Enter")
    page.wait_for_url(f"{base}/region/?year=2026*")

    section = page.locator(f"#region-{region.pk}")
    expect(section.locator("h2")).to_contain_text(region.name)
    for county, participation, flagged in zip(counties, ("66.7%", "80.0%", "40.0%"), ("50.0%", "50.0%", "0.0%"),
                                              strict=True):
        row = section.locator(f'tr[data-county="{county.schema_name}"]')
        expect(row.locator("td.county")).to_have_text(county.name)
        expect(row.locator("td.participation")).to_contain_text(participation)
        expect(row.locator("td.flagged")).to_contain_text(flagged)
        expect(row.locator("td.rectification")).to_contain_text("—")
    expect(page.locator("body")).not_to_contain_text("王建国")

    page.click("#sort-participation")
    expect(section.locator("td.county")).to_have_text(["西城县", "东城县", "南城县"])
    page.click("#chart-flagged_share")
    chart = section.locator("figure.region-chart")
    expect(chart.locator("figcaption")).to_contain_text("不称职（差评）对象占比（按县区）")
    expect(chart.locator("rect.bar")).to_have_count(3)
    expect(chart.locator("text.bar-value")).to_have_text(["50.0%", "50.0%", "0.0%"])
    page.screenshot(path=str(artifacts / "region.png"), full_page=True)

    # A year typed by hand that is no year: a Chinese-first refusal, not a 500.
    page.goto(f"{base}/region/?year=abc")
    expect(page.locator("#region-error")).to_contain_text("年份应为 2000 至 2100 之间的四位数字")
