"""The form that opens a round from a preset (发起述评活动): its fields, and rules made from what was typed.

The form checks only the shape of what was typed (numbers are numbers, a
criterion row has both its id and its name); whether the rules hold together
is the domain's judgement (meetings.domain.rules: `Rules.problems()`), each
problem naming its rules field, which `FIELD_OF` maps to the form field it is
shown next to. Percentages and minutes are what a person types; the rules
keep exact fractions and seconds.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from fractions import Fraction
from typing import Any

from django import forms

from meetings.domain.rules import (
    SCALE_CHENZHI,
    SCALE_HAO,
    SCALE_MANYI,
    SUBJECT_KINDS,
    Criterion,
    QuorumRule,
    Rules,
    category_name_zh,
)

REQUIRED = {
    "required": "请填写此项", "invalid": "请填写数字", "invalid_choice": "请从列表中选择",
    "min_value": "不能小于 %(limit_value)s", "max_value": "不能大于 %(limit_value)s",
    "max_digits": "数字太长", "max_decimal_places": "小数最多 %(max)s 位", "max_length": "最多 %(limit_value)d 个字",
}

#: The four variants of the seeds: Chinese name, English name, what it is (Chinese).
PRESET_INFO: dict[str, tuple[str, str, str]] = {
    "shuang_shu_shuang_ping": (
        "双述双评", "Dual report, dual evaluation",
        "村“两委”班子和成员向党员、村民代表述职述廉，党员和村民代表分别测评、分别统计。",
    ),
    "si_ge_shuang_xiang": (
        "四个双向", "Four two-way mechanisms",
        "乡镇党委书记向村党组织书记述职（上述下评），村党组织书记向乡镇党委班子述职（下述上评），同一会议内双向测评。",
    ),
    "zhi_ping_cun_guan": (
        "直评村官", "Villagers evaluate village officials",
        "全体党员、村民代表和列席人员直接评议村干部，以“称职/基本称职/不称职”评定。",
    ),
    "dianping_qunzhong_pingyi": (
        "领导点评 + 群众评议", "Leader comments + mass evaluation",
        "领导现场点评，党员、村民代表和群众以“满意/基本满意/不满意”答卷评议党组织和党员。",
    ),
}
SCALES = {scale.id: scale for scale in (SCALE_HAO, SCALE_CHENZHI, SCALE_MANYI)}
#: Who each kind of subject is, for the form and the round's page (Rules.scale_for).
KIND_NAMES = {"body": ("组织（村党支部、村委会等）", "bodies"), "person": ("个人（干部）", "persons")}
LEVEL_NAMES = {"township": ("乡镇级述职人", "township-level speakers"), "village": ("村级述职人", "village-level speakers")}
REVEAL_NAMES = {"at_close": "测评结束后公布", "live": "测评中实时显示"}


def percent_of(share: Fraction) -> Decimal:
    """A share as the percentage a person reads (4/5 -> 80, 3/10 -> 30), at most two decimals."""
    return _plain((Decimal(share.numerator) * 100 / Decimal(share.denominator)).quantize(Decimal("0.01")))


def share_of(percent: Decimal) -> Fraction:
    return Fraction(percent) / 100


def minutes_of(seconds: int) -> Decimal:
    return _plain((Decimal(seconds) / 60).quantize(Decimal("0.1")))


def _plain(value: Decimal) -> Decimal:
    """Without trailing zeros and never in exponent form (30, not 30.00 or 3E+1)."""
    return Decimal(format(value.normalize(), "f"))


class CriterionRow(forms.Form):
    id = forms.CharField(max_length=40, required=False, error_messages=REQUIRED)
    name_zh = forms.CharField(max_length=40, required=False, error_messages=REQUIRED)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        ident, name = (data.get("id") or "").strip(), (data.get("name_zh") or "").strip()
        if bool(ident) != bool(name) and not data.get("DELETE"):
            self.add_error("name_zh" if ident else "id", "编号和名称须同时填写")
        return data


CriteriaRows = forms.formset_factory(CriterionRow, extra=2, can_delete=True, max_num=20, absolute_max=40)


def criteria_rows(data: Any, rules: Rules) -> Any:
    initial = [{"id": c.id, "name_zh": c.name_zh} for c in rules.criteria]
    return CriteriaRows(data, prefix="criteria", initial=initial) if data is not None else CriteriaRows(
        prefix="criteria", initial=initial)


def _percent(**kwargs: Any) -> forms.DecimalField:
    return forms.DecimalField(min_value=0, max_digits=7, decimal_places=2, error_messages=REQUIRED, **kwargs)


def _count(**kwargs: Any) -> forms.IntegerField:
    return forms.IntegerField(error_messages=REQUIRED, **{"max_value": 1_000_000, **kwargs})


class RoundForm(forms.Form):
    """The round's name and year and every rule a county may adjust; fields per voter category and level."""

    command_id = forms.UUIDField(widget=forms.HiddenInput)
    name = forms.CharField(max_length=100, error_messages=REQUIRED)
    year = forms.IntegerField(min_value=2000, max_value=2100, error_messages=REQUIRED)
    # One scale per kind of subject (seed 000: bodies 好/较好/一般/差, persons 称职/基本称职/不称职).
    scale_body = forms.ChoiceField(choices=[(s.id, s.name_zh) for s in SCALES.values()], error_messages=REQUIRED)
    scale_person = forms.ChoiceField(choices=[(s.id, s.name_zh) for s in SCALES.values()], error_messages=REQUIRED)
    threshold = _percent()
    lead_days = _count(min_value=0, max_value=365)
    # "live" stays in REVEAL_NAMES for rounds opened before it was refused; the form no longer offers it.
    reveal = forms.ChoiceField(choices=[("at_close", REVEAL_NAMES["at_close"])], error_messages=REQUIRED)
    min_group_size = _count(max_value=10_000)

    def __init__(self, *args: Any, base: Rules, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base = base
        for cat in base.voter_categories:
            self.fields[f"w_{cat}"] = _count(max_value=1000)
            self.fields[f"qc_{cat}"] = _count(required=False, min_value=0)
            self.fields[f"qs_{cat}"] = _percent(required=False)
        for level in self.levels:
            self.fields[f"t_{level}"] = forms.DecimalField(
                min_value=0, max_digits=5, decimal_places=1, error_messages=REQUIRED)

    @property
    def levels(self) -> list[str]:
        return [level for level in LEVEL_NAMES if level in self.base.time_limits or level in self.base.graders]

    @classmethod
    def initial_of(cls, rules: Rules, *, name: str, year: int) -> dict[str, Any]:
        initial: dict[str, Any] = {
            "name": name, "year": year, "threshold": percent_of(rules.admonish_threshold),
            "lead_days": rules.announce_lead_days, "reveal": rules.reveal, "min_group_size": rules.min_group_size,
        }
        for kind in SUBJECT_KINDS:
            initial[f"scale_{kind}"] = rules.scale_for(kind).id
        quorum = {q.category: q for q in rules.quorum}
        for cat in rules.voter_categories:
            initial[f"w_{cat}"] = rules.weight(cat)
            if cat in quorum:
                initial[f"qc_{cat}"] = quorum[cat].min_count or None
                initial[f"qs_{cat}"] = percent_of(quorum[cat].min_share) if quorum[cat].min_share else None
        for level in LEVEL_NAMES:
            if level in rules.time_limits or level in rules.graders:
                initial[f"t_{level}"] = minutes_of(rules.time_limit(level))
        return initial

    def rules(self, criteria: Any) -> Rules:
        """The preset's rules with what was typed (call after both this form and `criteria` are valid)."""
        d = self.cleaned_data
        quorum = []
        # the preset's quorum rules keep their order (the rules' JSON form, hence the event, is the same when unchanged)
        ordered = [q.category for q in self.base.quorum]
        for cat in ordered + [c for c in self.base.voter_categories if c not in ordered]:
            count, share = d.get(f"qc_{cat}"), d.get(f"qs_{cat}")
            if count or share:
                quorum.append(QuorumRule(cat, min_count=count or 0, min_share=share_of(share or Decimal(0))))
        rows = [
            row.cleaned_data for row in criteria.forms
            if row.cleaned_data and not row.cleaned_data.get("DELETE") and (row.cleaned_data.get("id") or "").strip()
        ]
        return dataclasses.replace(
            self.base,
            scales={kind: SCALES[d[f"scale_{kind}"]] for kind in SUBJECT_KINDS},
            criteria=tuple(Criterion(r["id"].strip(), r["name_zh"].strip()) for r in rows),
            category_weights={cat: d[f"w_{cat}"] for cat in self.base.voter_categories},
            quorum=tuple(quorum),
            time_limits={level: int(d[f"t_{level}"] * 60) for level in self.levels},
            announce_lead_days=d["lead_days"],
            reveal=d["reveal"],
            min_group_size=d["min_group_size"],
            admonish_threshold=share_of(d["threshold"]),
        )

    def rows(self) -> dict[str, list[dict[str, Any]]]:
        """The per-category and per-level fields, grouped for the template."""
        return {
            "categories": [
                {"name_zh": category_name_zh(cat), "id": cat, "weight": self[f"w_{cat}"],
                 "count": self[f"qc_{cat}"], "share": self[f"qs_{cat}"]}
                for cat in self.base.voter_categories
            ],
            "levels": [
                {"name_zh": LEVEL_NAMES[level][0], "name_en": LEVEL_NAMES[level][1], "minutes": self[f"t_{level}"]}
                for level in self.levels
            ],
        }


CRITERIA = "criteria"  # the criteria table as a whole

# The domain speaks of fractions and seconds; the form shows percentages and minutes, so these
# refusals are worded in the form's units (the domain still decides; only the words differ).
IN_FORM_UNITS = {
    "invalid_threshold": ("诫勉谈话线须大于 0%，且不超过 100%", "the threshold must be above 0% and at most 100%"),
    "invalid_quorum": ("到会比例须在 0% 到 100% 之间", "a quorum share must be within 0% and 100%"),
    "invalid_time_limit": ("述职时限须大于 0 分钟", "a report time must be more than 0 minutes"),
}


def field_of(rules_field: str) -> str | None:
    """The form field a rules problem is shown next to (None: above the form)."""
    head, _, tail = rules_field.partition(".")
    simple = {
        "criteria": CRITERIA, "announce_lead_days": "lead_days", "reveal": "reveal",
        "min_group_size": "min_group_size", "admonish_threshold": "threshold",
    }
    if head in simple:
        return simple[head]
    by_key = {"category_weights": "w_", "quorum": "qs_", "time_limits": "t_", "scales": "scale_"}
    if head in by_key and tail:
        return by_key[head] + tail
    return None
