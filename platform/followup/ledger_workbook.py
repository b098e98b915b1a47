"""The rectification ledger as an Excel workbook (.xlsx, openpyxl), for the county's files.

Sheet 1 holds the summary sentence for the county, each township and each
village; sheet 2 one row per measure (an item without measures gets a row of
its own), with the problem, where it came from, owner, deadline, state and
evidence.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

HEAD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="E8EEF7")


def _header(sheet: Any, names: list[str]) -> None:
    sheet.append(names)
    for cell in sheet[sheet.max_row]:
        cell.font, cell.fill = HEAD, HEAD_FILL


def ledger_workbook(*, county: str, summary: dict[str, Any], items: list[dict[str, Any]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = "整改情况"
    sheet.append([f"{county}整改台账 / rectification ledger"])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append([])
    _header(sheet, ["乡镇 / Township", "村（社区）/ Village", "发现问题 / Problems", "整改措施 / Measures",
                    "已完成 / Done", "正在整改 / In progress", "小结 / Summary"])
    rows = [("全县", "", summary["county"])]
    for township in summary["townships"]:
        rows.append((township["township"], "（合计）", township))
        rows += [(township["township"], v["village"], v) for v in township["villages"]]
    for township_name, village, s in rows:
        sheet.append([township_name, village, s["problems"], s["measures"], s["done"], s["working"], s["sentence"]])
    sheet.column_dimensions["G"].width = 60

    detail = book.create_sheet("整改台账")
    _header(detail, ["事项编号 / Item", "乡镇 / Township", "村（社区）/ Village", "问题来源 / Source", "来源说明 / Reference",
                     "问题 / Problem", "事项状态 / Item state", "措施序号 / No.", "整改措施 / Measure",
                     "责任人 / Owner", "完成时限 / Deadline", "措施状态 / State", "完成日期 / Done on",
                     "整改情况 / Evidence", "佐证文件 / Files"])
    for item in items:
        head = [item["item_id"], item["township"], item["village"], item["source_name"], item["source_ref"],
                item["problem"], item["status_name"]]
        if not item["measures"]:
            detail.append(head)
        for m in item["measures"]:
            detail.append(head + [
                m["measure_no"], m["text"], m["owner"], m["deadline"], m["status_name"], m["completed_on"],
                m["evidence"], "；".join(f"{f['name']} ({f['sha256'][:12]})" for f in m["files"]),
            ])
    for column, width in {"F": 40, "I": 40, "N": 40}.items():
        detail.column_dimensions[column].width = width
    out = BytesIO()
    book.save(out)
    return out.getvalue()
