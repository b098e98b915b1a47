"""The round workbook of a 双述双评 round: columns for both scales, each subject's scale next to its rates."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

import openpyxl

from live.workbook import round_workbook
from meetings.domain.rules import preset
from meetings.domain.tally import CountedBallot, results_event, tally
from meetings.events import SubjectEntry

RULES = preset("shuang_shu_shuang_ping")
SUBJECTS = [SubjectEntry("zhibu", "杨庄村党支部", "village", kind="body"), SubjectEntry("wang", "王建国", "village")]


def rows_of(rules: dict[str, Any], results: dict[str, Any]) -> list[dict[str, Any]]:
    meeting = {"meeting_id": "m1", "title": "杨庄村双述双评大会", "township": "柳林乡", "village": "杨庄村",
               "head_hash": "0" * 64, "results": results}
    book = openpyxl.load_workbook(io.BytesIO(round_workbook({"name": "双述双评", "year": 2026, "rules": rules,
                                                              "meetings": [meeting]})))
    rows = list(book["测评结果"].iter_rows(values_only=True))
    header_at = next(i for i, row in enumerate(rows) if row[0] == "乡镇 / Township")
    return [dict(zip(rows[header_at], row, strict=True)) for row in rows[header_at + 1:] if row[6] == "全体 / All"]


def test_each_subject_is_exported_on_its_own_scale() -> None:
    marks = {"zhibu": dict.fromkeys(("sixiang_jianshe", "zuzhi_jianshe", "dangfeng_lianzheng", "gongzuo_jixiao",
                                     "gongzuo_chuangxin"), "cha"),
             "wang": dict.fromkeys(("sixiang_jianshe", "zuzhi_jianshe", "dangfeng_lianzheng", "gongzuo_jixiao",
                                    "gongzuo_chuangxin"), "jiben_chenzhi")}
    results = tally(rules=RULES, subjects=SUBJECTS, eligible=5,
                    ballots=[CountedBallot(category="party_member", marks=marks)] * 5)
    body, person = rows_of(RULES.to_data(), results_event(results, now=datetime.now(UTC)).to_data())
    assert body["评价等次 / Scale"] == "好/较好/一般/差" and person["评价等次 / Scale"] == "称职/基本称职/不称职"
    assert body["思想建设·差"] == 5 and body["思想建设·基本称职"] == 0
    assert person["思想建设·基本称职"] == 5 and person["思想建设·差"] == 0
    assert body["差评率（不称职率、不满意率）/ Unfavourable"] == "100.0%"
    assert person["差评率（不称职率、不满意率）/ Unfavourable"] == "0.0%"


def test_results_recorded_with_one_scale_name_it() -> None:
    # A round and results recorded before scales per kind: rules with one "scale", no scale_id.
    one = preset("zhi_ping_cun_guan").to_data()
    one["scale"] = one.pop("scales")["person"]
    results = results_event(tally(rules=preset("zhi_ping_cun_guan"), subjects=SUBJECTS[1:], ballots=[], eligible=0),
                            now=datetime.now(UTC)).to_data()
    del results["subjects"][0]["scale_id"]
    [row] = rows_of(one, results)
    assert row["评价等次 / Scale"] == "称职/基本称职/不称职" and "总体评价·称职" in row
