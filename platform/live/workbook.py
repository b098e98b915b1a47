"""A round's announced results as an Excel workbook (.xlsx, openpyxl), for the county's files.

The numbers are the ResultsAnnounced payloads as the meeting board keeps
them (meetings.desks.round_results): exactly what each meeting announced,
per subject, and per voter category where the results carry the split
(双评: Party members and village representatives tallied separately; a
category too small to be shown alone is pooled, and its row says with whom).
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from meetings.desks import CATEGORY_NAMES, grade_names, scale_of
from meetings.domain.errors import RulesInvalid
from meetings.domain.groups import (
    ELIGIBLE_RULE_EN,
    ELIGIBLE_RULE_ZH,
    PARTICIPATION_RULE_EN,
    PARTICIPATION_RULE_ZH,
    score_formula,
)
from meetings.domain.rules import Rules

HEAD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="E8EEF7")
FLAG_FILL = PatternFill("solid", fgColor="FCE4E4")
PARTICIPATION = (
    f"{PARTICIPATION_RULE_ZH}（{ELIGIBLE_RULE_ZH}）。 / {PARTICIPATION_RULE_EN} ({ELIGIBLE_RULE_EN})."
)
GROUPS = (
    "分类统计：党员与村民代表分别计票；人数少于最小分组人数的类别并入合并组，以免推知个人投票。"
    " / Per category: Party members and representatives are tallied separately; a category smaller than"
    " the minimum group size is pooled so that no single ballot can be inferred."
)


def category_label(group_id: str, categories: list[str]) -> str:
    zh, en = CATEGORY_NAMES.get(group_id, (group_id, group_id))
    if group_id == "other" or len(categories) > 1:
        members = "、".join(CATEGORY_NAMES.get(c, (c, c))[0] for c in categories)
        return f"{zh}（{members}）/ {en}"
    return f"{zh} / {en}"


def _columns(rules: dict[str, Any], meetings: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(criterion, grade) pairs: the rules' order first, then anything else the results hold."""
    criteria = [c["id"] for c in rules.get("criteria") or []]
    grades = [g["id"] for g in grade_names(rules)]
    seen: list[tuple[str, str]] = [(c, g) for c in criteria for g in grades]
    for meeting in meetings:
        for subject in meeting["results"]["subjects"]:
            for criterion, counts in subject["counts"].items():
                for grade in counts:
                    if (criterion, grade) not in seen:
                        seen.append((criterion, grade))
    return seen


def round_workbook(data: dict[str, Any]) -> bytes:
    """The workbook of one round (meetings.desks.round_results): results, meetings, notes."""
    rules = data["rules"] or {}
    meetings = data["meetings"]
    criterion_names = {c["id"]: c.get("name_zh", c["id"]) for c in rules.get("criteria") or []}
    grade_zh = {g["id"]: g.get("name_zh", g["id"]) for g in grade_names(rules)}
    columns = _columns(rules, meetings)

    book = Workbook()
    sheet = book.active
    sheet.title = "测评结果"
    sheet.append([f"{data['name']}（{data['year']}年）测评结果 / results"])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([GROUPS])
    sheet.append([])
    header = ["乡镇 / Township", "村（社区）/ Village", "会议 / Meeting", "会议编号 / Meeting id",
              "述评对象 / Subject", "对象编号 / Subject id", "类别 / Category", "票数 / Ballots"]
    header += [f"{criterion_names.get(c, c)}·{grade_zh.get(g, g)}" for c, g in columns]
    # Each subject's rates are those of its own scale (好评率/差评率 for bodies, 称职率/不称职率
    # for persons in 双述双评): the scale column says which.
    header += ["评价等次 / Scale", "好评率（称职率、满意率）/ Favourable", "差评率（不称职率、不满意率）/ Unfavourable",
               "得分 / Score", "诫勉谈话 / Flagged"]
    sheet.append(header)
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font, cell.fill = HEAD, HEAD_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for meeting in meetings:
        place = [meeting["township"], meeting["village"], meeting["title"], meeting["meeting_id"]]
        for subject in meeting["results"]["subjects"]:
            who = [subject["name"], subject["subject_id"]]
            total = [*place, *who, "全体 / All", subject["ballots"]]
            total += [subject["counts"].get(c, {}).get(g, 0) for c, g in columns]
            total += [scale_of(rules, subject.get("scale_id")).get("name_zh", ""),
                      subject["favourable_percent"], subject["unfavourable_percent"], subject["score"],
                      "是 / yes" if subject["flagged"] else "否 / no"]
            sheet.append(total)
            if subject["flagged"]:
                for cell in sheet[sheet.max_row]:
                    cell.fill = FLAG_FILL
            for group in subject["groups"]:
                row = [*place, *who, category_label(group["group_id"], group["categories"]), group["ballots"]]
                row += [group["counts"].get(c, {}).get(g, 0) for c, g in columns]
                sheet.append(row)
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=6)
    _widths(sheet, [10, 12, 28, 18, 22, 12, 22, 8] + [9] * len(columns) + [18, 12, 12, 8, 10])

    summary = book.create_sheet("会议")
    summary.append(["乡镇 / Township", "村（社区）/ Village", "会议 / Meeting", "会议编号 / Meeting id",
                    "计入票数 / Counted", "手机票 / Phone", "纸质票 / Paper", "应参评人数 / Eligible",
                    f"{PARTICIPATION_RULE_ZH} / Participation", "需诫勉谈话 / Flagged", "日志末端哈希 / Log head hash"])
    for cell in summary[1]:
        cell.font, cell.fill = HEAD, HEAD_FILL
    for meeting in meetings:
        results = meeting["results"]
        flagged = "、".join(s["name"] for s in results["subjects"] if s["flagged"])
        summary.append([meeting["township"], meeting["village"], meeting["title"], meeting["meeting_id"],
                        results["ballots_counted"], results["phone_ballots"], results["paper_ballots"],
                        results["eligible"], results["participation_percent"], flagged, meeting["head_hash"]])
    _widths(summary, [10, 12, 28, 18, 10, 10, 10, 12, 12, 24, 66])

    notes = book.create_sheet("说明")
    for line in (PARTICIPATION, GROUPS, *_formula(rules),
                 "只含已公布结果的会议；数字即各会议公布时记录在日志中的结果。"
                 " / Only meetings whose results were announced; the numbers are those recorded in each log."):
        notes.append([line])
    _widths(notes, [140])

    out = BytesIO()
    book.save(out)
    return out.getvalue()


def _formula(rules: dict[str, Any]) -> list[str]:
    """The score's formula under the round's rules (zh / en), or nothing for rules this version cannot read."""
    try:
        zh, en = score_formula(Rules.from_data(rules))
    except RulesInvalid:
        return []
    return [f"{zh} / {en}"]


def _widths(sheet: Any, widths: list[int]) -> None:
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
