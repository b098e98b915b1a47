"""Import a roster (花名册) of Party members, village representatives and guests from CSV or Excel.

    report = import_roster(upload, filename=upload.name)            # 乡镇 and 村 columns say where
    report = import_roster(upload, filename="东关村.xlsx", village=v)  # every row belongs to `v`

Formats: .xlsx (first sheet) and .csv (UTF-8 with or without BOM, or
GB18030/GBK as Chinese Excel saves it; comma, semicolon or tab separated).
The header row may sit below a title row (searched in the first 10 rows).
Headers are Chinese or English (see COLUMNS); unknown columns are ignored.

All or nothing: every row is validated first; if any row or the file has an
error, nothing is written, and the report lists every error with the row number
as Excel shows it and a stable code. The writes run in one transaction in the
current county schema (the caller selects the county).

Duplicates, the rule:
- A person is identified by village + category + name + 证件号后四位 (blank
  if not given). The same person twice in one file is an error
  (`duplicate_in_file`), naming both rows.
- A person already on the roster is updated, not duplicated: the file's
  non-blank values (gender, phone, ID suffix, guest kind, affiliation)
  overwrite the stored ones; blank cells keep what is stored. If the name
  matches several people already on the roster and the file gives no ID suffix
  that tells them apart, the row is an error (`ambiguous_existing`).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from django.db import connection, transaction

from common.county import current_schema
from meetings.models import Gender, GuestKind, RosterMember, Township, Village, VoterCategory

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

CATEGORY_VALUES = {
    "党员": VoterCategory.PARTY_MEMBER,
    "中共党员": VoterCategory.PARTY_MEMBER,
    "正式党员": VoterCategory.PARTY_MEMBER,
    "预备党员": VoterCategory.PARTY_MEMBER,
    "partymember": VoterCategory.PARTY_MEMBER,
    "party_member": VoterCategory.PARTY_MEMBER,
    "村民代表": VoterCategory.REPRESENTATIVE,
    "居民代表": VoterCategory.REPRESENTATIVE,
    "代表": VoterCategory.REPRESENTATIVE,
    "representative": VoterCategory.REPRESENTATIVE,
    "列席": VoterCategory.GUEST,
    "列席人员": VoterCategory.GUEST,
    "列席代表": VoterCategory.GUEST,
    "guest": VoterCategory.GUEST,
}
GUEST_KIND_VALUES = {
    "群团组织": GuestKind.MASS_ORGANIZATION,
    "群团": GuestKind.MASS_ORGANIZATION,
    "massorganization": GuestKind.MASS_ORGANIZATION,
    "mass_organization": GuestKind.MASS_ORGANIZATION,
    "驻村企业": GuestKind.ENTERPRISE,
    "企业": GuestKind.ENTERPRISE,
    "enterprise": GuestKind.ENTERPRISE,
    "扶贫工作队": GuestKind.POVERTY_TEAM,
    "驻村工作队": GuestKind.POVERTY_TEAM,
    "工作队": GuestKind.POVERTY_TEAM,
    "povertyteam": GuestKind.POVERTY_TEAM,
    "poverty_team": GuestKind.POVERTY_TEAM,
    "结对部门": GuestKind.PAIRED_DEPARTMENT,
    "结对帮扶单位": GuestKind.PAIRED_DEPARTMENT,
    "结对单位": GuestKind.PAIRED_DEPARTMENT,
    "paireddepartment": GuestKind.PAIRED_DEPARTMENT,
    "paired_department": GuestKind.PAIRED_DEPARTMENT,
    "两代表一委员": GuestKind.DEPUTY,
    "党代表": GuestKind.DEPUTY,
    "人大代表": GuestKind.DEPUTY,
    "政协委员": GuestKind.DEPUTY,
    "deputy": GuestKind.DEPUTY,
}
GENDER_VALUES = {
    "男": Gender.MALE,
    "male": Gender.MALE,
    "m": Gender.MALE,
    "女": Gender.FEMALE,
    "female": Gender.FEMALE,
    "f": Gender.FEMALE,
}

_PHONE = re.compile(r"^(\+?86)?\d{7,12}$")
_ID_SUFFIX = re.compile(r"^\d{3}[\dX]$")
_NAME_MAX = RosterMember._meta.get_field("name").max_length or 50
_AFFILIATION_MAX = RosterMember._meta.get_field("affiliation").max_length or 80


@dataclass(frozen=True)
class ImportIssue:
    """One problem: `row` is the row number Excel shows (None for the whole file)."""

    code: str
    message: str
    row: int | None = None
    column: str | None = None


@dataclass
class ImportReport:
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

    def _file_error(self, code: str, message: str) -> ImportReport:
        self.errors.append(ImportIssue(code, message))
        return self


class _FileProblem(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Row:
    number: int
    values: dict[str, str]


# --------------------------------------------------------------------------- reading


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
        raise _FileProblem(
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
        raise _FileProblem(
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
        raise _FileProblem(
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
        raise _FileProblem(
            "unsupported_format",
            "不支持旧版 .xls 文件：请在 Excel 中另存为 .xlsx 或 CSV。 / .xls is not supported: save as .xlsx or CSV.",
        )
    raise _FileProblem(
        "unsupported_format",
        f"不支持的文件格式“{suffix or filename}”：请上传 .xlsx 或 .csv 文件。 / unsupported format: upload .xlsx or .csv.",
    )


def _table(data: bytes, file_format: str, report: ImportReport) -> Iterator[tuple[int, list[Any]]]:
    """(row number as Excel shows it, cells) for each row of the sheet."""
    if file_format == "xlsx":
        if not data.startswith(b"PK"):
            raise _FileProblem(
                "unreadable_file", "该文件不是有效的 .xlsx 文件。 / not a valid .xlsx file."
            )
        report.encoding = "xlsx"
        rows: Iterable[list[Any]] = _xlsx_rows(data)
    else:
        text, report.encoding = _decode_csv(data)
        rows = _csv_rows(text)
    yield from enumerate(rows, start=1)


def _parse(data: bytes, file_format: str, report: ImportReport, *, need_place: bool) -> list[_Row]:
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
                    raise _FileProblem(
                        "duplicate_column",
                        f"第{number}行: 列“{COLUMNS[key][0]}”出现了两次。 / column {key} appears twice.",
                    )
                header[index] = key
            break
        if number >= HEADER_SEARCH_ROWS:
            break
    if header is None:
        if not seen_content:
            raise _FileProblem("empty_file", "文件为空。 / the file is empty.")
        raise _FileProblem(
            "missing_columns",
            "未找到表头：前 10 行中没有“姓名”列。 / no header row with a 姓名 (name) column in the first 10 rows.",
        )
    required = ["name", "category"] + (["township", "village"] if need_place else [])
    missing = [COLUMNS[key][0] for key in required if key not in header.values()]
    if missing:
        raise _FileProblem(
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
    rows: list[_Row] = []
    for number, cells in table:
        values = {
            key: _norm_value(_cell_text(cells[i], key))
            for i, key in header.items()
            if i < len(cells)
        }
        if not any(values.values()):
            continue  # blank row
        rows.append(_Row(number, values))
        if len(rows) > MAX_ROWS:
            raise _FileProblem(
                "too_many_rows",
                f"行数过多：一次最多导入 {MAX_ROWS} 行。 / more than {MAX_ROWS} rows.",
            )
    if not rows:
        raise _FileProblem("no_rows", "文件中没有数据行。 / the file has no data rows.")
    return rows


# --------------------------------------------------------------------------- validating


@dataclass
class _Person:
    row: int
    village: Village
    name: str
    category: str
    guest_kind: str
    affiliation: str
    gender: str
    phone: str
    id_suffix: str


def _choices_text(values: Iterable[str]) -> str:
    items = list(values)
    return "、".join(items[:-1]) + " 或 " + items[-1] if len(items) > 1 else "".join(items)


_GUEST_KINDS_ZH = _choices_text(str(label).split(" / ")[0] for label in GuestKind.labels)


class _Places:
    """The county's townships and villages, looked up by name."""

    def __init__(self) -> None:
        self.townships = {t.name: t for t in Township.objects.all()}
        self.villages: dict[tuple[int, str], Village] = {}
        self.by_village_name: dict[str, list[Village]] = {}
        for village in Village.objects.select_related("township"):
            self.villages[(village.township_id, village.name)] = village
            self.by_village_name.setdefault(village.name, []).append(village)


