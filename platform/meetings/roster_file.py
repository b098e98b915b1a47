"""Read a roster file (花名册) into rows: CSV (UTF-8 or GB18030/GBK) or .xlsx.

    rows = read_roster(upload, filename=upload.name, report=report, need_place=True)

This module promises rows of text keyed by field, nothing more: it enforces
the size limits (MAX_BYTES, MAX_ROWS), detects the format and the text
encoding, reads the first sheet of an .xlsx or a CSV with comma, semicolon or
tab separators, finds the header row (within the first HEADER_SEARCH_ROWS
rows, Chinese or English names, see COLUMNS), checks that the required
columns are there and drops blank rows. A problem with the file as a whole
raises RosterFileError. Whether a row's values make sense, and who is already
on the roster, is meetings.roster_import's business.

Plain Python (openpyxl for .xlsx): no Django, no database.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
HEADER_SEARCH_ROWS = 10

# field -> (Chinese name for messages, accepted headers after _norm_header)
COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": ("姓名", ("姓名", "名字", "name", "fullname")),
    "category": ("身份类别", ("身份类别", "身份", "类别", "人员类别", "category", "type", "role")),
    "township": ("乡镇", ("乡镇", "乡镇街道", "乡镇(街道)", "街道", "township", "town")),
    "village": ("村", ("村", "村社区", "村(社区)", "社区", "村名", "村居", "village", "community")),
    "gender": ("性别", ("性别", "gender", "sex")),
    "phone": (
        "联系电话",
        ("联系电话", "电话", "手机", "手机号", "手机号码", "联系方式", "phone", "mobile", "tel"),
    ),
    "id_suffix": (
        "证件号后四位",
        (
            "证件号后四位",
            "身份证后四位",
            "身份证号后四位",
            "证件号码后四位",
            "idsuffix",
            "idlast4",
            "id_suffix",
            "id_last4",
        ),
    ),
    "guest_kind": (
        "列席类别",
        (
            "列席类别",
            "列席类型",
            "列席人员类别",
            "guestkind",
            "guest_kind",
            "guesttype",
            "guest_type",
        ),
    ),
    "affiliation": (
        "单位",
        ("单位", "所在单位", "工作单位", "affiliation", "organization", "organisation"),
    ),
}
_HEADER_TO_FIELD = {alias: key for key, (_zh, aliases) in COLUMNS.items() for alias in aliases}


@dataclass(frozen=True)
class ImportIssue:
    """One problem: `row` is the row number Excel shows (None for the whole file)."""

    code: str
    message: str
    row: int | None = None
    column: str | None = None


@dataclass
class ImportReport:
    """What an import found and did; reading fills in format, encoding and warnings."""

    filename: str
    file_format: str = ""
    encoding: str = ""
    dry_run: bool = False
    rows: int = 0  # data rows read (blank rows skipped)
    created: int = 0
    updated: int = 0
    errors: list[ImportIssue] = field(default_factory=list)
    warnings: list[ImportIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def written(self) -> bool:
        return self.ok and not self.dry_run and (self.created + self.updated) > 0

    def summary(self) -> str:
        if self.errors:
            return f"导入失败：发现 {len(self.errors)} 处错误，未写入任何数据。 / import failed: {len(self.errors)} errors, nothing written."
        verb = "将新增" if self.dry_run else "新增"
        return f"{verb} {self.created} 人，更新 {self.updated} 人（共 {self.rows} 行）。 / created {self.created}, updated {self.updated} of {self.rows} rows."


class RosterFileError(Exception):
    """The file as a whole cannot be imported; `code` is stable, `message` says why (zh / en)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class RosterRow:
    """One non-blank data row: its number as Excel shows it, cell text by field (NFKC, stripped)."""

    number: int
    values: dict[str, str]


# --------------------------------------------------------------------------- reading


def read_roster(
    file: bytes | str | Path | IO[bytes], *, filename: str, report: ImportReport, need_place: bool
) -> list[RosterRow]:
    """Read the file's data rows; fill in report.file_format, .encoding and .warnings.

    Raise RosterFileError when the file as a whole cannot be imported: too
    large, empty, an unsupported format or encoding, no header row, missing
    required columns (township and village too when `need_place`), no data
    rows, too many rows.
    """
    data = _read_bytes(file)
    if not data.strip(b"\xef\xbb\xbf \r\n\t"):
        raise RosterFileError("empty_file", "文件为空。 / the file is empty.")
    report.file_format = _detect_format(filename, data)
    return _parse(data, report.file_format, report, need_place=need_place)


