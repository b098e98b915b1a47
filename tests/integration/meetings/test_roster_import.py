"""Roster import from CSV and Excel into the current county: all or nothing, errors per row in Chinese."""

from __future__ import annotations

import io
import uuid

import pytest
from django_tenants.utils import schema_context
from openpyxl import Workbook

from meetings.models import GuestKind, RosterMember, Township, Village, VoterCategory
from meetings.roster_import import MAX_BYTES, import_roster

pytestmark = pytest.mark.django_db

HEADER = "姓名,身份类别,乡镇,村,性别,联系电话,证件号后四位,列席类别,单位"


def _places(suffix: str | None = None) -> tuple[str, Village, Village]:
    """A township (unique name) with two villages, in the current county."""
    name = f"城关镇{suffix or uuid.uuid4().hex[:6]}"
    township = Township.objects.create(name=name)
    return (
        name,
        Village.objects.create(township=township, name="东关村"),
        Village.objects.create(township=township, name="西关村"),
    )


def _csv(township: str, *lines: str) -> str:
    return "\r\n".join([HEADER, *(line.replace("{t}", township) for line in lines)]) + "\r\n"


GOOD = (
    "王秀英,党员,{t},东关村,女,13800138000,0123,,",
    "李建国,村民代表,{t},东关村,男,,,,",
    "张桂英,党员,{t},西关村,女,0371-6612345,,,",
    "赵敏,列席,{t},东关村,女,,,群团组织,县妇联",
)


def _assert_good_import(report, east: Village, west: Village) -> None:  # type: ignore[no-untyped-def]
    assert report.ok, report.errors
    assert (report.created, report.updated, report.rows) == (4, 0, 4)
    assert RosterMember.objects.filter(village=east).count() == 3
    assert RosterMember.objects.filter(village=west).count() == 1
    wang = RosterMember.objects.get(village=east, name="王秀英")
    assert (wang.category, wang.gender, wang.phone, wang.id_suffix) == (VoterCategory.PARTY_MEMBER, "female", "13800138000", "0123")
    guest = RosterMember.objects.get(village=east, name="赵敏")
    assert (guest.category, guest.guest_kind, guest.affiliation) == (VoterCategory.GUEST, GuestKind.MASS_ORGANIZATION, "县妇联")


def test_csv_utf8(county_a) -> None:
    with schema_context(county_a.schema_name):
        township, east, west = _places()
        report = import_roster(_csv(township, *GOOD).encode("utf-8"), filename="roster.csv")
        assert report.encoding == "utf-8" and report.file_format == "csv"
        _assert_good_import(report, east, west)


def test_csv_utf8_with_bom(county_a) -> None:
    with schema_context(county_a.schema_name):
        township, east, west = _places()
        report = import_roster(io.BytesIO(_csv(township, *GOOD).encode("utf-8-sig")), filename="花名册.CSV")
        assert report.encoding == "utf-8-sig"
        _assert_good_import(report, east, west)


def test_csv_gbk_as_saved_by_chinese_excel(county_a) -> None:
    with schema_context(county_a.schema_name):
        township, east, west = _places()
        data = _csv(township, *GOOD).encode("gbk")
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        report = import_roster(data, filename="花名册.csv")
        assert report.encoding == "gb18030"
        _assert_good_import(report, east, west)


def test_xlsx_with_title_row_english_headers_and_numbers(county_a) -> None:
    with schema_context(county_a.schema_name):
        township, east, west = _places()
        workbook = Workbook()
        sheet = workbook.active
        sheet.append(["东关村、西关村 党员和村民代表花名册"])  # a title row above the header
        sheet.append(["Name", "Category", "Township", "Village", "Gender", "Phone", "ID_last4", "Guest kind", "Affiliation"])
        sheet.append(["王秀英", "党员", township, "东关村", "女", 13800138000, 123, None, None])  # numbers, as Excel stores them
        sheet.append(["李建国", "representative", township, "东关村", "男", None, None, None, None])
        sheet.append([None] * 9)  # blank row: skipped
        sheet.append(["张桂英", "党员", township, "西关村", "女", "0371-6612345", None, None, None])
        sheet.append(["赵敏", "列席", township, "东关村", "女", None, None, "群团组织", "县妇联"])
        buffer = io.BytesIO()
        workbook.save(buffer)
        report = import_roster(buffer.getvalue(), filename="roster.xlsx")
        assert report.file_format == "xlsx"
        _assert_good_import(report, east, west)


def test_two_bad_rows_are_both_reported_and_nothing_is_written(county_a) -> None:
    with schema_context(county_a.schema_name):
        township, east, _west = _places()
        data = _csv(
            township,
            "王秀英,党员,{t},东关村,女,,,,",
            "李建国,村干部,{t},东关村,男,,,,",  # row 3: bad category
            "张桂英,党员,{t},东关村,女,,,,",
            "刘德明,村民代表,{t},不存在村,男,,,,",  # row 5: unknown village
        ).encode("utf-8")
        report = import_roster(data, filename="roster.csv")
        assert not report.ok
        assert (report.created, report.updated) == (0, 0)
        assert [(e.row, e.code) for e in report.errors] == [(3, "invalid_category"), (5, "village_not_found")]
        assert report.errors[0].message == "第3行: 身份类别无效（应为 党员、村民代表 或 列席）"
        assert report.errors[1].message.startswith("第5行: ")
        assert "未写入任何数据" in report.summary()
        assert RosterMember.objects.filter(village__township__name=township).count() == 0


