"""Import a roster (花名册) of Party members, village representatives and guests from CSV or Excel.

    report = import_roster(upload, filename=upload.name)            # 乡镇 and 村 columns say where
    report = import_roster(upload, filename="东关村.xlsx", village=v)  # every row belongs to `v`

Formats: .xlsx (first sheet) and .csv (UTF-8 with or without BOM, or
GB18030/GBK as Chinese Excel saves it; comma, semicolon or tab separated).
The header row may sit below a title row (searched in the first 10 rows).
Headers are Chinese or English (see COLUMNS); unknown columns are ignored.
Reading the file into rows (limits, encoding, header row) is
meetings.roster_file; this module validates the rows, plans and writes.

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

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.db import connection, transaction

from common.county import current_schema
from meetings.models import Gender, GuestKind, RosterMember, Township, Village, VoterCategory
from meetings.roster_file import (
    COLUMNS,
    HEADER_SEARCH_ROWS,
    MAX_BYTES,
    MAX_ROWS,
    ImportIssue,
    ImportReport,
    RosterFileError,
    RosterRow,
    read_roster,
)

# The limits, COLUMNS and the report types live with the reading; callers
# keep importing them from here.
__all__ = [
    "CATEGORY_VALUES",
    "COLUMNS",
    "GENDER_VALUES",
    "GUEST_KIND_VALUES",
    "HEADER_SEARCH_ROWS",
    "MAX_BYTES",
    "MAX_ROWS",
    "ImportIssue",
    "ImportReport",
    "import_roster",
]

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
    row: RosterRow, places: _Places | None, fixed_village: Village | None, errors: list[ImportIssue]
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
        rows = read_roster(file, filename=filename, report=report, need_place=village is None)
    except RosterFileError as problem:
        report.errors.append(ImportIssue(problem.code, problem.message))
        return report
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
