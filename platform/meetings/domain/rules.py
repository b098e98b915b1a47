"""A round's rules: scales, criteria, voter categories, quorum, limits, thresholds.

Plain frozen dataclasses, no Django. Numbers that are not counts are exact:
shares and thresholds are `fractions.Fraction` (stored as strings such as
"4/5"), weights are integers (numerators over their sum). `Rules.to_data()`
gives a JSON-safe dict (identifier keys, no floats) that `Rules.from_data()`
reads back, raising `RulesInvalid` with a stable code and a Chinese message.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from meetings.domain.errors import RulesInvalid

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_FRACTION_TEXT = re.compile(r"\d+(/\d+)?\Z")

REVEAL_POLICIES = ("at_close", "live")
LEVELS = ("township", "village")
#: What a subject is (SubjectEntry.kind): a body (村党支部, 村委会) or a person.
SUBJECT_KINDS = ("body", "person")
SUBJECT_KIND_NAMES_ZH = {"body": "组织", "person": "个人"}

#: Chinese names of the usual voter categories (for messages and screens).
CATEGORY_NAMES_ZH = {
    "party_member": "党员",
    "representative": "村民代表",
    "guest": "列席人员",
    "village_secretary": "村党组织书记",
    "township_member": "乡镇党委班子成员",
    "resident": "群众",
    "other": "其他",
}


def category_name_zh(category: str) -> str:
    return CATEGORY_NAMES_ZH.get(category, category)


@dataclass(frozen=True)
class Grade:
    id: str
    name_zh: str
    name_en: str
    points: int  # used by the weighted score, see tally.py
    favourable: bool = False
    unfavourable: bool = False


@dataclass(frozen=True)
class Scale:
    id: str
    name_zh: str
    grades: tuple[Grade, ...]

    def grade(self, grade_id: str) -> Grade | None:
        for grade in self.grades:
            if grade.id == grade_id:
                return grade
        return None

    @property
    def grade_ids(self) -> tuple[str, ...]:
        return tuple(grade.id for grade in self.grades)

    def to_data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name_zh": self.name_zh,
            "grades": [
                {
                    "id": g.id,
                    "name_zh": g.name_zh,
                    "name_en": g.name_en,
                    "points": g.points,
                    "favourable": g.favourable,
                    "unfavourable": g.unfavourable,
                }
                for g in self.grades
            ],
        }


def one_scale(scale: Scale) -> dict[str, Scale]:
    """The same scale for every kind of subject (what rules said before they had a scale per kind)."""
    return {kind: scale for kind in SUBJECT_KINDS}


@dataclass(frozen=True)
class Criterion:
    id: str
    name_zh: str


@dataclass(frozen=True)
class QuorumRule:
    """Present members of `category` must reach max(min_count, ceil(min_share * roster))."""

    category: str
    min_count: int = 0
    min_share: Fraction = Fraction(0)

    def required(self, roster_count: int) -> int:
        share = self.min_share * roster_count
        ceil_share = -((-share.numerator) // share.denominator)
        return max(self.min_count, ceil_share)


@dataclass(frozen=True)
class Rules:
    """Everything a meeting needs to know about how it is run and graded.

    `graders` says who reports to whom: for each subject level ("township",
    "village"), the voter categories whose ballots grade subjects of that
    level. In 四个双向 the township secretary (level township) is graded by
    village secretaries and the village secretaries (level village) by the
    township's members; in the other variants villages are graded by party
    members, representatives (and guests).
    """

    variant: str
    scales: Mapping[str, Scale]  # subject kind (SUBJECT_KINDS) -> its scale; see scale_for
    criteria: tuple[Criterion, ...]
    voter_categories: tuple[str, ...]
    graders: Mapping[str, tuple[str, ...]]
    category_weights: Mapping[str, int] = field(default_factory=dict)  # missing: weight 1
    quorum: tuple[QuorumRule, ...] = ()
    time_limits: Mapping[str, int] = field(default_factory=lambda: {"township": 600, "village": 480})
    announce_lead_days: int = 3
    reveal: str = "at_close"
    min_group_size: int = 5
    admonish_threshold: Fraction = Fraction(3, 10)
    notice_working_days: int = 5  # the public notice's period (公示期), in working days

    def scale_for(self, kind: str) -> Scale:
        """The scale a subject of this kind ("body", "person") is graded on.

        The aggregate refuses other kinds since scales per kind exist; a subject
        recorded before with another kind is a person, SubjectEntry's default.
        """
        return self.scales.get(kind) or self.scales["person"]

    def distinct_scales(self) -> tuple[Scale, ...]:
        """Each scale once, in SUBJECT_KINDS order (one when every kind shares it)."""
        seen: dict[str, Scale] = {}
        for kind in SUBJECT_KINDS:
            if kind in self.scales:
                seen.setdefault(self.scales[kind].id, self.scales[kind])
        return tuple(seen.values())

    def weight(self, category: str) -> int:
        return self.category_weights.get(category, 1)

    def categories_grading(self, level: str) -> tuple[str, ...]:
        return tuple(self.graders.get(level, ()))

    def time_limit(self, level: str) -> int:
        return self.time_limits.get(level, 0)

    # -- JSON-safe form ---------------------------------------------------------

    def to_data(self) -> dict[str, Any]:
        return {
            "variant": self.variant,
            "scales": {kind: scale.to_data() for kind, scale in self.scales.items()},
            "criteria": [{"id": c.id, "name_zh": c.name_zh} for c in self.criteria],
            "voter_categories": list(self.voter_categories),
            "graders": {level: list(cats) for level, cats in self.graders.items()},
            "category_weights": dict(self.category_weights),
            "quorum": [
                {"category": q.category, "min_count": q.min_count, "min_share": _fraction_text(q.min_share)}
                for q in self.quorum
            ],
            "time_limits": dict(self.time_limits),
            "announce_lead_days": self.announce_lead_days,
            "reveal": self.reveal,
            "min_group_size": self.min_group_size,
            "admonish_threshold": _fraction_text(self.admonish_threshold),
            "notice_working_days": self.notice_working_days,
        }

    @classmethod
    def from_data(cls, data: Any) -> Rules:
        """Read and validate rules; raise RulesInvalid naming the first problem."""
        rules = cls.parse(data)
        rules.validate()
        return rules

    @classmethod
    def parse(cls, data: Any) -> Rules:
        """Read rules of the right shape without judging them (a form lists every `problems()` at once)."""
        d = _obj(data, "rules")
        # Rules written before scales per kind carry one "scale": it grades every kind of
        # subject, as it always did, so recorded meetings keep meaning what they meant.
        if "scales" in d and "scale" in d:
            raise RulesInvalid(
                "规则中“scale”与“scales”只能给出其一", "rules give either scale or scales, not both",
                code="rules_field_invalid", details={"field": "scales"},
            )
        if "scales" in d:
            scales = {kind: _scale(x, f"scales.{kind}") for kind, x in _obj(d.get("scales"), "scales").items()}
        else:
            scales = one_scale(_scale(d.get("scale"), "scale"))
        criteria = tuple(
            Criterion(id=_ident(c.get("id"), "criteria.id"), name_zh=_text(c.get("name_zh"), "criteria.name_zh"))
            for c in (_obj(x, "criteria") for x in _list(d.get("criteria"), "criteria"))
        )
        graders_d = _obj(d.get("graders"), "graders")
        return cls(
            variant=_ident(d.get("variant"), "variant"),
            scales=scales,
            criteria=criteria,
            voter_categories=tuple(_ident(x, "voter_categories") for x in _list(d.get("voter_categories"), "voter_categories")),
            graders={
                level: tuple(_ident(x, f"graders.{level}") for x in _list(cats, f"graders.{level}"))
                for level, cats in graders_d.items()
            },
            category_weights={
                k: _int(v, f"category_weights.{k}") for k, v in _obj(d.get("category_weights", {}), "category_weights").items()
            },
            quorum=tuple(
                QuorumRule(
                    category=_ident(q.get("category"), "quorum.category"),
                    min_count=_int(q.get("min_count", 0), "quorum.min_count"),
                    min_share=_fraction(q.get("min_share", "0"), "quorum.min_share"),
                )
                for q in (_obj(x, "quorum") for x in _list(d.get("quorum", []), "quorum"))
            ),
            time_limits={k: _int(v, f"time_limits.{k}") for k, v in _obj(d.get("time_limits", {}), "time_limits").items()},
            announce_lead_days=_int(d.get("announce_lead_days", 3), "announce_lead_days"),
            reveal=_text(d.get("reveal", "at_close"), "reveal"),
            min_group_size=_int(d.get("min_group_size", 5), "min_group_size"),
            admonish_threshold=_fraction(d.get("admonish_threshold", "3/10"), "admonish_threshold"),
            notice_working_days=_int(d.get("notice_working_days", 5), "notice_working_days"),
        )

    def require_offered(self) -> None:
        """Refuse what rules may say but the platform does not do (checked when rules are chosen).

        The reveal policy "live" (tallies on the screen while voting goes on)
        is read from old logs but not offered: a tally that moves with each
        ballot tells whoever watches the screen how the last voter voted, and
        one coarse enough not to (rounded, only after many ballots) tells the
        hall little. Results are shown the moment the ballot closes (001).
        """
        if self.reveal != "at_close":
            raise RulesInvalid(
                "不支持投票中实时公布结果（live）：实时变动的计票会让旁观者推算出刚投的一票；结果在投票结束后当场公布",
                "the reveal policy 'live' is not offered: a tally moving with each ballot reveals the last one;"
                " results are shown when the ballot closes",
                code="reveal_not_offered",
            )

    def validate(self) -> None:
        """Raise RulesInvalid if the rules are inconsistent (the first problem)."""
        for problem in self._problems():
            raise problem

    def problems(self) -> list[RulesInvalid]:
        """Every inconsistency, each naming its rules field in `details["field"]` (e.g. "quorum.party_member")."""
        return list(self._problems())

    def _problems(self) -> Iterator[RulesInvalid]:
        # Each problem names its field (details["field"]), so a form can show it next to that field.
        def problem(zh: str, en: str, *, code: str, field: str) -> RulesInvalid:
            return RulesInvalid(zh, en, code=code, details={"field": field})

        yield from self._scale_problems(problem)
        for ids, what_zh, what_en, where in (
            ([c.id for c in self.criteria], "测评指标", "criterion", "criteria"),
            (list(self.voter_categories), "参评类别", "voter category", "voter_categories"),
        ):
            bad = [ident for ident in ids if not IDENTIFIER.match(ident)]
            if bad:
                yield problem(f"{what_zh}编号“{bad[0]}”须为英文标识符", f"{what_en} id {bad[0]!r} must be an identifier", code="invalid_identifier", field=where)
            elif len(set(ids)) != len(ids):
                yield problem(f"{what_zh}编号重复", f"duplicate {what_en} ids", code="duplicate_id", field=where)
        if not self.criteria:
            yield problem("至少需要一项测评指标", "at least one criterion is needed", code="no_criteria", field="criteria")
        if not self.voter_categories:
            yield problem("至少需要一个参评类别", "at least one voter category is needed", code="no_voter_categories", field="voter_categories")
        known = set(self.voter_categories)
        if "other" in known:
            yield problem("“other”为保留的合并组名", "'other' is reserved for merged small groups", code="reserved_category", field="voter_categories")
        if not self.graders:
            yield problem("须规定各层级由谁评议", "graders per level are required", code="no_graders", field="graders")
        for level, cats in self.graders.items():
            if level not in LEVELS:
                yield problem(f"未知的层级“{level}”", f"unknown level {level!r}", code="unknown_level", field="graders")
            elif not cats:
                yield problem(f"层级“{level}”没有评议人", f"level {level!r} has no graders", code="no_graders", field=f"graders.{level}")
            for cat in cats:
                if cat not in known:
                    yield problem(f"评议人类别“{cat}”不在参评类别中", f"grader category {cat!r} is not a voter category", code="unknown_category", field=f"graders.{level}")
        for cat, weight in self.category_weights.items():
            if cat not in known:
                yield problem(f"权重中的类别“{cat}”不在参评类别中", f"weighted category {cat!r} is not a voter category", code="unknown_category", field=f"category_weights.{cat}")
            elif weight <= 0:
                yield problem("权重须为正整数", "weights must be positive integers", code="invalid_weight", field=f"category_weights.{cat}")
        for q in self.quorum:
            if q.category not in known:
                yield problem(f"法定人数规则中的类别“{q.category}”不在参评类别中", f"quorum category {q.category!r} is not a voter category", code="unknown_category", field=f"quorum.{q.category}")
            elif q.min_count < 0 or not 0 <= q.min_share <= 1:
                yield problem("法定人数须为非负数，比例在0到1之间", "quorum counts must be >= 0 and shares within [0, 1]", code="invalid_quorum", field=f"quorum.{q.category}")
        for level, seconds in self.time_limits.items():
            if level not in LEVELS or seconds <= 0:
                yield problem("述职时限须为正的秒数，层级为 township 或 village", "time limits are positive seconds per level township/village", code="invalid_time_limit", field=f"time_limits.{level}")
        if self.announce_lead_days < 0:
            yield problem("提前公告天数不能为负", "announcement lead days cannot be negative", code="invalid_lead_days", field="announce_lead_days")
        if self.reveal not in REVEAL_POLICIES:
            yield problem("公布方式须为 at_close 或 live", "reveal must be at_close or live", code="invalid_reveal", field="reveal")
        if self.min_group_size < 1:
            yield problem("最小分组人数至少为1", "min_group_size must be at least 1", code="invalid_min_group_size", field="min_group_size")
        if not 0 < self.admonish_threshold <= 1:
            yield problem("诫勉谈话阈值须在0到1之间", "the admonishment threshold must be within (0, 1]", code="invalid_threshold", field="admonish_threshold")
        if not 1 <= self.notice_working_days <= 30:
            yield problem("公示期须为1至30个工作日", "the notice period must be 1 to 30 working days", code="invalid_notice_period", field="notice_working_days")

    def _scale_problems(self, problem: Callable[..., RulesInvalid]) -> Iterator[RulesInvalid]:
        for kind in self.scales:
            if kind not in SUBJECT_KINDS:
                yield problem(f"未知的述评对象类型“{kind}”（应为 body 或 person）", f"unknown subject kind {kind!r} (body or person)",
                              code="unknown_subject_kind", field="scales")
        by_id: dict[str, Scale] = {}
        for kind in SUBJECT_KINDS:
            where = f"scales.{kind}"
            what = SUBJECT_KIND_NAMES_ZH[kind]
            scale = self.scales.get(kind)
            if scale is None:
                yield problem(f"须规定{what}述评对象的评价等次", f"a scale for subjects of kind {kind} is required",
                              code="scale_missing", field=where)
                continue
            grade_ids = [g.id for g in scale.grades]
            bad = [ident for ident in grade_ids if not IDENTIFIER.match(ident)]
            if len(grade_ids) < 2:
                yield problem(f"{what}的评价等次至少需要两档", f"the {kind} scale needs at least two grades",
                              code="scale_too_small", field=where)
            if not IDENTIFIER.match(scale.id) or bad:
                yield problem(f"{what}的评价等次编号“{(bad or [scale.id])[0]}”须为英文标识符",
                              f"{kind} scale id {(bad or [scale.id])[0]!r} must be an identifier", code="invalid_identifier", field=where)
            elif len(set(grade_ids)) != len(grade_ids):
                yield problem(f"{what}的评价等次编号重复", f"duplicate grade ids in the {kind} scale", code="duplicate_id", field=where)
            if any(g.favourable and g.unfavourable for g in scale.grades):
                yield problem(f"{what}的评价等次中，同一等次不能既是好评又是差评",
                              f"a grade of the {kind} scale cannot be both favourable and unfavourable", code="grade_both_ways", field=where)
            # Results name each subject's scale by its id: one id, one scale.
            if by_id.setdefault(scale.id, scale) != scale:
                yield problem(f"{what}的评价等次与另一类对象的编号相同（{scale.id}）但内容不同",
                              f"the {kind} scale reuses the id {scale.id!r} of another, different scale", code="scale_id_conflict", field=where)


# -- presets -----------------------------------------------------------------------

SCALE_HAO = Scale(
    id="hao_jiaohao_yiban_cha",
    name_zh="好/较好/一般/差",
    grades=(
        Grade("hao", "好", "good", 100, favourable=True),
        Grade("jiaohao", "较好", "fairly good", 80, favourable=True),
        Grade("yiban", "一般", "average", 60),
        Grade("cha", "差", "poor", 0, unfavourable=True),
    ),
)
SCALE_CHENZHI = Scale(
    id="chenzhi",
    name_zh="称职/基本称职/不称职",
    grades=(
        Grade("chenzhi", "称职", "competent", 100, favourable=True),
        Grade("jiben_chenzhi", "基本称职", "basically competent", 60),
        Grade("bu_chenzhi", "不称职", "incompetent", 0, unfavourable=True),
    ),
)
SCALE_MANYI = Scale(
    id="manyi",
    name_zh="满意/基本满意/不满意",
    grades=(
        Grade("manyi", "满意", "satisfied", 100, favourable=True),
        Grade("jiben_manyi", "基本满意", "basically satisfied", 60),
        Grade("bu_manyi", "不满意", "dissatisfied", 0, unfavourable=True),
    ),
)

FIVE_CRITERIA = (
    Criterion("sixiang_jianshe", "思想建设"),
    Criterion("zuzhi_jianshe", "组织建设"),
    Criterion("dangfeng_lianzheng", "党风廉政建设"),
    Criterion("gongzuo_jixiao", "工作绩效"),
    Criterion("gongzuo_chuangxin", "工作创新"),
)
OVERALL = (Criterion("zongti", "总体评价"),)

# Seed 003: party members present >= 4/5 of all party members; >= 30 representatives.
VILLAGE_QUORUM = (
    QuorumRule("party_member", min_share=Fraction(4, 5)),
    QuorumRule("representative", min_count=30),
)

PRESETS: dict[str, Rules] = {
    # 双述双评 (seeds 000, 001): party members and representatives tallied separately.
    "shuang_shu_shuang_ping": Rules(
        variant="shuang_shu_shuang_ping",
        # Seed 000: bodies (村党支部, 村委会) on 好/较好/一般/差, persons on 称职/基本称职/不称职.
        scales={"body": SCALE_HAO, "person": SCALE_CHENZHI},
        criteria=FIVE_CRITERIA,
        voter_categories=("party_member", "representative"),
        graders={"village": ("party_member", "representative"), "township": ("party_member", "representative")},
        quorum=VILLAGE_QUORUM,
    ),
    # 四个双向 (seed 002): township secretary graded by the village secretaries,
    # village secretaries graded by the township's members, in the same meeting.
    "si_ge_shuang_xiang": Rules(
        variant="si_ge_shuang_xiang",
        scales=one_scale(SCALE_HAO),
        criteria=FIVE_CRITERIA,
        voter_categories=("township_member", "village_secretary"),
        graders={"township": ("village_secretary",), "village": ("township_member",)},
        quorum=(
            QuorumRule("village_secretary", min_share=Fraction(4, 5)),
            QuorumRule("township_member", min_share=Fraction(4, 5)),
        ),
        min_group_size=3,
    ),
    # 直评村官 (seed 003): everyone present grades each village official.
    "zhi_ping_cun_guan": Rules(
        variant="zhi_ping_cun_guan",
        scales=one_scale(SCALE_CHENZHI),
        criteria=OVERALL,
        voter_categories=("party_member", "representative", "guest"),
        graders={"village": ("party_member", "representative", "guest")},
        quorum=VILLAGE_QUORUM,
    ),
    # 领导点评 + 群众评议 (seed 004): questionnaire answered by the masses.
    "dianping_qunzhong_pingyi": Rules(
        variant="dianping_qunzhong_pingyi",
        scales=one_scale(SCALE_MANYI),
        criteria=OVERALL,
        voter_categories=("party_member", "representative", "resident"),
        graders={"village": ("party_member", "representative", "resident"), "township": ("party_member", "representative", "resident")},
    ),
}


def preset(variant: str) -> Rules:
    """The preset rules of a variant; RulesInvalid if there is none."""
    try:
        return PRESETS[variant]
    except KeyError:
        raise RulesInvalid(f"没有名为“{variant}”的预设规则", f"no preset named {variant!r}", code="unknown_variant") from None


# -- helpers for from_data -------------------------------------------------------------


def _scale(value: Any, path: str) -> Scale:
    scale_d = _obj(value, path)
    grades = tuple(
        Grade(
            id=_ident(g.get("id"), f"{path}.grades.id"),
            name_zh=_text(g.get("name_zh"), f"{path}.grades.name_zh"),
            name_en=_text(g.get("name_en"), f"{path}.grades.name_en"),
            points=_int(g.get("points"), f"{path}.grades.points"),
            favourable=_bool(g.get("favourable", False), f"{path}.grades.favourable"),
            unfavourable=_bool(g.get("unfavourable", False), f"{path}.grades.unfavourable"),
        )
        for g in (_obj(x, f"{path}.grades") for x in _list(scale_d.get("grades"), f"{path}.grades"))
    )
    return Scale(id=_ident(scale_d.get("id"), f"{path}.id"), name_zh=_text(scale_d.get("name_zh"), f"{path}.name_zh"), grades=grades)


def _fraction_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def _bad(path: str, what_zh: str, what_en: str) -> RulesInvalid:
    return RulesInvalid(
        f"规则字段 {path} 应为{what_zh}", f"rules field {path} must be {what_en}", code="rules_field_invalid",
        details={"field": path},
    )


def _obj(value: Any, path: str) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise _bad(path, "对象", "an object")
    return value


def _list(value: Any, path: str) -> list[Any]:
    if not isinstance(value, list):
        raise _bad(path, "列表", "a list")
    return value


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise _bad(path, "非空字符串", "a non-empty string")
    return value


def _ident(value: Any, path: str) -> str:
    if not isinstance(value, str) or not IDENTIFIER.match(value):
        raise _bad(path, "英文标识符", "an identifier")
    return value


def _int(value: Any, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(path, "整数", "an integer")
    return value


def _bool(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(path, "布尔值", "a boolean")
    return value


def _fraction(value: Any, path: str) -> Fraction:
    # Strings "3/10" or "1" only: floats would carry binary rounding into the rules.
    if not isinstance(value, str) or not _FRACTION_TEXT.match(value):
        raise _bad(path, "分数字符串（如 3/10）", "a fraction string such as 3/10")
    try:
        return Fraction(value)
    except ZeroDivisionError:
        raise _bad(path, "分母非零的分数", "a fraction with a non-zero denominator") from None