def test_missing_columns_is_a_file_error(county_a) -> None:
    with schema_context(county_a.schema_name):
        report = import_roster("姓名,性别\n王秀英,女\n".encode(), filename="roster.csv")
        assert [e.code for e in report.errors] == ["missing_columns"]
        assert report.errors[0].row is None
        assert "身份类别" in report.errors[0].message and "乡镇" in report.errors[0].message


@pytest.mark.parametrize(
    ("data", "filename", "code"),
    [
        (b"", "roster.csv", "empty_file"),
        (b"\xef\xbb\xbf\r\n", "roster.csv", "empty_file"),
        (b"name\n", "roster.pdf", "unsupported_format"),
        (b"\xd0\xcf\x11\xe0 old excel", "roster.xls", "unsupported_format"),
        (b"not a zip", "roster.xlsx", "unreadable_file"),
        (b"a" * (MAX_BYTES + 1), "roster.csv", "file_too_large"),
        ("姓名,身份类别,乡镇,村\n".encode(), "roster.csv", "no_rows"),
    ],
)
def test_file_level_errors(county_a, data: bytes, filename: str, code: str) -> None:
    with schema_context(county_a.schema_name):
        report = import_roster(data, filename=filename)
        assert [e.code for e in report.errors] == [code]


def test_row_validation_codes(county_a) -> None:
    with schema_context(county_a.schema_name):
        township, _east, _west = _places()
        data = _csv(
            township,
            ",党员,{t},东关村,,,,,",  # 2: no name
            "甲,列席,{t},东关村,,,,,",  # 3: guest without kind
            "乙,党员,{t},东关村,,,,群团组织,",  # 4: kind for a non-guest
            "丙,党员,{t},东关村,未知,12ab,12345,,",  # 5: gender, phone, id suffix
            "丁,党员,不存在镇,东关村,,,,,",  # 6: unknown township
            "戊,党员,{t},东关村,,,,,",
            "戊,党员,{t},东关村,,,,,",  # 8: duplicate of row 7
        ).encode()
        report = import_roster(data, filename="r.csv")
        assert [(e.row, e.code) for e in report.errors] == [
            (2, "name_required"),
            (3, "guest_kind_required"),
            (4, "guest_kind_not_allowed"),
            (5, "invalid_gender"),
            (5, "invalid_phone"),
            (5, "invalid_id_suffix"),
            (6, "township_not_found"),
            (8, "duplicate_in_file"),
        ]
        assert report.errors[-1].message.startswith("第8行: 与第7行重复")
        assert not RosterMember.objects.filter(village__township__name=township).exists()


def test_reimport_updates_instead_of_duplicating_and_namesakes_need_an_id_suffix(county_a) -> None:
    with schema_context(county_a.schema_name):
        township, east, _west = _places()
        assert import_roster(_csv(township, *GOOD).encode(), filename="r.csv").ok
        again = import_roster(_csv(township, "李建国,村民代表,{t},东关村,男,13900139000,,,").encode(), filename="r.csv")
        assert again.ok and (again.created, again.updated) == (0, 1)
        li = RosterMember.objects.get(village=east, name="李建国")
        assert li.phone == "13900139000" and li.gender == "male"
        # A second 李建国 (a namesake) is added with his ID suffix; after that a row without one is ambiguous.
        namesake = import_roster(_csv(township, "李建国,村民代表,{t},东关村,男,,4567,,").encode(), filename="r.csv")
        assert namesake.ok and (namesake.created, namesake.updated) == (0, 1)  # the only one without a suffix gets it
        other = import_roster(_csv(township, "李建国,村民代表,{t},东关村,男,,8901,,").encode(), filename="r.csv")
        assert other.ok and (other.created, other.updated) == (1, 0)
        ambiguous = import_roster(_csv(township, "李建国,村民代表,{t},东关村,男,,,,").encode(), filename="r.csv")
        assert [e.code for e in ambiguous.errors] == ["ambiguous_existing"]
        assert RosterMember.objects.filter(village=east, name="李建国").count() == 2


def test_fixed_village_and_dry_run(county_a) -> None:
    with schema_context(county_a.schema_name):
        _township, east, _west = _places()
        data = "姓名,身份类别\n王秀英,党员\n李建国,村民代表\n".encode()
        dry = import_roster(data, filename="东关村.csv", village=east, dry_run=True)
        assert dry.ok and dry.created == 2 and not dry.written
        assert RosterMember.objects.filter(village=east).count() == 0
        real = import_roster(data, filename="东关村.csv", village=east)
        assert real.ok and real.created == 2 and real.written
        assert RosterMember.objects.filter(village=east).count() == 2


def test_imported_into_county_a_is_invisible_in_county_b(county_a, county_b) -> None:
    suffix = uuid.uuid4().hex[:6]
    with schema_context(county_a.schema_name):
        township, east, _west = _places(suffix)
        assert import_roster(_csv(township, *GOOD).encode(), filename="r.csv").created == 4
        assert RosterMember.objects.filter(village__township__name=township).count() == 4
    with schema_context(county_b.schema_name):
        assert not RosterMember.objects.filter(village__township__name=township).exists()
        assert not RosterMember.objects.filter(name="王秀英", village__name="东关村", id_suffix="0123").exists()
        # The same file in county B fails: its townships are county A's, not B's.
        report = import_roster(_csv(township, *GOOD).encode(), filename="r.csv")
        assert {e.code for e in report.errors} == {"township_not_found"}
