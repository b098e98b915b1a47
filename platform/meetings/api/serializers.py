"""Request bodies of the meeting API: shapes only; the aggregate decides the rest."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

IDENT = r"^[A-Za-z_][A-Za-z0-9_]*$"
MARKS_HELP = "subject_id -> criterion_id -> grade_id（标识符为英文）"


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not declare: a misspelt field is an error, never silently dropped."""

    def to_internal_value(self, data: Any) -> Any:
        unknown = {}
        if isinstance(data, Mapping):
            unknown = {name: ["未知字段"] for name in data if name not in self.fields}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class Ident(serializers.RegexField):
    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("max_length", 64)
        super().__init__(IDENT, **kwargs)  # type: ignore[arg-type]


class RoundIn(StrictSerializer):
    name = serializers.CharField(max_length=200)
    year = serializers.IntegerField(min_value=2000, max_value=2100)
    variant = serializers.CharField(max_length=64, help_text="预设：shuang_shu_shuang_ping / si_ge_shuang_xiang / zhi_ping_cun_guan / dianping_qunzhong_pingyi")
    rules = serializers.JSONField(required=False, help_text="完整规则（省略则用预设）")


class SubjectIn(StrictSerializer):
    """A subject named for this meeting (subject_id, name, level, kind), or a registry reference
    (official_id or body_id; subject_id and level then default to the registry's)."""

    subject_id = Ident(required=False)
    name = serializers.CharField(max_length=200, required=False)
    level = serializers.ChoiceField(choices=["township", "village"], required=False)
    kind = serializers.ChoiceField(choices=["person", "body"], required=False)
    official_id = Ident(required=False, help_text="名录中的干部编号")
    body_id = Ident(required=False, help_text="名录中的组织编号")


class RosterIn(StrictSerializer):
    member_id = Ident()
    name = serializers.CharField(max_length=100)
    category = Ident()


class MeetingIn(StrictSerializer):
    meeting_id = Ident(required=False)
    round_id = Ident()
    title = serializers.CharField(max_length=200)
    township = serializers.CharField(max_length=100)
    village = serializers.CharField(max_length=100, allow_blank=True)
    village_id = serializers.IntegerField(required=False, help_text="从本村花名册生成参会名单")
    starts_at = serializers.DateTimeField()
    place = serializers.CharField(max_length=200)
    subjects = SubjectIn(many=True)
    roster = RosterIn(many=True, required=False)
    host = serializers.CharField(max_length=150, required=False, allow_null=True,
                                 help_text="主持人账号（角色为主持人）/ the host account that runs it")


class AnnounceIn(StrictSerializer):
    starts_at = serializers.DateTimeField()
    place = serializers.CharField(max_length=200)
    agenda = serializers.ListField(child=serializers.CharField(max_length=200), max_length=50)
    channels = serializers.ListField(child=serializers.CharField(max_length=100), max_length=20)
    override_reason = serializers.CharField(max_length=500, required=False, allow_null=True)


class CheckInIn(StrictSerializer):
    member_id = Ident()


class GuestIn(StrictSerializer):
    guest_id = Ident()
    name = serializers.CharField(max_length=100)


class ReasonIn(StrictSerializer):
    reason = serializers.CharField(max_length=500)


class SubjectRefIn(StrictSerializer):
    subject_id = Ident()


class CommentIn(StrictSerializer):
    comment_id = Ident(required=False)
    subject_id = Ident()
    text = serializers.CharField(max_length=5000)
    author = serializers.CharField(max_length=100, required=False, allow_null=True)


class QuestionIn(StrictSerializer):
    question_id = Ident(required=False)
    subject_id = Ident()
    text = serializers.CharField(max_length=2000)
    asked_by = serializers.CharField(max_length=100, required=False, allow_null=True)


class AnswerIn(StrictSerializer):
    answer = serializers.CharField(max_length=5000)


class DeferIn(StrictSerializer):
    promise = serializers.CharField(max_length=5000)
    due_on = serializers.DateField()


MARGIN_HELP = "名册人数之外的余量（备用票）/ spare codes over the category's roster, recorded with the batch"


class CodesIn(StrictSerializer):
    category = Ident()
    count = serializers.IntegerField(min_value=1, max_value=2000)
    margin = serializers.IntegerField(min_value=0, max_value=50, default=0, help_text=MARGIN_HELP)


class CodeSheetIn(StrictSerializer):
    codes = serializers.ListField(child=serializers.CharField(max_length=40), min_length=1, max_length=2000)


class PaperBallotIn(StrictSerializer):
    code = serializers.CharField(max_length=40)
    marks = serializers.DictField(child=serializers.DictField(child=serializers.CharField(max_length=64)), help_text=MARKS_HELP)


class PaperBatchIn(StrictSerializer):
    batch_no = serializers.IntegerField(min_value=1, max_value=100000)
    ballots = PaperBallotIn(many=True, max_length=500)


class EmptyIn(StrictSerializer):
    pass


class VoterCodeIn(StrictSerializer):
    code = serializers.CharField(max_length=40)


class VoterBallotIn(StrictSerializer):
    code = serializers.CharField(max_length=40)
    marks = serializers.DictField(child=serializers.DictField(child=serializers.CharField(max_length=64)), help_text=MARKS_HELP)


class VoterQuestionIn(StrictSerializer):
    code = serializers.CharField(max_length=40)
    subject_id = Ident()
    text = serializers.CharField(max_length=2000)