def _validate_row(
    row: _Row, places: _Places | None, fixed_village: Village | None, errors: list[ImportIssue]
) -> _Person | None:
    n = row.number
    v = row.values
    before = len(errors)

    def err(code: str, message: str, column: str | None = None) -> None:
        errors.append(ImportIssue(code, f"第{n}行: {message}", n, column))

    name = re.sub(r"\s+", "", v.get("name", ""))  # 王 秀英 (aligned in Excel) is 王秀英
    if not name:
        err("name_required", "姓名不能为空", "姓名")
    elif len(name) > _NAME_MAX:
        err("name_too_long", f"姓名过长（最多 {_NAME_MAX} 个字）", "姓名")

    raw_category = v.get("category", "")
    category = CATEGORY_VALUES.get(raw_category.lower().replace(" ", ""), "")
    if not raw_category:
        err("category_required", "身份类别不能为空（应为 党员、村民代表 或 列席）", "身份类别")
    elif not category:
        err("invalid_category", "身份类别无效（应为 党员、村民代表 或 列席）", "身份类别")

    raw_kind = v.get("guest_kind", "")
    guest_kind = GUEST_KIND_VALUES.get(raw_kind.lower().replace(" ", ""), "")
    if raw_kind and not guest_kind:
        err("invalid_guest_kind", f"列席类别无效（应为 {_GUEST_KINDS_ZH}）", "列席类别")
    elif category == VoterCategory.GUEST and not raw_kind:
        err("guest_kind_required", f"列席人员须填写列席类别（{_GUEST_KINDS_ZH}）", "列席类别")
    elif category and category != VoterCategory.GUEST and raw_kind:
        err("guest_kind_not_allowed", "只有列席人员才填写列席类别", "列席类别")

    raw_gender = v.get("gender", "")
    gender = GENDER_VALUES.get(raw_gender.lower(), "")
    if raw_gender and not gender:
        err("invalid_gender", "性别无效（应为 男 或 女）", "性别")

    phone = re.sub(r"[\s\-()]", "", v.get("phone", ""))
    if phone and not _PHONE.match(phone):
        err("invalid_phone", "联系电话格式无效", "联系电话")

    id_suffix = v.get("id_suffix", "").upper()
    if id_suffix and not _ID_SUFFIX.match(id_suffix):
        err("invalid_id_suffix", "证件号后四位应为 4 位数字（最后一位可为 X）", "证件号后四位")

    affiliation = v.get("affiliation", "")
    if len(affiliation) > _AFFILIATION_MAX:
        err("affiliation_too_long", f"单位名称过长（最多 {_AFFILIATION_MAX} 个字）", "单位")

    village = _resolve_village(
        v.get("township", ""), v.get("village", ""), places, fixed_village, err
    )
    if len(errors) > before or village is None:
        return None
    return _Person(n, village, name, category, guest_kind, affiliation, gender, phone, id_suffix)