def _read_bytes(file: bytes | str | Path | IO[bytes]) -> bytes:
    if isinstance(file, bytes):
        data = file
    elif isinstance(file, (str, Path)):
        with open(file, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    else:
        if hasattr(file, "seek"):
            try:
                file.seek(0)
            except (OSError, ValueError):
                pass
        data = file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise RosterFileError(
            "file_too_large",
            f"文件过大：不能超过 {MAX_BYTES // (1024 * 1024)} MB。 / file larger than {MAX_BYTES // (1024 * 1024)} MB.",
        )
    return data


def _decode_csv(data: bytes) -> tuple[str, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise RosterFileError(
            "bad_encoding",
            "无法识别文件编码：请用 Excel 另存为“CSV UTF-8”或 .xlsx。 / unknown text encoding: save as CSV UTF-8 or .xlsx.",
        ) from exc


def _csv_rows(text: str) -> Iterator[list[str]]:
    first_line = text.split("\n", 1)[0]
    delimiter = max([",", "\t", ";"], key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ","
    yield from csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)


def _cell_text(value: Any, field_name: str | None = None) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        text = str(value)
        if field_name == "id_suffix" and len(text) < 4:
            text = text.zfill(4)  # Excel drops leading zeros of numbers: 0123 -> 123
        return text
    return str(value)


def _xlsx_rows(data: bytes) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise RosterFileError(
            "unreadable_file",
            "无法读取该 Excel 文件：文件可能已损坏。 / the Excel file cannot be read.",
        ) from exc
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            return
        for row in sheet.iter_rows(values_only=True):
            yield list(row)
    finally:
        workbook.close()


def _norm_header(value: Any) -> str:
    text = unicodedata.normalize("NFKC", _cell_text(value)).strip().lower()
    text = re.sub(r"[\s*＊]+", "", text)
    text = re.sub(r"\((选填|可选|必填|optional|required)\)$", "", text)
    return text


def _norm_value(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip()


def _detect_format(filename: str, data: bytes) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix == ".xls" or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise RosterFileError(
            "unsupported_format",
            "不支持旧版 .xls 文件：请在 Excel 中另存为 .xlsx 或 CSV。 / .xls is not supported: save as .xlsx or CSV.",
        )
    raise RosterFileError(
        "unsupported_format",
        f"不支持的文件格式“{suffix or filename}”：请上传 .xlsx 或 .csv 文件。 / unsupported format: upload .xlsx or .csv.",
    )


def _table(data: bytes, file_format: str, report: ImportReport) -> Iterator[tuple[int, list[Any]]]:
    """(row number as Excel shows it, cells) for each row of the sheet."""
    if file_format == "xlsx":
        if not data.startswith(b"PK"):
            raise RosterFileError(
                "unreadable_file", "该文件不是有效的 .xlsx 文件。 / not a valid .xlsx file."
            )
        report.encoding = "xlsx"
        rows: Iterable[list[Any]] = _xlsx_rows(data)
    else:
        text, report.encoding = _decode_csv(data)
        rows = _csv_rows(text)
    yield from enumerate(rows, start=1)


def _parse(data: bytes, file_format: str, report: ImportReport, *, need_place: bool) -> list[RosterRow]:
    table = _table(data, file_format, report)
    header: dict[int, str] | None = None
    header_row = 0
    unknown: list[str] = []
    seen_content = False
    for number, cells in table:
        seen_content = seen_content or any(_cell_text(c).strip() for c in cells)
        mapped = {i: _HEADER_TO_FIELD.get(_norm_header(c), "") for i, c in enumerate(cells)}
        if "name" in mapped.values():
            header, header_row = {}, number
            for index, key in mapped.items():
                if not key:
                    if _norm_header(cells[index]):
                        unknown.append(_cell_text(cells[index]).strip())
                    continue
                if key in header.values():
                    raise RosterFileError(
                        "duplicate_column",
                        f"第{number}行: 列“{COLUMNS[key][0]}”出现了两次。 / column {key} appears twice.",
                    )
                header[index] = key
            break
        if number >= HEADER_SEARCH_ROWS:
            break
    if header is None:
        if not seen_content:
            raise RosterFileError("empty_file", "文件为空。 / the file is empty.")
        raise RosterFileError(
            "missing_columns",
            "未找到表头：前 10 行中没有“姓名”列。 / no header row with a 姓名 (name) column in the first 10 rows.",
        )
    required = ["name", "category"] + (["township", "village"] if need_place else [])
    missing = [COLUMNS[key][0] for key in required if key not in header.values()]
    if missing:
        raise RosterFileError(
            "missing_columns",
            f"缺少必填列：{'、'.join(missing)}。 / missing required columns: {', '.join(missing)}.",
        )
    if unknown:
        report.warnings.append(
            ImportIssue(
                "ignored_columns",
                f"以下列未识别，已忽略：{'、'.join(unknown)}。 / ignored unknown columns.",
                header_row,
            )
        )
    rows: list[RosterRow] = []
    for number, cells in table:
        values = {
            key: _norm_value(_cell_text(cells[i], key))
            for i, key in header.items()
            if i < len(cells)
        }
        if not any(values.values()):
            continue  # blank row
        rows.append(RosterRow(number, values))
        if len(rows) > MAX_ROWS:
            raise RosterFileError(
                "too_many_rows",
                f"行数过多：一次最多导入 {MAX_ROWS} 行。 / more than {MAX_ROWS} rows.",
            )
    if not rows:
        raise RosterFileError("no_rows", "文件中没有数据行。 / the file has no data rows.")
    return rows

