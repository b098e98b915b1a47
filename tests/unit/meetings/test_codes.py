"""Ballot codes: alphabet, entropy, uniqueness, normalization, hashing, printable slips."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from meetings.codes import (
    ALPHABET,
    CODE_LENGTH,
    ENTROPY_BITS,
    SLIPS_PER_PAGE,
    ballot_url,
    code_hash,
    format_code,
    generate_codes,
    is_well_formed,
    normalize_code,
    slip_sheet_html,
)

CODE_SHAPE = re.compile(r"^[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}$")


def test_alphabet_has_no_look_alikes_and_enough_entropy() -> None:
    assert not set("0O1IL") & set(ALPHABET)
    assert len(set(ALPHABET)) == len(ALPHABET)
    bits = CODE_LENGTH * math.log2(len(ALPHABET))
    assert bits >= 50 and int(bits) == ENTROPY_BITS


def test_ten_thousand_codes_are_unique_well_formed_and_use_only_the_alphabet() -> None:
    codes = generate_codes(10_000)
    assert len(codes) == 10_000
    assert len(set(codes)) == 10_000
    assert len({normalize_code(c) for c in codes}) == 10_000
    for code in codes:
        assert CODE_SHAPE.match(code), code
        assert set(normalize_code(code)) <= set(ALPHABET)
        assert is_well_formed(code)


def test_generate_rejects_bad_counts() -> None:
    assert generate_codes(0) == []
    with pytest.raises(ValueError):
        generate_codes(-1)


@pytest.mark.parametrize(
    "typed",
    [
        "k7qm-x2pa-9f3r",
        "K7QM X2PA 9F3R",
        " k7qmx2pa9f3r ",
        "K7QM—X2PA－9F3R",  # em dash and full-width hyphen from a Chinese input method
        "Ｋ７ＱＭ　Ｘ２ＰＡ　９Ｆ３Ｒ",  # full-width characters and ideographic spaces
    ],
)
def test_normalization_round_trip(typed: str) -> None:
    assert normalize_code(typed) == "K7QMX2PA9F3R"
    assert format_code(typed) == "K7QM-X2PA-9F3R"
    assert normalize_code(format_code(typed)) == normalize_code(typed)
    assert code_hash("demo", "m1", typed) == code_hash("demo", "m1", "K7QM-X2PA-9F3R")


def test_well_formed_rejects_wrong_length_and_look_alikes() -> None:
    assert not is_well_formed("K7QM-X2PA-9F3")
    assert not is_well_formed("K7QM-X2PA-9F30")  # 0 is not in the alphabet
    assert not is_well_formed("")


def test_hash_is_lowercase_hex_and_bound_to_county_and_meeting() -> None:
    code = generate_codes(1)[0]
    h = code_hash("county_a", "meeting-1", code)
    assert re.fullmatch(r"[0-9a-f]{64}", h)
    assert h == code_hash("county_a", "meeting-1", code.lower())
    assert h != code_hash("county_b", "meeting-1", code)
    assert h != code_hash("county_a", "meeting-2", code)
    # no ambiguity from where one name ends and the next begins
    assert code_hash("ab", "c", code) != code_hash("a", "bc", code)
    assert h != code_hash("county_a", "meeting-1", generate_codes(1)[0])
    with pytest.raises(ValueError):
        code_hash("", "meeting-1", code)


def test_ballot_url_carries_the_normalized_code_in_the_fragment() -> None:
    # The fragment never reaches the server: no log line holds a code beside an IP.
    assert ballot_url("https://demo.example.cn/v/m1/", "k7qm-x2pa-9f3r") == "https://demo.example.cn/v/m1#K7QMX2PA9F3R"


def _sheet(codes: list[str]) -> str:
    return slip_sheet_html(
        codes, base_url="https://demo.example.cn", meeting_title="东关村2026年度述职评议大会", category_label="党员"
    )


def test_sheet_has_one_qr_svg_and_printed_code_per_slip() -> None:
    codes = generate_codes(5)
    html = _sheet(codes)
    assert html.count("<svg") == 5
    assert html.count('class="slip"') == 5
    for code in codes:
        assert html.count(code) == 1  # printed once under its QR
    # The A4 layout is a stylesheet of its own (the pages' CSP allows no inline style).
    assert 'href="/static/css/code_slips.css"' in html
    css = (Path(__file__).resolve().parents[3] / "frontend/static/css/code_slips.css").read_text(encoding="utf-8")
    assert "@page" in css and "size: A4" in css and "dashed" in css
    assert html.count("东关村2026年度述职评议大会") >= 5
    assert html.count(">党员<") == 5
    # the ballot URL with the code is not in the page as text: only the SVG paths encode it
    for code in codes:
        assert normalize_code(code) not in html


def test_sheet_escapes_the_title() -> None:
    html = slip_sheet_html(generate_codes(1), base_url="https://x.cn", meeting_title="<script>", category_label="列席")
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize(("count", "pages"), [(1, 1), (24, 1), (25, 2), (50, 3)])
def test_page_count(count: int, pages: int) -> None:
    assert SLIPS_PER_PAGE == 24
    html = _sheet(generate_codes(count))
    assert html.count('<section class="sheet"') == pages
    assert html.count('class="slip"') == count