def _resolve_village(
    township_name: str,
    village_name: str,
    places: _Places | None,
    fixed: Village | None,
    err: Callable[..., None],
) -> Village | None:
    if fixed is not None:
        if (village_name and village_name != fixed.name) or (
            township_name and township_name != fixed.township.name
        ):
            err("village_mismatch", f"该行的乡镇/村与所选的“{fixed}”不一致", "村")
            return None
        return fixed
    assert places is not None
    if not village_name:
        err("village_required", "村（社区）不能为空", "村")
        return None
    if township_name:
        township = places.townships.get(township_name)
        if township is None:
            err("township_not_found", f"乡镇“{township_name}”不存在", "乡镇")
            return None
        village = places.villages.get((township.pk, village_name))
        if village is None:
            err("village_not_found", f"乡镇“{township_name}”下没有村（社区）“{village_name}”", "村")
        return village
    matches = places.by_village_name.get(village_name, [])
    if len(matches) == 1:
        return matches[0]
    if not matches:
        err("village_not_found", f"村（社区）“{village_name}”不存在", "村")
    else:
        err("township_required", f"有多个村（社区）名为“{village_name}”，请填写乡镇", "乡镇")
    return None


# --------------------------------------------------------------------------- the import


def import_roster(
    file: bytes | str | Path | IO[bytes],
    *,
    filename: str,
    village: Village | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Validate a roster file and, if every row is valid, write it to the current county's roster.

    `file` is the content (bytes), a path, or a binary file object (e.g. an
    uploaded file). With `village`, every row belongs to that village and the
    乡镇/村 columns may be left out. With `dry_run`, nothing is written but the
    report counts what would be created and updated.
    """
    if current_schema() == "public":
        raise RuntimeError("import_roster must run in a county schema, not in public")
    report = ImportReport(filename=filename, dry_run=dry_run)
    try:
        data = _read_bytes(file)
        if not data.strip(b"\xef\xbb\xbf \r\n\t"):
            return report._file_error("empty_file", "文件为空。 / the file is empty.")
        report.file_format = _detect_format(filename, data)
        rows = _parse(data, report.file_format, report, need_place=village is None)
    except _FileProblem as problem:
        return report._file_error(problem.code, problem.message)
    report.rows = len(rows)

    with transaction.atomic():
        # One import at a time per county: two concurrent imports of the same
        # file would otherwise both create the same new people.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.meetings.roster_import'))"
            )
        places = None if village is not None else _Places()
        people: list[_Person] = []
        for row in rows:
            person = _validate_row(row, places, village, report.errors)
            if person is not None:
                people.append(person)
        to_create, to_update = _plan(people, report.errors)
        if report.errors:
            report.errors.sort(key=lambda issue: issue.row or 0)
            return report
        report.created, report.updated = len(to_create), len(to_update)
        if not dry_run:
            RosterMember.objects.bulk_create(to_create, batch_size=1000)
            RosterMember.objects.bulk_update(
                to_update,
                ["guest_kind", "affiliation", "gender", "phone", "id_suffix"],
                batch_size=1000,
            )
    return report


def _plan(
    people: list[_Person], errors: list[ImportIssue]
) -> tuple[list[RosterMember], list[RosterMember]]:
    """Split valid rows into new members and updates of existing ones; report duplicates."""
    existing: dict[tuple[int, str, str], list[RosterMember]] = {}
    village_ids = {p.village.pk for p in people}
    for member in RosterMember.objects.filter(village_id__in=village_ids):
        existing.setdefault((member.village_id, member.category, member.name), []).append(member)

    seen: dict[tuple[int, str, str, str], int] = {}
    claimed: dict[int, int] = {}  # existing member id -> row that updates it
    to_create: list[RosterMember] = []
    to_update: list[RosterMember] = []
    label = dict(VoterCategory.choices)
    for p in people:
        key = (p.village.pk, p.category, p.name, p.id_suffix)
        category_zh = label[p.category].split(" / ")[0]
        if key in seen:
            errors.append(
                ImportIssue(
                    "duplicate_in_file",
                    f"第{p.row}行: 与第{seen[key]}行重复（{p.village}、{category_zh}、{p.name}）；同名的不同人员请填写证件号后四位",
                    p.row,
                    "姓名",
                )
            )
            continue
        seen[key] = p.row
        candidates = existing.get((p.village.pk, p.category, p.name), [])
        if p.id_suffix:
            same = [m for m in candidates if m.id_suffix == p.id_suffix]
            candidates = same or [m for m in candidates if not m.id_suffix]
        if len(candidates) > 1:
            errors.append(
                ImportIssue(
                    "ambiguous_existing",
                    f"第{p.row}行: 花名册中已有 {len(candidates)} 名“{p.name}”（{category_zh}），请填写证件号后四位以区分",
                    p.row,
                    "姓名",
                )
            )
            continue
        if candidates:
            member = candidates[0]
            if member.pk in claimed:
                errors.append(
                    ImportIssue(
                        "duplicate_in_file",
                        f"第{p.row}行: 与第{claimed[member.pk]}行是花名册中的同一人（{p.name}）",
                        p.row,
                        "姓名",
                    )
                )
                continue
            claimed[member.pk] = p.row
            for attr in ("guest_kind", "affiliation", "gender", "phone", "id_suffix"):
                value = getattr(p, attr)
                if value:
                    setattr(member, attr, value)
            to_update.append(member)
        else:
            to_create.append(
                RosterMember(
                    village=p.village,
                    name=p.name,
                    category=p.category,
                    guest_kind=p.guest_kind,
                    affiliation=p.affiliation,
                    gender=p.gender,
                    phone=p.phone,
                    id_suffix=p.id_suffix,
                )
            )
    return to_create, to_update
