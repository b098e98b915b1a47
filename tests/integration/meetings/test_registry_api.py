"""The registry of officials and bodies: its doors, its API, and subjects that refer to it across rounds."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django_tenants.utils import schema_context

from accounts.models import User
from accounts.roles import platform_actor
from events.reading import stream_version
from meetings.actions.registry import (
    FirstPost,
    check_assign_post,
    check_end_post,
    check_register_official,
)
from meetings.models import Township, Village
from meetings.registry.events import official_stream
from projections.runtime import get, rebuild
from tests.integration.meetings.api_client import Api

pytestmark = pytest.mark.django_db


def _village(county: Any) -> tuple[int, int, str]:
    """A fresh township with one village: (township id, village id, village name)."""
    suffix = uuid.uuid4().hex[:4]
    with schema_context(county.schema_name):
        township = Township.objects.create(name=f"石桥镇{suffix}")
        village = Village.objects.create(township=township, name=f"马家村{suffix}")
    return township.pk, village.pk, village.name


def _branch_with_secretary(admin: Api, county: Any) -> tuple[str, str, int]:
    """A village Party branch and its secretary, registered through the API: (body id, official id, township id)."""
    township_id, village_id, village = _village(county)
    body_id = admin.post("registry/bodies/", {"name": f"{village}党支部", "kind": "party_branch", "village_id": village_id},
                         expect=201)["body_id"]
    official_id = admin.post("registry/officials/", {
        "name": "王建国", "gender": "male", "body_id": body_id, "post": "党支部书记", "from_date": "2021-01-15",
    }, expect=201)["official_id"]
    return body_id, official_id, township_id


def _schedule(admin: Api, *, year: int, subjects: list[dict[str, Any]], expect: int | None = 201) -> Any:
    round_id = admin.post("rounds/", {"name": f"{year}年度直评村官", "year": year, "variant": "zhi_ping_cun_guan"},
                          expect=201)["round_id"]
    return admin.post("meetings/", {
        "round_id": round_id, "title": f"马家村{year}年度直评村官大会", "township": "石桥镇", "village": "马家村",
        "starts_at": (datetime.now(UTC) + timedelta(days=5)).isoformat(), "place": "村党群服务中心",
        "subjects": subjects, "roster": [{"member_id": "pm0", "name": "党员甲", "category": "party_member"}],
    }, expect=expect)


def _run_to_results(host: Api, meeting_id: str, grade: str) -> None:
    """Announce, check one Party member in, report, vote once with `grade` for every subject, announce results."""
    m = f"meetings/{meeting_id}/"
    host.post(m + "announce/", {
        "starts_at": (datetime.now(UTC) + timedelta(days=5)).isoformat(), "place": "村党群服务中心",
        "agenda": ["述职", "测评"], "channels": ["公示栏"],
    }, expect=200)
    host.post(m + "check-in/", {"member_id": "pm0"}, expect=200)
    host.post(m + "quorum-override/", {"reason": "测试：村民代表未到"}, expect=200)
    host.post(m + "open/", expect=200)
    subjects = [s["subject_id"] for s in host.get(m)["subjects"]]
    for sid in subjects:
        host.post(m + "reports/start/", {"subject_id": sid}, expect=200)
        host.post(m + "reports/end/", {"subject_id": sid}, expect=200)
    (code,) = host.post(m + "codes/", {"category": "party_member", "count": 1}, expect=200)["codes"]
    host.post(m + "ballot/open/", expect=200)
    Api(host.county).post(f"v/{meeting_id}/ballot/", {"code": code, "marks": {s: {"zongti": grade} for s in subjects}},
                          expect=201)
    host.post(m + "ballot/close/", expect=200)
    host.post(m + "results/announce/", expect=200)


def test_the_same_person_keeps_one_id_across_two_rounds(county_a) -> None:
    admin, host = Api(county_a, "county_admin"), Api(county_a, "host")
    body_id, official_id, _ = _branch_with_secretary(admin, county_a)

    first = _schedule(admin, year=2025, subjects=[{"official_id": official_id}, {"body_id": body_id}])
    _run_to_results(host, first["meeting_id"], "chenzhi")
    # A year on, the same person has a second post (一肩挑), and the body was renamed.
    admin.post(f"registry/officials/{official_id}/posts/", {"body_id": body_id, "post": "村委会主任", "from_date": "2025-06-01"},
               expect=200)
    admin.post(f"registry/bodies/{body_id}/rename/", {"name": "马家村党总支"}, expect=200)
    second = _schedule(admin, year=2026, subjects=[{"body_id": body_id}, {"official_id": official_id}])
    _run_to_results(host, second["meeting_id"], "bu_chenzhi")

    for meeting, posts in ((first, "党支部书记"), (second, "党支部书记、村委会主任")):
        subjects = {s["subject_id"]: s for s in host.get(f"meetings/{meeting['meeting_id']}/")["subjects"]}
        assert subjects[official_id]["name"] == "王建国" and subjects[official_id]["post"] == posts
        assert subjects[official_id]["official_id"] == official_id and subjects[body_id]["body_id"] == body_id
    first_body = host.get(f"meetings/{first['meeting_id']}/")["subjects"][1]
    assert first_body["name"].endswith("党支部")  # the first meeting keeps the name it was held under

    history = Api(county_a, "auditor").get(f"registry/officials/{official_id}/subjects/")["subjects"]
    assert [(h["year"], h["meeting_id"], h["subject_id"]) for h in history] == [
        (2025, first["meeting_id"], official_id), (2026, second["meeting_id"], official_id),
    ]
    assert [(h["favourable_percent"], h["unfavourable_percent"], h["flagged"]) for h in history] == [
        ("100.0%", "0.0%", False), ("0.0%", "100.0%", True),
    ]

    # The organization department's page shows the same history in the official's row.
    with schema_context(county_a.schema_name):
        admin.client.force_login(User.objects.get(username=admin.username))
    page = admin.client.get("/registry/?q=王建国", HTTP_HOST=admin.host)
    assert page.status_code == 200
    html = page.content.decode()
    row = html[html.index(f'<tr data-official="{official_id}">'):]
    row = row[:row.index("</tr>")]
    assert row.index("2025年度直评村官") < row.index("好评 100.0% · 差评 0.0%") < row.index("2026年度直评村官")
    assert row.index("2026年度直评村官") < row.index("好评 0.0% · 差评 100.0%") < row.index("约谈线")


def test_references_that_cannot_be_subjects_are_refused_and_append_nothing(county_a) -> None:
    admin = Api(county_a, "county_admin")
    _body_id, official_id, _ = _branch_with_secretary(admin, county_a)
    meetings_before = len(admin.get("meetings/")["meetings"])
    unknown = _schedule(admin, year=2026, subjects=[{"official_id": "of000000000000"}], expect=404)
    assert unknown.error_code == "unknown_official" and "名录中没有" in unknown["error"]["message"]
    both = _schedule(admin, year=2026, subjects=[{"official_id": official_id, "name": "别名"}], expect=400)
    assert both.error_code == "subject_reference_invalid"

    admin.post(f"registry/officials/{official_id}/posts/1/end/", {"to_date": "2025-12-31"}, expect=200)
    ended = _schedule(admin, year=2026, subjects=[{"official_id": official_id}], expect=409)
    assert ended.error_code == "official_post_ended" and "没有在任职务" in ended["error"]["message"]
    assert len(admin.get("meetings/")["meetings"]) == meetings_before  # no refused meeting was recorded
    with schema_context(county_a.schema_name):
        before = stream_version(official_stream(official_id))
    again = admin.post(f"registry/officials/{official_id}/posts/1/end/", {"to_date": "2026-01-31"}, expect=409)
    assert again.error_code == "post_already_ended"
    early = admin.post(f"registry/officials/{official_id}/posts/", {"body_id": "bd000000000000", "post": "书记",
                                                                    "from_date": "2026-01-01"}, expect=400)
    assert early.error_code == "unknown_body"
    assert Api(county_a, "host").post("registry/officials/", {"name": "李四"}, expect=403).error_code == "forbidden"
    with schema_context(county_a.schema_name):
        assert stream_version(official_stream(official_id)) == before


def test_a_meeting_scheduled_without_references_still_works(county_a) -> None:
    admin = Api(county_a, "county_admin")
    meeting = _schedule(admin, year=2026, subjects=[{"subject_id": "o3", "name": "村党支部书记 张三", "level": "village"}])
    subject = admin.get(f"meetings/{meeting['meeting_id']}/")["subjects"][0]
    assert (subject["subject_id"], subject["name"], subject["official_id"]) == ("o3", "村党支部书记 张三", None)


def test_the_registry_projection_rebuilds_equal_to_live(county_a) -> None:
    admin = Api(county_a, "county_admin")
    body_id, official_id, township_id = _branch_with_secretary(admin, county_a)
    with schema_context(county_a.schema_name):
        demo = platform_actor("test")
        other = check_register_official(actor=demo, name="赵敏", first_post=FirstPost(body_id, "党支部委员", date(2022, 3, 1)),
                                        command_id=uuid.uuid4())
        check_end_post(actor=demo, official_id=other, post_no=1, to_date=date(2024, 2, 29), command_id=uuid.uuid4())
        check_assign_post(actor=demo, official_id=other, body_id=body_id, post="党支部书记", from_date=date(2024, 3, 1),
                          command_id=uuid.uuid4())
    admin.post(f"registry/officials/{official_id}/correct/", {"name": "王建民", "gender": "male", "reason": "登记时姓名笔误"},
               expect=200)
    _schedule(admin, year=2026, subjects=[{"official_id": official_id}, {"official_id": other}])
    listed = {o["official_id"]: o for o in admin.get("registry/officials/?q=王建")["officials"]}
    assert listed[official_id]["name"] == "王建民" and other not in listed
    zhao = admin.get(f"registry/officials/{other}/")
    assert [(p["post"], p["to_date"]) for p in zhao["posts"]] == [("党支部书记", None), ("党支部委员", "2024-02-29")]
    bodies = admin.get(f"registry/bodies/?township_id={township_id}")["bodies"]
    assert [(b["body_id"], b["kind_zh"]) for b in bodies] == [(body_id, "村党支部")]
    with schema_context(county_a.schema_name):
        report = rebuild(get("registry"))
    assert report.identical, (report.only_live[:5], report.only_rebuilt[:5])
    assert report.events > 0


def test_a_form_sent_twice_registers_once_and_a_changed_resend_is_refused(county_a) -> None:
    admin = Api(county_a, "county_admin")
    with schema_context(county_a.schema_name):
        admin.client.force_login(User.objects.get(username=admin.username))
    name = f"赵敏{uuid.uuid4().hex[:4]}"
    form = {"form": "official", "official-command_id": str(uuid.uuid4()), "official-name": name, "official-gender": "female"}
    for _ in range(2):  # a double click
        sent = admin.client.post("/registry/", form, HTTP_HOST=admin.host)
        assert sent.status_code == 302 and sent["Location"].endswith("done=official")
    assert [o["name"] for o in admin.get(f"registry/officials/?q={name}")["officials"]] == [name]

    changed = admin.client.post("/registry/", {**form, "official-name": name + "华"}, HTTP_HOST=admin.host)
    assert changed.status_code == 400
    assert "已用于另一条命令，本次命令未执行" in changed.content.decode()
    assert admin.get(f"registry/officials/?q={name}华")["officials"] == []

    # A field refused by the door is shown next to that field, in Chinese; nothing is recorded.
    bad = admin.client.post("/registry/", {
        "form": "body", "body-command_id": str(uuid.uuid4()), "body-name": "某村党支部", "body-kind": "party_branch",
    }, HTTP_HOST=admin.host)
    assert bad.status_code == 400
    html = bad.content.decode()
    assert 'data-field="body-township_id">请选择乡镇（街道）' in html
    assert admin.get("registry/bodies/?q=某村党支部")["bodies"] == []


def test_the_filter_narrows_the_forms_pickers_and_a_form_still_takes_any_choice(county_a) -> None:
    admin = Api(county_a, "county_admin")
    here_body, here, here_township = _branch_with_secretary(admin, county_a)
    there_body, there, _ = _branch_with_secretary(admin, county_a)
    with schema_context(county_a.schema_name):
        admin.client.force_login(User.objects.get(username=admin.username))

    def picker(query: str, form: str, field: str) -> str:
        html = admin.client.get(f"/registry/{query}", HTTP_HOST=admin.host).content.decode()
        start = html.index(f'name="{form}-{field}"')
        return html[start:html.index("</select>", start)]

    assert here in picker("", "post", "official_id") and there in picker("", "post", "official_id")
    narrowed = f"?township={here_township}"
    assert here in picker(narrowed, "post", "official_id") and there not in picker(narrowed, "post", "official_id")
    assert here_body in picker(narrowed, "post", "body_id") and there_body not in picker(narrowed, "post", "body_id")
    assert there not in picker(narrowed, "correct", "official_id")
    # A body's name in the search box: its bodies, and still people to post in them (none match by name).
    by_body = f"?township={here_township}&q=党支部"
    assert here_body in picker(by_body, "post", "body_id") and here in picker(by_body, "post", "official_id")
    # A form sent while narrowed is checked against every choice: a post in another township is taken,
    # and a refused one offers every choice again.
    sent = admin.client.post(f"/registry/{narrowed}", {
        "form": "post", "post-command_id": str(uuid.uuid4()), "post-official_id": here, "post-body_id": there_body,
        "post-post": "党支部委员", "post-from_date": "2024-03-01",
    }, HTTP_HOST=admin.host)
    assert sent.status_code == 302 and sent["Location"].endswith(f"township={here_township}&done=post")
    refused = admin.client.post(f"/registry/{narrowed}", {
        "form": "post", "post-command_id": str(uuid.uuid4()), "post-official_id": there, "post-body_id": there_body,
        "post-post": "", "post-from_date": "2024-03-01",
    }, HTTP_HOST=admin.host)
    assert refused.status_code == 400
    html = refused.content.decode()
    start = html.index('name="post-official_id"')
    assert there in html[start:html.index("</select>", start)]
