"""The county's results export for pay and appraisal (.xlsx): its configuration (events, aggregate) and the workbook.

Seed 003 ties results to pay ("直评结果纳入村干部绩效管理，并与工作报酬挂钩").
The county configures the grade bands the export puts each result in, by
the 不称职率 on the person scale: each band has a name and an upper bound
(at most this rate, in percent); a rate above every bound falls in the
county's last band name. One stream per county: `results-export`; the
latest configuration holds. Without one, DEFAULT_BANDS apply.

One row per official and announced meeting: official, post, township,
village, year, round, meeting, 好评率, 不称职率, score, grade band, and the
flags (诫勉谈话 by the round's rule, 组织调整 for that year).
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from common.refusal import Refusal
from events.types import DomainEvent, event_type

STREAM = "results-export"
MAX_BANDS = 8
MAX_BAND_NAME = 20


@dataclass(frozen=True)
class ExportBand:
    name: str
    up_to_percent: str  # a rate at most this (decimal text, "20" or "12.5") is in this band


DEFAULT_BANDS = [ExportBand("优秀", "10"), ExportBand("称职", "20"), ExportBand("基本称职", "30")]
DEFAULT_OVER = "不称职"


@event_type(version=1)
@dataclass(frozen=True)
class ResultsExportConfigured(DomainEvent):
    """The county's grade bands for the pay and appraisal export; `over` names rates above every band."""

    bands: list[ExportBand]
    over: str


@dataclass
class ExportConfig:
    version: int = 0

    def apply(self, event: DomainEvent) -> None:
        self.version += 1

    def configure(self, *, bands: list[tuple[str, str]], over: str) -> list[DomainEvent]:
        if not bands or len(bands) > MAX_BANDS:
            raise Refusal(f"请设置1至{MAX_BANDS}个档次", f"between 1 and {MAX_BANDS} bands", code="bands_count",
                          details={"field": "bands"})
        last = -1.0
        made = []
        for name, bound in bands:
            name = name.strip()
            if not name or len(name) > MAX_BAND_NAME:
                raise Refusal(f"档次名称须为1至{MAX_BAND_NAME}个字", "a band needs a short name", code="band_name",
                              details={"field": "bands"})
            try:
                value = float(bound)
            except ValueError:
                value = -1.0
            if not 0 <= value <= 100 or value <= last:
                raise Refusal("各档上限须在0到100之间且逐档增大", "band bounds rise within 0..100", code="band_bounds",
                              details={"field": "bands"})
            last = value
            made.append(ExportBand(name=name, up_to_percent=f"{value:g}"))
        if not over.strip() or len(over.strip()) > MAX_BAND_NAME:
            raise Refusal("请填写超出各档的名称", "name the band above every bound", code="band_name",
                          details={"field": "over"})
        return [ResultsExportConfigured(bands=made, over=over.strip())]


def band_of(rate: float | None, *, bands: list[dict[str, str]], over: str) -> str:
    """The band a 不称职 rate (percent) falls in; empty for a result without a rate."""
    if rate is None:
        return ""
    for band in bands:
        if rate <= float(band["up_to_percent"]):
            return band["name"]
    return over


HEAD = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="E8EEF7")
COLUMNS = ["干部 / Official", "职务 / Post", "乡镇 / Township", "村 / Village", "年度 / Year", "述评活动 / Round",
           "会议 / Meeting", "好评率 / Favourable", "不称职率 / Unfavourable", "得分 / Score", "档次 / Band",
           "诫勉谈话 / Interview flag", "组织调整 / Adjustment"]


def results_workbook(*, county: str, rows: list[dict[str, Any]], bands: list[dict[str, str]], over: str) -> bytes:
    """The export as .xlsx bytes: one row per official and announced meeting, then the bands it used."""
    book = Workbook()
    sheet = book.active
    sheet.title = "测评结果"
    sheet.append(COLUMNS)
    for cell in sheet[1]:
        cell.font, cell.fill = HEAD, HEAD_FILL
    for r in rows:
        sheet.append([r["name"], r["post"] or "", r["township"], r["village"], r["year"], r["round_name"], r["title"],
                      r["favourable_percent"], r["unfavourable_percent"], r["score"], r["band"],
                      "是" if r["flagged"] else "否", "是" if r["adjustment"] else "否"])
    for column, width in zip("ABCDEFGHIJKLM", (12, 18, 12, 12, 8, 18, 28, 10, 10, 8, 10, 10, 10), strict=True):
        sheet.column_dimensions[column].width = width
    legend = book.create_sheet("档次 Bands")
    legend.append([f"{county} 档次按不称职率划分 / bands by the 不称职 rate"])
    legend.append(["档次 / Band", "不称职率上限 / at most (%)"])
    for band in bands:
        legend.append([band["name"], float(band["up_to_percent"])])
    legend.append([over, "以上 / above"])
    out = BytesIO()
    book.save(out)
    return out.getvalue()
