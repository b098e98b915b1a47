"""The county sets the grade bands of the results export for pay and appraisal, and downloads the workbook, in Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import openpyxl
from playwright.sync_api import expect


def test_the_county_sets_the_bands_and_the_workbook_uses_them(
    hall: Any, contexts: Any, artifacts: Any, tmp_path: Path
) -> None:
    admin, password = hall.user("county_admin")
    page = contexts.desk().new_page()
    page.goto(hall.url("/login/?next=/records/export/"))
    page.fill("#id_username", admin)
    page.fill("#id_password", password)
    page.click("#login-submit")
    page.wait_for_url(hall.url("/records/export/"))

    form = page.locator("#bands-form")
    form.locator("textarea[name=bands]").fill("优秀 10\n良好 5")  # bounds must rise
    form.locator("input[name=over]").fill("待改进")
    form.locator("button.primary").click()
    expect(page.locator("[data-testid=ledger-error]")).to_contain_text("各档上限须在0到100之间且逐档增大")
    expect(page.locator("[data-testid=bands]")).not_to_contain_text("良好")  # nothing saved

    page.locator("#bands-form textarea[name=bands]").fill("优秀 5\n良好 15\n合格 30")
    page.locator("#bands-form input[name=over]").fill("待改进")
    page.locator("#bands-form button.primary").click()
    page.wait_for_url(hall.url("/records/export/"))
    bands = page.locator("[data-testid=bands]")
    expect(bands).to_contain_text("优秀：不称职率不超过 5%")
    expect(bands).to_contain_text("合格：不称职率不超过 30%")
    expect(bands).to_contain_text("待改进：超过以上各档")
    page.screenshot(path=str(artifacts / "results-export.png"), full_page=True)

    with page.expect_download() as download:
        page.locator("#export-all").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    saved = tmp_path / "export.xlsx"
    download.value.save_as(saved)
    book = openpyxl.load_workbook(saved)
    assert next(book["测评结果"].iter_rows(max_row=1, values_only=True))[0] == "干部 / Official"
    legend = list(book["档次 Bands"].iter_rows(values_only=True))
    assert [row[0] for row in legend[2:6]] == ["优秀", "良好", "合格", "待改进"]
    assert [row[1] for row in legend[2:5]] == [5.0, 15.0, 30.0]
