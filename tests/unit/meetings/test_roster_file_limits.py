"""meetings.roster_file against hostile files: every cell bounded and clean, every broken file a RosterFileError."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import Workbook

from meetings.roster_file import MAX_CELL_CHARS, ImportReport, RosterFileError, read_roster

HEADER = "姓名,身份类别"


def read(data: bytes, filename: str = "r.csv") -> list[dict[str, str]]:
    rows = read_roster(data, filename=filename, report=ImportReport(filename), need_place=False)
    return [row.values for row in rows]


def refusal(data: bytes, filename: str = "r.csv") -> RosterFileError:
    with pytest.raises(RosterFileError) as caught:
        read(data, filename)
    return caught.value


def xlsx(*rows: list[object]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_cell_at_the_bound_is_read() -> None:
    assert read(f"{HEADER}\n{'王' * MAX_CELL_CHARS},党员\n".encode())[0]["name"] == "王" * MAX_CELL_CHARS


@pytest.mark.parametrize("length", [MAX_CELL_CHARS + 1, 100_000, csv.field_size_limit() + 1, 200_000])
def test_a_cell_past_the_bound_is_refused_with_its_row(length: int) -> None:
    problem = refusal(f"{HEADER}\n张三,党员\n{'x' * length},党员\n".encode())
    assert problem.code == "cell_too_long"
    assert problem.message.startswith("第3行")
    assert "xxxx" not in problem.message


def test_the_csv_modules_own_limit_is_not_changed() -> None:
    before = csv.field_size_limit()
    refusal(f"{HEADER}\n{'x' * 200_000},党员\n".encode())
    assert csv.field_size_limit() == before  # process-wide: other readers keep theirs


def test_a_long_cell_in_an_xlsx_is_refused_too() -> None:
    problem = refusal(xlsx(["姓名", "身份类别"], ["x" * (MAX_CELL_CHARS + 1), "党员"]), "r.xlsx")
    assert problem.code == "cell_too_long" and problem.message.startswith("第2行")


@pytest.mark.parametrize("cell", ["张\x00三", "\x00"])
def test_a_nul_in_a_cell_is_refused(cell: str) -> None:
    problem = refusal(f"{HEADER}\n{cell},党员\n".encode())
    assert problem.code == "invalid_characters" and problem.message.startswith("第2行")


def test_a_nul_in_a_header_cell_is_refused() -> None:
    assert refusal("姓名,身份\x00类别\n张三,党员\n".encode()).code == "invalid_characters"


@pytest.mark.parametrize("data", [
    b"\xff\xfe" + HEADER.encode("utf-16-le") + b"\x00\xd8",  # UTF-16 with a lone surrogate
    b"\xfe\xff\x00",  # UTF-16 cut in the middle of a character
    b"\xef\xbb\xbf\xff\xfe\xfd",  # a UTF-8 byte order mark, then not UTF-8
    b"\x81\x30",  # neither UTF-8 nor GB18030
])
def test_undecodable_text_is_bad_encoding(data: bytes) -> None:
    assert refusal(data).code == "bad_encoding"


@pytest.mark.parametrize("data", [b"PK\x03\x04 not a zip", b"PK" + b"\x00" * 100])
def test_a_broken_xlsx_is_unreadable(data: bytes) -> None:
    assert refusal(data, "r.xlsx").code == "unreadable_file"
