"""Comments, 组织调整 and the export's bands as given events, when command, then events (no database)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.refusal import Conflict, NotFound, Refusal
from followup.adjustments import Adjustment, AdjustmentFlagged, due, percent_of
from followup.comments import Comment, CommentItemOpened, LedgerCommentRecorded
from followup.results_export import ExportConfig, band_of

TODAY = date(2026, 12, 2)


def recorded(**changes: object) -> LedgerCommentRecorded:
    fields: dict[str, object] = {
        "comment_id": "dp1", "mode": "box", "manner": "suggestion_box", "commenter": "", "about": "东关村两委",
        "official_id": None, "township": "城关镇", "village": "东关村", "village_id": 1, "on": "2026-12-01",
        "text": "路灯坏了", "contact": None,
    }
    fields.update(changes)
    return LedgerCommentRecorded(**fields)  # type: ignore[arg-type]


def comment_from(*events: object) -> Comment:
    comment = Comment()
    for event in events:
        comment.apply(event)  # type: ignore[arg-type]
    return comment


def record(comment: Comment, **changes: object) -> list[object]:
    fields: dict[str, object] = {
        "comment_id": "dp2", "mode": "one_to_one", "manner": "face_to_face", "commenter": "周明", "about": "王建国",
        "official_id": "of1", "township": "城关镇", "village": "东关村", "village_id": 1, "on": TODAY, "today": TODAY,
        "text": "账目公开不及时", "contact": "",
    }
    fields.update(changes)
    return list(comment.record(**fields))  # type: ignore[arg-type]


def test_a_face_to_face_comment_names_its_commenter_and_a_back_to_back_one_does_not() -> None:
    (event,) = record(Comment())
    assert isinstance(event, LedgerCommentRecorded) and (event.commenter, event.contact) == ("周明", None)
    with pytest.raises(Refusal) as refused:
        record(Comment(), manner="anonymous_letter")
    assert refused.value.code == "anonymous_names_commenter"
    (letter,) = record(Comment(), manner="anonymous_letter", commenter="")
    assert isinstance(letter, LedgerCommentRecorded) and letter.commenter == ""
    with pytest.raises(Refusal, match="背靠背"):
        record(Comment(), mode="box", manner="face_to_face")


def test_a_comment_is_recorded_once_and_leads_to_each_item_once() -> None:
    comment = comment_from(recorded())
    with pytest.raises(Conflict):
        record(comment)
    (opened,) = comment.lead_to_item(item_id="zg1", by="zuzhibu")
    assert isinstance(opened, CommentItemOpened)
    comment.apply(opened)
    assert comment.lead_to_item(item_id="zg1", by="zuzhibu") == []
    with pytest.raises(NotFound):
        Comment().lead_to_item(item_id="zg1", by="zuzhibu")


def fact(year: int, rate: str = "40.0%") -> dict[str, object]:
    return {"official_id": "of1", "year": year, "meeting_id": f"m{year}", "title": f"{year}年大会",
            "round_id": f"r{year}", "round_name": f"{year}年度", "unfavourable_percent": rate, "flagged": True,
            "threshold": "3/10"}


def test_adjustment_needs_two_consecutive_flagged_years() -> None:
    assert due([fact(2024), fact(2026)]) == {}
    found = due([fact(2025), fact(2026), {**fact(2026), "official_id": "of2", "flagged": False}])
    assert list(found) == [("of1", 2026)] and [f.year for f in found[("of1", 2026)]] == [2025, 2026]
    (event,) = Adjustment().flag(official_id="of1", name="甲", year=2026, facts=found[("of1", 2026)])
    assert isinstance(event, AdjustmentFlagged) and "组织调整" in event.rule
    flagged = Adjustment()
    flagged.apply(event)
    with pytest.raises(Conflict):
        flagged.flag(official_id="of1", name="甲", year=2026, facts=found[("of1", 2026)])
    with pytest.raises(Refusal) as refused:
        Adjustment().flag(official_id="of1", name="甲", year=2026, facts=found[("of1", 2026)][1:])
    assert refused.value.code == "adjustment_not_due"


@given(st.dictionaries(st.sampled_from(["a", "b", "c"]),
                       st.dictionaries(st.integers(min_value=2020, max_value=2027), st.booleans()), max_size=3))
def test_due_is_exactly_flagged_this_year_and_the_year_before(history: dict[str, dict[int, bool]]) -> None:
    rows = [{**fact(year), "official_id": official, "flagged": flagged}
            for official, years in history.items() for year, flagged in years.items()]
    expected = {(o, y) for o, years in history.items() for y, f in years.items() if f and years.get(y - 1)}
    assert set(due(rows)) == expected


def test_bands_rise_and_a_rate_at_a_bound_is_in_that_band() -> None:
    (event,) = ExportConfig().configure(bands=[("好", "20"), ("中", "35")], over="差")
    bands = [{"name": b.name, "up_to_percent": b.up_to_percent} for b in event.bands]  # type: ignore[attr-defined]
    assert [band_of(v, bands=bands, over="差") for v in (0.0, 20.0, 20.1, 35.0, 90.0, None)] == [
        "好", "好", "中", "中", "差", ""]
    for bad in ([("好", "40"), ("中", "35")], [("好", "x")], [], [("", "10")], [("好", "101")]):
        with pytest.raises(Refusal):
            ExportConfig().configure(bands=bad, over="差")
    assert percent_of("3/10") == "30%" and percent_of("1") == "100%"
