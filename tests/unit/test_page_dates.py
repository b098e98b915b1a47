"""Dates typed in the county's forms: one reading for every page, and a refusal that names the field."""

from __future__ import annotations

from datetime import date

import pytest

from common.refusal import Refusal
from followup import page_kit


@pytest.mark.parametrize("typed", ["2026-1-15", "15/01/2026", "2026-02-30", "二〇二六年一月", "20260115", "2026-W03-4", "２０２６-０１-１５", "2026-01-15\x00", "9" * 5000])
def test_a_date_that_is_not_one_is_refused_naming_its_field(typed: str) -> None:
    for read in (page_kit.form_date, page_kit.required_date):
        with pytest.raises(Refusal) as refused:
            read(typed, "held_on")
        assert refused.value.code == "bad_date"
        assert refused.value.details == {"field": "held_on"}
        assert "年-月-日" in refused.value.message_zh


def test_an_empty_date_is_none_where_optional_and_refused_where_required() -> None:
    assert page_kit.form_date("", "deadline") is None
    assert page_kit.form_date(None, "deadline") is None
    with pytest.raises(Refusal) as refused:
        page_kit.required_date("", "signed_on")
    assert refused.value.code == "bad_date" and refused.value.details == {"field": "signed_on"}


def test_a_date_is_read_as_typed() -> None:
    assert page_kit.form_date("2026-01-15", "deadline") == date(2026, 1, 15)
    assert page_kit.required_date("2026-12-31", "on") == date(2026, 12, 31)
