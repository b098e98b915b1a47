"""Rules presets and their JSON form; event versions; the domain core stays free of Django."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest
from meeting_given import RULES

from events.types import load, upcast
from meetings.domain.rules import PRESETS, QuorumRule, Rules, RulesInvalid, preset
from meetings.events import BallotCast, QuestionAnswered, ballot_receipt

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("variant", ["shuang_shu_shuang_ping", "si_ge_shuang_xiang", "zhi_ping_cun_guan", "dianping_qunzhong_pingyi"])
def test_presets_are_valid_and_round_trip(variant: str) -> None:
    rules = preset(variant)
    rules.validate()
    data = rules.to_data()
    assert json.loads(json.dumps(data)) == data  # JSON-safe, no floats
    assert Rules.from_data(json.loads(json.dumps(data))) == rules


def test_preset_details_follow_the_seeds() -> None:
    two_way = preset("si_ge_shuang_xiang")
    assert two_way.categories_grading("township") == ("village_secretary",)
    assert two_way.categories_grading("village") == ("township_member",)
    direct = preset("zhi_ping_cun_guan")
    assert [g.id for g in direct.scale_for("person").grades] == ["chenzhi", "jiben_chenzhi", "bu_chenzhi"]
    assert direct.quorum == (QuorumRule("party_member", min_share=Fraction(4, 5)), QuorumRule("representative", min_count=30))
    assert direct.quorum[0].required(11) == 9 and direct.quorum[1].required(80) == 30
    assert (direct.time_limit("village"), direct.time_limit("township"), direct.announce_lead_days) == (480, 600, 3)
    assert [g.name_zh for g in preset("dianping_qunzhong_pingyi").scale_for("body").grades] == ["满意", "基本满意", "不满意"]
    assert set(PRESETS) == {"shuang_shu_shuang_ping", "si_ge_shuang_xiang", "zhi_ping_cun_guan", "dianping_qunzhong_pingyi"}
    with pytest.raises(RulesInvalid) as info:
        preset("nothing")
    assert info.value.code == "unknown_variant"


def _broken(**changes: object) -> dict:
    data = RULES.to_data()
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "code", "fragment"),
    [
        (_broken(admonish_threshold=0.3), "rules_field_invalid", "admonish_threshold 应为分数字符串"),
        (_broken(admonish_threshold="3/0"), "rules_field_invalid", "分母非零"),
        (_broken(admonish_threshold="3/2"), "invalid_threshold", "诫勉谈话阈值"),
        (_broken(graders={"village": ["villager"]}), "unknown_category", "评议人类别“villager”"),
        (_broken(graders={"county": ["guest"]}), "unknown_level", "未知的层级"),
        (_broken(category_weights={"guest": 0}), "invalid_weight", "权重须为正整数"),
        (_broken(criteria=[]), "no_criteria", "至少需要一项测评指标"),
        (_broken(criteria=[{"id": "思想", "name_zh": "思想建设"}]), "rules_field_invalid", "criteria.id 应为英文标识符"),
        (_broken(reveal="never"), "invalid_reveal", "公布方式"),
        (_broken(min_group_size=0), "invalid_min_group_size", "最小分组人数"),
        (_broken(voter_categories=["party_member", "party_member"]), "duplicate_id", "参评类别编号重复"),
        (_broken(quorum=[{"category": "guest", "min_count": 1, "min_share": "5/4"}]), "invalid_quorum", "法定人数"),
        ("rules", "rules_field_invalid", "rules 应为对象"),
    ],
)
def test_invalid_rules_are_refused_with_a_stable_code(data: object, code: str, fragment: str) -> None:
    with pytest.raises(RulesInvalid) as info:
        Rules.from_data(data)
    assert info.value.code == code
    assert fragment in info.value.message_zh
    assert info.value.message_en


def test_ballot_cast_v1_is_upcast_with_receipt_and_source() -> None:
    ballot = {"zhibu": {"zongti": "chenzhi"}}
    event = load("BallotCast", 1, {"code_hash": "ab" * 32, "marks": ballot})
    assert event == BallotCast(code_hash="ab" * 32, marks=ballot, receipt=ballot_receipt("ab" * 32, ballot), source="phone")
    assert BallotCast.version == 2 and len(event.receipt) == 64  # type: ignore[attr-defined]
    assert upcast("QuestionAnswered", 1, {"question_id": "q", "answer": "a", "deferred": False})["due_on"] is None
    assert load("QuestionAnswered", 1, {"question_id": "q", "answer": "a", "deferred": True}) == QuestionAnswered("q", "a", True, None)


def test_the_domain_core_imports_no_django() -> None:
    program = """
import importlib.abc, sys
class NoDjango(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "django" or name.startswith("django."):
            raise ImportError("django is blocked in the domain core: " + name)
        return None
sys.meta_path.insert(0, NoDjango())
import meetings.domain, meetings.domain.rules, meetings.domain.aggregate, meetings.domain.tally
assert not [m for m in sys.modules if m == "django" or m.startswith("django.")]
print("ok")
"""
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=REPO, env={"PYTHONPATH": str(REPO / "platform"), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_every_rules_problem_names_its_field_and_all_are_listed_at_once() -> None:
    import dataclasses

    bad = dataclasses.replace(
        preset("shuang_shu_shuang_ping"), criteria=(), category_weights={"party_member": 1, "representative": 0},
        quorum=(QuorumRule("party_member", min_share=Fraction(3, 2)),), admonish_threshold=Fraction(6, 5),
    )
    found = {(p.code, p.details["field"]) for p in bad.problems()}
    assert found == {
        ("no_criteria", "criteria"), ("invalid_weight", "category_weights.representative"),
        ("invalid_quorum", "quorum.party_member"), ("invalid_threshold", "admonish_threshold"),
    }
    with pytest.raises(RulesInvalid) as first:
        bad.validate()
    assert first.value.code == "no_criteria"  # validate still raises the first one
    assert preset("zhi_ping_cun_guan").problems() == []


def test_a_rules_field_of_the_wrong_shape_is_named() -> None:
    data = preset("zhi_ping_cun_guan").to_data()
    data["min_group_size"] = "5"
    with pytest.raises(RulesInvalid) as refused:
        Rules.from_data(data)
    assert refused.value.details == {"field": "min_group_size"}
