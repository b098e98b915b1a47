"""The meeting API: thin adapters that parse, call the one door (meetings.services), answer.

Every write is a command. A client sends an `Idempotency-Key` header (any
UUID) with it: a retry with the same key has the effect of one command and
gets the first answer back. Errors share one format (shuping.api).
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from django.db import connection
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from events import store
from events.export import export_stream
from events.types import DomainEvent
from live import tokens
from meetings import ballot_box, codes, services
from meetings.api import lean
from meetings.api import serializers as s
from meetings.domain.aggregate import Meeting
from meetings.domain.rules import PRESETS, Rules, RulesInvalid, preset
from meetings.events import PaperBallot, RosterEntry, RoundOpened, SubjectEntry
from meetings.selectors import meeting_summary, results_body
from shuping.api import READERS, ApiError, roles
from shuping.db import current_schema

ADMINS = ("county_admin",)
HOSTS = ("host", "county_admin")
DESK = ("host", "teller", "county_admin")
TELLERS = ("teller",)
AUDIT = ("auditor", "county_admin")

IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
    description="命令编号（UUID）：重试同一命令时带上同一编号，只生效一次 / command id: a retry with the same key has the effect of one",
)


def command_id(request: Request) -> str:
    key = request.headers.get("Idempotency-Key")
    if not key:
        return str(uuid.uuid4())
    try:
        return str(uuid.UUID(key))
    except ValueError:
        raise ApiError("invalid_idempotency_key", "Idempotency-Key 须为 UUID", "Idempotency-Key must be a UUID") from None


def actor(request: Request) -> str:
    return str(request.user.username) if request.user else "voter"


def parse(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def chain(meeting: Meeting, *steps: Callable[[Meeting], Sequence[DomainEvent]]) -> list[DomainEvent]:
    """Decide several commands in a row on a private copy (e.g. schedule, then configure)."""
    state = copy.deepcopy(meeting)
    events: list[DomainEvent] = []
    for step in steps:
        new = list(step(state))
        for event in new:
            state.apply(event)
        events.extend(new)
    return events


def outcome_body(outcome: services.Outcome, **extra: Any) -> dict[str, Any]:
    result = outcome.result
    body: dict[str, Any] = {
        "events": [type(e).__name__ for e in outcome.events],
        "version": result.last_version if result else outcome.meeting.version,
        "head_hash": result.head_hash if result else None,
        "replayed": bool(result and result.replayed),
    }
    body.update(extra)
    return body


# -- rounds ------------------------------------------------------------------------------


class PresetsApi(APIView):
    permission_classes = [roles(*READERS)]

    @extend_schema(summary="规则预设 / rule presets", responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response({name: rules.to_data() for name, rules in PRESETS.items()})


def _rounds() -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT stream_id FROM event_streams WHERE stream_id LIKE 'round-%%' ORDER BY stream_id")
        ids = [r[0] for r in cursor.fetchall()]
    rounds = []
    for stream_id in ids:
        first = store.read_stream(stream_id, limit=1)[0].typed()
        assert isinstance(first, RoundOpened)
        rounds.append({"round_id": first.round_id, "name": first.name, "year": first.year, "rules": first.rules})
    return rounds


def round_rules(round_id: str) -> Rules:
    events = store.read_stream(f"round-{round_id}", limit=1)
    if not events:
        raise ApiError("unknown_round", f"找不到述评活动 {round_id}", f"no round {round_id}", status_code=404)
    opened = events[0].typed()
    assert isinstance(opened, RoundOpened)
    return Rules.from_data(opened.rules)


class RoundsApi(APIView):
    permission_classes = [roles(*READERS)]

    def get_permissions(self) -> list[Any]:
        return [roles(*ADMINS)()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(summary="述评活动列表 / rounds", responses={200: dict})
    def get(self, request: Request) -> Response:
        return Response({"rounds": _rounds()})

    @extend_schema(summary="发起述评活动 / open a round", request=s.RoundIn, responses={201: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request) -> Response:
        data = parse(s.RoundIn, request)
        rules = Rules.from_data(data["rules"]) if data.get("rules") is not None else preset(data["variant"])
        if rules.variant != data["variant"]:
            raise RulesInvalid("规则与所选类型不一致", "rules.variant differs from variant", code="rules_invalid")
        rules.validate()
        round_id = f"r{uuid.uuid4().hex[:12]}"
        result = store.append(
            f"round-{round_id}",
            [RoundOpened(round_id=round_id, name=data["name"], year=data["year"], rules=rules.to_data())],
            expected_version=store.NO_STREAM, command_id=command_id(request), actor=actor(request),
        )
        if result.replayed:
            round_id = result.stream_id.removeprefix("round-")
        return Response({"round_id": round_id}, status=status.HTTP_201_CREATED)


# -- meetings ------------------------------------------------------------------------------


class MeetingsApi(APIView):
    permission_classes = [roles(*READERS)]

    def get_permissions(self) -> list[Any]:
        return [roles(*ADMINS)()] if self.request.method == "POST" else super().get_permissions()

    @extend_schema(summary="会议列表 / meetings", responses={200: dict})
    def get(self, request: Request) -> Response:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT meeting_id, title, township, village, ballots_cast, version FROM proj_meeting_board ORDER BY meeting_id"
            )
            rows = cursor.fetchall()
        keys = ("meeting_id", "title", "township", "village", "ballots_cast", "version")
        return Response({"meetings": [dict(zip(keys, row, strict=True)) for row in rows]})

    @extend_schema(summary="安排会议 / schedule a meeting", request=s.MeetingIn, responses={201: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request) -> Response:
        data = parse(s.MeetingIn, request)
        rules = round_rules(data["round_id"])
        meeting_id = data.get("meeting_id") or f"m{uuid.uuid4().hex[:12]}"
        subjects = [SubjectEntry(**x) for x in data["subjects"]]
        roster = [RosterEntry(**x) for x in data.get("roster") or []]
        if data.get("village_id") is not None:
            roster += _roster_of_village(data["village_id"])
        outcome = services.execute(
            meeting_id,
            lambda m: chain(
                m,
                lambda st: st.schedule(
                    meeting_id=meeting_id, title=data["title"], township=data["township"],
                    village=data["village"], starts_at=data["starts_at"], place=data["place"],
                ),
                lambda st: st.configure(rules=rules, subjects=subjects, roster=roster),
            ),
            command_id=command_id(request), actor=actor(request), new_meeting=True,
        )
        if outcome.result is not None:
            meeting_id = outcome.result.stream_id.removeprefix("meeting-")
        return Response(outcome_body(outcome, meeting_id=meeting_id), status=status.HTTP_201_CREATED)


def _roster_of_village(village_id: int) -> list[RosterEntry]:
    from meetings.models import RosterMember

    members = RosterMember.objects.filter(village_id=village_id).order_by("pk")
    if not members.exists():
        raise ApiError("empty_roster", "该村花名册为空", "the village's roster is empty")
    return [RosterEntry(member_id=f"p{m.pk}", name=m.name, category=m.category) for m in members]


class MeetingApi(APIView):
    permission_classes = [roles(*READERS)]

    @extend_schema(summary="会议状态 / meeting state", responses={200: dict})
    def get(self, request: Request, meeting_id: str) -> Response:
        meeting = services.load(meeting_id)
        body = meeting_summary(meeting)
        body["ballots_cast"] = services.turnout(meeting_id)
        return Response(body)


def command(
    summary: str,
    body: type[serializers.Serializer],
    allowed: Sequence[str],
    decide: Callable[[Meeting, dict[str, Any], Request], Sequence[DomainEvent]],
    *,
    extra: Callable[[services.Outcome, dict[str, Any]], dict[str, Any]] | None = None,
) -> type[APIView]:
    """An endpoint for one meeting command: parse `body`, decide, append, answer."""

    class CommandApi(APIView):
        permission_classes = [roles(*allowed)]

        @extend_schema(summary=summary, request=body, responses={200: dict}, parameters=[IDEMPOTENCY])
        def post(self, request: Request, meeting_id: str) -> Response:
            data = parse(body, request)
            outcome = services.execute(
                meeting_id, lambda m: decide(m, data, request), command_id=command_id(request), actor=actor(request)
            )
            return Response(outcome_body(outcome, **(extra(outcome, data) if extra else {})))

    CommandApi.__name__ = CommandApi.__qualname__ = "".join(w.title() for w in summary.split(" / ")[-1].split()) + "Api"
    return CommandApi


def _now() -> datetime:
    return services.now()


AnnounceApi = command(
    "发布会议公告 / announce", s.AnnounceIn, HOSTS,
    lambda m, d, r: m.announce(
        starts_at=d["starts_at"], place=d["place"], agenda=d["agenda"], channels=d["channels"],
        now=_now(), override_reason=d.get("override_reason"),
    ),
)
CheckInApi = command("签到 / check in", s.CheckInIn, DESK, lambda m, d, r: m.check_in(member_id=d["member_id"]))
GuestCheckInApi = command(
    "列席人员签到 / check in a guest", s.GuestIn, DESK,
    lambda m, d, r: m.check_in_guest(guest_id=d["guest_id"], name=d["name"]),
)
QuorumOverrideApi = command(
    "未达法定人数时准予开始 / override quorum", s.ReasonIn, HOSTS,
    lambda m, d, r: m.override_quorum(reason=d["reason"], actor=actor(r), now=_now()),
)
OpenMeetingApi = command("开始会议 / open meeting", s.EmptyIn, HOSTS, lambda m, d, r: m.open_meeting(now=_now()))
StartReportApi = command(
    "开始述职 / start report", s.SubjectRefIn, HOSTS, lambda m, d, r: m.start_report(subject_id=d["subject_id"], now=_now())
)
EndReportApi = command(
    "结束述职 / end report", s.SubjectRefIn, HOSTS, lambda m, d, r: m.end_report(subject_id=d["subject_id"], now=_now())
)
CommentApi = command(
    "记录点评 / record comment", s.CommentIn, HOSTS,
    lambda m, d, r: m.record_comment(
        comment_id=d.get("comment_id") or f"c{uuid.uuid4().hex[:12]}", subject_id=d["subject_id"],
        text=d["text"], author=d.get("author"), now=_now(),
    ),
)
QuestionApi = command(
    "记录提问 / ask question", s.QuestionIn, HOSTS,
    lambda m, d, r: m.ask_question(
        question_id=d.get("question_id") or f"q{uuid.uuid4().hex[:12]}", subject_id=d["subject_id"],
        text=d["text"], asked_by=d.get("asked_by"),
    ),
    extra=lambda o, d: {"question_id": getattr(o.events[0], "question_id", None) if o.events else d.get("question_id")},
)
OpenBallotApi = command("开始投票 / open ballot", s.EmptyIn, HOSTS, lambda m, d, r: m.open_ballot(now=_now()))
AnnounceResultsApi = command(
    "公布结果 / announce results", s.EmptyIn, HOSTS, lambda m, d, r: m.announce_results(now=_now())
)
CloseMeetingApi = command("结束会议 / close meeting", s.EmptyIn, HOSTS, lambda m, d, r: m.close_meeting(now=_now()))


class AnswerApi(APIView):
    permission_classes = [roles(*HOSTS)]

    @extend_schema(summary="当场答复 / answer question", request=s.AnswerIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str, question_id: str) -> Response:
        data = parse(s.AnswerIn, request)
        outcome = services.execute(
            meeting_id, lambda m: m.answer_question(question_id=question_id, answer=data["answer"]),
            command_id=command_id(request), actor=actor(request),
        )
        return Response(outcome_body(outcome))


class DeferApi(APIView):
    permission_classes = [roles(*HOSTS)]

    @extend_schema(summary="会后答复（承诺）/ defer answer", request=s.DeferIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str, question_id: str) -> Response:
        data = parse(s.DeferIn, request)
        outcome = services.execute(
            meeting_id,
            lambda m: m.defer_question(question_id=question_id, promise=data["promise"], due_on=data["due_on"].isoformat()),
            command_id=command_id(request), actor=actor(request),
        )
        return Response(outcome_body(outcome))


class CodesApi(APIView):
    """Issue ballot codes: the plain codes are in this answer only; the log keeps their hashes."""

    permission_classes = [roles(*HOSTS)]

    @extend_schema(summary="生成测评码 / issue ballot codes", request=s.CodesIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.CodesIn, request)
        county = str(current_schema())
        plain = codes.generate_codes(data["count"])
        hashes = [codes.code_hash(county, meeting_id, c) for c in plain]
        outcome = services.execute(
            meeting_id, lambda m: m.issue_ballot_codes(category=data["category"], code_hashes=hashes),
            command_id=command_id(request), actor=actor(request),
        )
        if outcome.result is not None and outcome.result.replayed:
            raise ApiError(
                "codes_not_repeatable",
                "这批测评码已经生成；明码不保存，无法再次显示。如遗失，请另行生成一批。",
                "these codes were issued before; plain codes are not kept and cannot be shown again",
                status_code=status.HTTP_409_CONFLICT,
            )
        base = f"{request.scheme}://{request.get_host()}/v/{meeting_id}"
        return Response(outcome_body(outcome, category=data["category"], codes=plain,
                                     urls=[codes.ballot_url(base, c) for c in plain]))


class CloseBallotApi(APIView):
    permission_classes = [roles(*HOSTS)]

    @extend_schema(summary="结束投票 / close ballot", request=s.EmptyIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        outcome = services.close_ballot(meeting_id, command_id=command_id(request), actor=actor(request))
        return Response(outcome_body(outcome))


class PaperBatchApi(APIView):
    permission_classes = [roles(*TELLERS)]

    @extend_schema(summary="录入纸质选票批次 / enter a paper batch", request=s.PaperBatchIn, responses={200: dict}, parameters=[IDEMPOTENCY])
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.PaperBatchIn, request)
        county = str(current_schema())
        ballots = [
            PaperBallot(code_hash=_code_hash(county, meeting_id, b["code"]), marks=b["marks"]) for b in data["ballots"]
        ]
        outcome = services.execute(
            meeting_id,
            lambda m: m.enter_paper_batch(batch_no=data["batch_no"], teller=actor(request), ballots=ballots, now=_now()),
            command_id=command_id(request), actor=actor(request),
        )
        meeting = services.load(meeting_id)
        return Response(outcome_body(outcome, batch_no=data["batch_no"], status=meeting.paper_batch_status(data["batch_no"])))


class PaperBatchStatusApi(APIView):
    permission_classes = [roles(*DESK, "auditor")]

    @extend_schema(summary="纸质批次核对 / paper batch reconciliation", responses={200: dict})
    def get(self, request: Request, meeting_id: str, batch_no: int) -> Response:
        meeting = services.load(meeting_id)
        differences = meeting.paper_batch_differences(batch_no)
        return Response({
            "batch_no": batch_no,
            "status": meeting.paper_batch_status(batch_no),
            "differences": [{"code_hash": d.code_hash, "entries": d.entries} for d in differences],
        })


class ResultsApi(APIView):
    permission_classes = [roles(*READERS)]

    @extend_schema(summary="测评结果 / results", responses={200: dict})
    def get(self, request: Request, meeting_id: str) -> Response:
        meeting = services.load(meeting_id)
        if meeting.phase not in ("results_announced", "closed"):
            raise ApiError("results_not_announced", "结果尚未公布", "results are not announced yet", status_code=409)
        return Response(results_body(meeting_id, meeting))


class LogApi(APIView):
    permission_classes = [roles(*AUDIT)]

    @extend_schema(summary="导出会议日志（JSONL）/ export the meeting log", responses={200: str})
    def get(self, request: Request, meeting_id: str) -> HttpResponse:
        services.load(meeting_id)
        response = HttpResponse(content_type="application/x-ndjson; charset=utf-8")
        export_stream(services.stream_of(meeting_id), response)  # type: ignore[arg-type]
        response["Content-Disposition"] = f'attachment; filename="meeting-{meeting_id}.jsonl"'
        return response


# -- voters: a code is all they need ---------------------------------------------------------


_code_hash = lean.code_hash


def _voter_category(meeting: Meeting, code_hash: str) -> str:
    category = meeting.issued.get(code_hash)
    if category is None:
        raise ApiError("unknown_code", "测评码无效，请核对后重新输入", "unknown ballot code", status_code=404)
    return category


class VoterFormApi(APIView):
    permission_classes: list[Any] = []
    authentication_classes: list[Any] = []

    @extend_schema(summary="选票内容 / ballot form for a code", request=s.VoterCodeIn, responses={200: dict})
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.VoterCodeIn, request)
        meeting = services.load(meeting_id)
        code_hash = _code_hash(str(current_schema()), meeting_id, data["code"])
        category = _voter_category(meeting, code_hash)
        rules = meeting.require_rules()
        return Response({
            "meeting_id": meeting_id, "title": meeting.title, "phase": meeting.phase, "category": category,
            "scale": rules.to_data()["scale"], "criteria": rules.to_data()["criteria"],
            "subjects": [{"subject_id": x.subject_id, "name": x.name} for x in meeting.subjects_graded_by(category)],
            "voted": code_hash in ballot_box.used_code_hashes(meeting_id) or code_hash in meeting.phone_ballots,
            # Opens the phone page's websocket (read-only, this meeting only).
            "live_token": tokens.issue(county=str(current_schema()), meeting_id=meeting_id, kind="phone"),
        })


class VoterBallotApi(APIView):
    """Cast a ballot. Served by `lean.ballot_view` in front of this view: the
    common request shape takes the fast path, anything else comes here."""

    permission_classes: list[Any] = []
    authentication_classes: list[Any] = []

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Any:
        drf_view = super().as_view(**initkwargs)
        return lean.ballot_view(drf_view, allow=", ".join(cls().allowed_methods))

    @extend_schema(summary="投票 / cast a ballot", request=s.VoterBallotIn, responses={201: dict})
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.VoterBallotIn, request)
        code_hash = _code_hash(str(current_schema()), meeting_id, data["code"])
        receipt = services.cast_ballot(meeting_id, code_hash, data["marks"])
        return Response(
            {"receipt": receipt.receipt, "repeated": receipt.repeated},
            status=status.HTTP_200_OK if receipt.repeated else status.HTTP_201_CREATED,
        )


class VoterQuestionApi(APIView):
    permission_classes: list[Any] = []
    authentication_classes: list[Any] = []

    @extend_schema(summary="匿名提问 / ask anonymously", request=s.VoterQuestionIn, responses={200: dict})
    def post(self, request: Request, meeting_id: str) -> Response:
        data = parse(s.VoterQuestionIn, request)
        meeting = services.load(meeting_id)
        _voter_category(meeting, _code_hash(str(current_schema()), meeting_id, data["code"]))
        question_id = f"q{uuid.uuid4().hex[:12]}"
        outcome = services.execute(
            meeting_id,
            lambda m: m.ask_question(question_id=question_id, subject_id=data["subject_id"], text=data["text"], asked_by=None),
            command_id=None, actor=None,
        )
        return Response(outcome_body(outcome, question_id=question_id))
