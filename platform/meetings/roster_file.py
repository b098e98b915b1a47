"""Read a roster file (花名册) into rows: CSV (UTF-8 or GB18030/GBK) or .xlsx.

    rows = read_roster(upload, filename=upload.name, report=report, need_place=True)

This module promises rows of text keyed by field, nothing more: it enforces
the size limits (MAX_BYTES, MAX_ROWS, MAX_CELL_CHARS; no NUL or lone
surrogate in any cell), detects the format and the text
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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

MAX_BYTES = 5 * 1024 * 1024
MAX_ROWS = 20_000
HEADER_SEARCH_ROWS = 10
# No cell of a roster needs more (the longest stored field, 单位, has 80);
# a longer one is refused with its row number instead of flowing into
# messages and the database. The csv module has a limit of its own per field
# (csv.field_size_limit, 131,072 characters by default, process-wide): a
# field past it stops the reader early, and is refused the same way.
MAX_CELL_CHARS = 500
# A NUL (PostgreSQL refuses it in text) or a lone surrogate (UTF-8 cannot encode it).
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")

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
    # A file that says what it is (a byte order mark) is held to it; one that
    # does not is tried as UTF-8, then as GB18030 (which GBK files are too).
    if data.startswith(b"\xef\xbb\xbf"):
        candidates = [("utf-8-sig", "utf-8-sig")]
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = [("utf-16", "utf-16")]  # strict: a lone surrogate is an error, not a character
    else:
        candidates = [("utf-8", "utf-8"), ("gb18030", "gb18030")]
    for codec, name in candidates:
        try:
            return data.decode(codec), name
        except UnicodeDecodeError:
            continue
    raise RosterFileError(
        "bad_encoding",
        "无法识别文件编码：请用 Excel 另存为“CSV UTF-8”或 .xlsx。 / unknown text encoding: save as CSV UTF-8 or .xlsx.",
    )


def _csv_rows(text: str) -> Iterator[list[str]]:
    first_line = text.split("\n", 1)[0]
    delimiter = max([",", "\t", ";"], key=first_line.count)
    if first_line.count(delimiter) == 0:
        delimiter = ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows_read = 0
    try:
        for row in reader:
            rows_read += 1
            yield row
    except csv.Error:  # a field past csv.field_size_limit
        raise _cell_too_long(rows_read + 1) from None


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
    except Exception as exc:  # noqa: BLE001 - a hostile file makes openpyxl raise anything (zip, XML, types)
        raise RosterFileError(
            "unreadable_file",
            "无法读取该 Excel 文件：文件可能已损坏。 / the Excel file cannot be read.",
        ) from exc
    try:
        sheet = workbook.worksheets[0] if workbook.worksheets else None
        if sheet is None:
            return
        rows = sheet.iter_rows(values_only=True)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # noqa: BLE001 - whatever a broken sheet makes openpyxl or its XML parser raise
                raise RosterFileError(
                    "unreadable_file",
                    "无法读取该 Excel 文件：文件可能已损坏。 / the Excel file cannot be read.",
                ) from exc
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


def _cell_too_long(number: int) -> RosterFileError:
    return RosterFileError(
        "cell_too_long",
        f"第{number}行: 单元格内容过长（每格最多 {MAX_CELL_CHARS} 个字符）。 / row {number}: a cell is longer than {MAX_CELL_CHARS} characters.",
    )


def _checked(rows: Iterable[tuple[int, list[Any]]]) -> Iterator[tuple[int, list[Any]]]:
    """The rows, each cell within MAX_CELL_CHARS and free of NUL and lone surrogates, or RosterFileError."""
    for number, cells in rows:
        for cell in cells:
            text = _cell_text(cell)
            if len(text) > MAX_CELL_CHARS:
                raise _cell_too_long(number)
            if _BAD_CHARACTER.search(text):
                raise RosterFileError(
                    "invalid_characters",
                    f"第{number}行: 含有不允许的字符（空字符或无效字符），请删除后重新导入。 / row {number}: a cell holds a NUL or an invalid character.",
                )
        yield number, cells


def _table(data: bytes, file_format: str, report: ImportReport) -> Iterator[tuple[int, list[Any]]]:
    """(row number as Excel shows it, cells) for each row of the sheet; every cell checked (_checked)."""
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
    yield from _checked(enumerate(rows, start=1))


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

