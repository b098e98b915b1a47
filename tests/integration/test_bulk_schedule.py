"""Scheduling a township's village meetings in one form, announcing one, its printable A4 notice (real PostgreSQL)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context
from pypdf import PdfReader

from accounts.models import User
from accounts.roles import Actor
from events.reading import stream_version
from meetings import desks
from meetings.actions.registry import FirstPost, check_register_body, check_register_official
from meetings.actions.rounds import check_open_round
from meetings.actions.setup import check_announce_meeting
from meetings.domain.errors import LeadTimeTooShort
from meetings.models import RosterMember, Township, Village
from meetings.streams import load_meeting, meeting_stream
from projections.runtime import get, rebuild
from tests.conftest import host_of
from tests.integration.meetings.api_client import Api

ADMIN = Actor("zuzhibu", "county_admin")
A4 = (595, 842)  # points, rounded


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("bulk")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        yield made
        connection.close()


def _client(county: Any, role: str) -> tuple[Client, str]:
    name = f"{role}_{uuid.uuid4().hex[:6]}"
    User.objects.create_user(username=name, password="pw-" + name + "-Shuping1", role=role, display_name=f"{role}甲")
    client = Client(HTTP_HOST=host_of(county))
    assert client.post("/login/", {"username": name, "password": "pw-" + name + "-Shuping1"}).status_code == 302
    return client, name


def _township(villages: int, *, empty_last: bool = True) -> tuple[Township, list[Village], dict[int, str]]:
    """A township whose villages each have a Party branch with a secretary, and a roster (but the last village)."""
    suffix = uuid.uuid4().hex[:4]
    township = Township.objects.create(name=f"石桥镇{suffix}")
    made, secretaries = [], {}
    for i in range(villages):
        village = Village.objects.create(township=township, name=f"{'东西南北中'[i % 5]}{i}村{suffix}")
        body = check_register_body(actor=ADMIN, name=f"{village.name}党支部", kind="party_branch", township_id=None,
                                   village_id=village.pk, command_id=uuid.uuid4())
        secretaries[village.pk] = check_register_official(
            actor=ADMIN, name=f"王{i}", gender="male", first_post=FirstPost(body, "党支部书记", timezone.localdate()),
            command_id=uuid.uuid4())
        if i < villages - 1 or not empty_last:
            for n in range(5):
                RosterMember.objects.create(village=village, name=f"党员{n}", category="party_member")
        made.append(village)
    return township, made, secretaries


def _new_round() -> str:
    return check_open_round(actor=ADMIN, name="2026年度直评村官", year=2026, variant="zhi_ping_cun_guan", rules=None,
                            command_id=uuid.uuid4())


def _form(page: Any, township: Township) -> dict[str, Any]:
    """What the drawn form would send back as it was filled in (its initial values)."""
    data: dict[str, Any] = {"township": township.pk}
    for row in page.context["rows"]:
        form = row["form"]
        for name, field in form.fields.items():
            value = form.initial.get(name, field.initial)
            key = f"{form.prefix}-{name}"
            if name == "include":
                data[key] = "on"
            elif value is not None:
                data[key] = value
    return data


def test_a_township_is_scheduled_in_one_form_and_a_failed_row_leaves_the_others_done(county: Any) -> None:
    admin, _ = _client(county, "county_admin")
    host, host_name = _client(county, "host")
    round_id = _new_round()
    township, villages, secretaries = _township(3)
    page = admin.get(f"/rounds/{round_id}/schedule/?township={township.pk}")
    assert page.status_code == 200
    assert sorted(r["village_id"] for r in page.context["rows"]) == sorted(v.pk for v in villages)
    rostered, empty = villages[:2], villages[2]  # the last village has no roster in the directory
    by_id = {v.pk: v for v in villages}
    villages = [v for v in (by_id[r["village_id"]] for r in page.context["rows"]) if v != empty][:2] + [empty]
    assert set(villages[:2]) == set(rostered)
    # the subjects are pre-filled from the registry: the village's branch and its secretary
    first = next(r["form"] for r in page.context["rows"] if r["village_id"] == villages[0].pk)
    assert len(first.initial["subjects"]) == 2 and f"official:{secretaries[villages[0].pk]}" in first.initial["subjects"]

    data = _form(page, township)
    day = (timezone.localdate() + timedelta(days=10)).isoformat()
    for i, village in enumerate(villages):
        data |= {f"v{village.pk}-date": day, f"v{village.pk}-time": f"{9 + i:02d}:00"}
    data[f"v{villages[0].pk}-host"] = host_name
    data[f"v{villages[1].pk}-host"] = "nobody"  # not a host account: refused next to the field
    # the last village has no roster in the directory: "roster from the village" is refused there
    sent = admin.post(f"/rounds/{round_id}/schedule/", data)
    assert sent.status_code == 400
    rows = {r["village_id"]: r for r in sent.context["rows"]}
    assert rows[villages[0].pk].get("meeting_id")
    assert "请从列表中选择" in rows[villages[1].pk]["form"].errors["host"][0]
    assert "花名册为空" in rows[villages[2].pk]["form"].errors["roster"][0]
    assert "已安排 1 场；2 个村未安排" in sent.content.decode()
    scheduled = [m for m in desks.meetings_all() if m["round_id"] == round_id]
    assert [(m["village"], m["host"]) for m in scheduled] == [(villages[0].name, host_name)]

    # the same form resent (a double click, the back button) schedules nothing twice
    again = admin.post(f"/rounds/{round_id}/schedule/", data)
    assert {r["village_id"]: r.get("meeting_id") for r in again.context["rows"]}[villages[0].pk] == \
        rows[villages[0].pk]["meeting_id"]
    assert len([m for m in desks.meetings_all() if m["round_id"] == round_id]) == 1

    # corrected rows go through; the done one is not sent again
    fixed = {k: v for k, v in data.items() if not k.startswith(f"v{villages[0].pk}-")}
    fixed[f"v{villages[1].pk}-host"] = ""
    fixed[f"v{villages[2].pk}-roster"] = "upload"
    no_file = admin.post(f"/rounds/{round_id}/schedule/", fixed)
    assert no_file.status_code == 400
    assert "请选择花名册文件" in {r["village_id"]: r for r in no_file.context["rows"]}[villages[2].pk][
        "form"].errors["roster_file"][0]
    bad = SimpleUploadedFile("花名册.csv", "姓名,身份类别\n张三,外星人\n".encode())
    refused = admin.post(f"/rounds/{round_id}/schedule/", {**fixed, f"v{villages[2].pk}-roster_file": bad})
    error = {r["village_id"]: r for r in refused.context["rows"]}[villages[2].pk]["form"].errors["roster_file"][0]
    assert error.startswith("花名册未导入：第2行")
    good = SimpleUploadedFile("花名册.csv", "姓名,身份类别\n张三,党员\n李四,村民代表\n".encode())
    done = admin.post(f"/rounds/{round_id}/schedule/", {**fixed, f"v{villages[2].pk}-roster_file": good})
    assert done.status_code == 200, done.content.decode()[:2000]
    meetings = sorted((m["village"], m["host"], m["place"]) for m in desks.meetings_all() if m["round_id"] == round_id)
    assert [m[0] for m in meetings] == sorted(v.name for v in villages)
    uploaded = next(m for m in desks.meetings_all() if m["village"] == villages[2].name)
    roster = load_meeting(uploaded["meeting_id"]).state.roster.values()
    assert sorted((e.name, e.category) for e in roster) == [("张三", "party_member"), ("李四", "representative")]

    # the host's "my meetings" lists their own meeting first, marked as theirs
    mine = host.get("/my/meetings/")
    upcoming = mine.context["upcoming"]
    assert upcoming[0]["village"] == villages[0].name and upcoming[0]["mine"]
    assert "我主持" in mine.content.decode()
    assert host.get(f"/rounds/{round_id}/schedule/").status_code == 403
    # the board's host column rebuilt from the log equals the live one
    report = rebuild(get("meeting_board"))
    assert report.identical, (report.only_live[:3], report.only_rebuilt[:3])


def test_an_announcement_inside_the_lead_time_needs_a_reason_and_the_notice_prints_on_a4(county: Any) -> None:
    admin, _ = _client(county, "county_admin")
    round_id = _new_round()
    township, villages, _ = _township(1, empty_last=False)
    page = admin.get(f"/rounds/{round_id}/schedule/?township={township.pk}")
    data = _form(page, township)
    soon = timezone.localdate() + timedelta(days=1)  # inside the round's 3-day lead time
    data |= {f"v{villages[0].pk}-date": soon.isoformat(), f"v{villages[0].pk}-time": "14:30",
             f"v{villages[0].pk}-place": "石桥村党群服务中心二楼", f"v{villages[0].pk}-roster": "village"}
    sent = admin.post(f"/rounds/{round_id}/schedule/", data)
    assert sent.status_code == 200, sent.content.decode()[:2000]
    meeting_id = sent.context["rows"][0]["meeting_id"]
    assert f"/hall/{meeting_id}/announce/" in admin.get("/workspace/").content.decode()

    # the door itself: no reason inside the lead time -> a Chinese refusal with a stable code, nothing appended
    before = stream_version(meeting_stream(meeting_id))
    with pytest.raises(LeadTimeTooShort) as refused:
        check_announce_meeting(actor=ADMIN, meeting_id=meeting_id, starts_at=timezone.now() + timedelta(days=1),
                               place="村委会", agenda=["述职"], channels=["notice_board"], command_id=uuid.uuid4())
    assert refused.value.code == "lead_time_too_short" and "至少提前3天" in refused.value.message_zh

    form_page = admin.get(f"/hall/{meeting_id}/announce/")
    assert form_page.status_code == 200
    initial = form_page.context["form"].initial
    form = {"command_id": initial["command_id"], "date": soon.isoformat(), "time": "14:30",
            "place": "石桥村党群服务中心二楼", "agenda": initial["agenda"], "channels": ["notice_board", "broadcast"]}
    no_reason = admin.post(f"/hall/{meeting_id}/announce/", form)
    assert no_reason.status_code == 400
    assert "至少提前3天公告" in no_reason.context["form"].errors["override_reason"][0]
    assert stream_version(meeting_stream(meeting_id)) == before
    assert admin.get(f"/hall/{meeting_id}/announcement.pdf").status_code == 409  # nothing to print yet

    form["override_reason"] = "防汛任务提前，经镇党委同意缩短公告期"
    announced = admin.post(f"/hall/{meeting_id}/announce/", form)
    assert announced.status_code == 302
    assert admin.post(f"/hall/{meeting_id}/announce/", form).status_code in (302, 400)  # a resend: not twice
    assert stream_version(meeting_stream(meeting_id)) == before + 1
    notice = desks.meeting_notice(meeting_id)
    assert notice is not None and notice["announcement"]["override_reason"] == form["override_reason"]
    assert notice["phase"] == "announced"

    pdf = admin.get(f"/hall/{meeting_id}/announcement.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == A4
    text = "".join(p.extract_text() for p in reader.pages).replace(" ", "").replace("\n", "")
    assert "石桥村党群服务中心二楼" in text
    assert f"{soon.year}年{soon.month}月{soon.day}日" in text and "14:30" in text
    assert "王0" in text and "党支部书记" in text and f"{villages[0].name}党支部" in text
    assert "民主测评" in text and "村务公开栏" in text and "广播" in text


def test_the_api_records_a_host_and_refuses_an_account_that_is_not_one(county: Any) -> None:
    admin, host = Api(county, "county_admin"), Api(county, "host")
    teller = Api(county, "teller")
    round_id = _new_round()
    body = {
        "round_id": round_id, "title": "马家村述评大会", "township": "石桥镇", "village": "马家村",
        "starts_at": (timezone.now() + timedelta(days=5)).isoformat(), "place": "村委会",
        "subjects": [{"subject_id": "shuji", "name": "王建国", "level": "village"}],
        "roster": [{"member_id": "p1", "name": "党员甲", "category": "party_member"}],
    }
    before = len(desks.meetings_all())
    refused = admin.post("meetings/", {**body, "host": teller.username}, expect=400)
    assert refused.error_code == "unknown_host" and "不是本县的主持人账号" in refused["error"]["message"]
    assert len(desks.meetings_all()) == before
    meeting_id = admin.post("meetings/", {**body, "host": host.username}, expect=201)["meeting_id"]
    assert host.get(f"meetings/{meeting_id}/")["host"] == host.username
