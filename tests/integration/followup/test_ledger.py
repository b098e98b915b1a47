"""Interviews and the rectification ledger against real PostgreSQL: doors, sweepers, reads, pages.

The county is committed (make_county) and the doors are driven directly, as
the pages and the sweepers do; pages are asked through Django's test client
on the county's host name.
"""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context
from openpyxl import load_workbook
from PIL import Image

from accounts.models import User
from accounts.roles import Actor
from common.refusal import Forbidden, Refusal
from events import reading
from followup import interviews_selectors, ledger_selectors
from followup.actions import interviews as interview_doors
from followup.actions import ledger as doors
from followup.ledger import ledger_stream
from followup.ledger_files import MAX_BYTES, Upload
from followup.sweeps import run_sweepers
from projections.runtime import get, rebuild, state_of
from tests.conftest import host_of
from tests.integration.followup.meeting_with_results import ADMIN, HOST, announced_meeting, cid

TODAY = date(2026, 12, 2)


def photo(color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(out, format="JPEG")
    return out.getvalue()


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("ledger")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        yield made
        connection.close()


@pytest.fixture(autouse=True)
def evidence_root(settings: Any, tmp_path: Path) -> Path:
    settings.EVIDENCE_ROOT = tmp_path / "evidence"
    return Path(settings.EVIDENCE_ROOT)


@pytest.fixture(scope="module")
def meeting(county: Any) -> str:
    return announced_meeting()


def events_of(item_id: str) -> int:
    return reading.stream_version(ledger_stream(item_id))


def new_item(meeting: str, *, problem: str = "村道年久失修，群众出行不便") -> str:
    return doors.check_raise_ledger_item(actor=ADMIN, meeting_id=meeting, source_kind="low_grade", source_ref="shuji",
                                         problem=problem, note="书记本人表示压力大（内部）", command_id=cid())


def add(item_id: str, text: str, deadline: date | None) -> None:
    doors.check_add_measure(actor=ADMIN, item_id=item_id, text=text, owner="王建国", deadline=deadline, today=TODAY,
                            command_id=cid())


def assert_rebuild_equals_live() -> None:
    for name in ("followup_interviews", "ledger"):
        projection = get(name)
        live = state_of(projection)
        report = rebuild(projection)
        assert report.identical, (name, report.only_live, report.only_rebuilt)
        assert state_of(projection) == live


# -- interviews --------------------------------------------------------------------------------------


def test_the_sweeper_opens_one_interview_per_flagged_subject_and_records_once(county: Any, meeting: str) -> None:
    now = datetime(2026, 12, 2, 8, tzinfo=UTC)
    first = run_sweepers(now)
    assert first["interviews"] >= 1
    again = run_sweepers(now)
    assert again == {name: 0 for name in again}, "a second sweep records nothing"
    listed = [i for i in interviews_selectors.interviews_list(today=TODAY) if i["meeting_id"] == meeting]
    assert [(i["subject_id"], i["state"]) for i in listed] == [("shuji", "opened")]  # 李秀英 graded well: no interview
    assert listed[0]["unfavourable_percent"] == "40.0%"  # 8 of 20 graded 不称职
    # Opening it again through the door (a second worker) appends nothing either.
    stream_before = reading.stream_version(f"interview-{listed[0]['interview_id']}")
    interview_doors.check_open_interview(actor=Actor("sweeper", "platform"), meeting_id=meeting, subject_id="shuji",
                                         today=TODAY)
    assert reading.stream_version(f"interview-{listed[0]['interview_id']}") == stream_before == 1
    assert_rebuild_equals_live()


def test_no_one_opens_an_interview_by_hand_nor_for_a_subject_not_flagged(county: Any, meeting: str) -> None:
    with pytest.raises(Forbidden):
        interview_doors.check_open_interview(actor=ADMIN, meeting_id=meeting, subject_id="shuji", today=TODAY)
    with pytest.raises(Refusal) as refused:
        interview_doors.check_open_interview(actor=Actor("sweeper", "platform"), meeting_id=meeting,
                                             subject_id="zhuren", today=TODAY)
    assert refused.value.code == "not_flagged"


def test_interviews_due_and_overdue_are_listed_for_the_host_and_the_county(county: Any, meeting: str) -> None:
    run_sweepers(datetime(2026, 12, 2, 8, tzinfo=UTC))
    due = interviews_selectors.interviews_due(today=timezone.localdate())
    assert any(i["meeting_id"] == meeting for i in due["due"])
    later = interviews_selectors.interviews_due(today=timezone.localdate() + timedelta(days=40))
    assert any(i["meeting_id"] == meeting for i in later["overdue"])
    # The meeting has no host assigned, so every host of the county sees it on "my meetings".
    page = login(county, "host").get("/my/meetings/", HTTP_HOST=host_of(county)).content.decode()
    assert "待办诫勉谈话" in page and "村党支部书记 王建国" in page


def test_an_interview_is_recorded_then_its_plan_needs_a_deadline(county: Any) -> None:
    mid = announced_meeting(village="西关村")
    run_sweepers(datetime(2026, 12, 2, 8, tzinfo=UTC))
    [opened] = [i for i in interviews_selectors.interviews_list(today=TODAY) if i["meeting_id"] == mid]
    iid = opened["interview_id"]
    with pytest.raises(Refusal) as refused:
        interview_doors.check_file_rectification_plan(actor=ADMIN, interview_id=iid, plan="整改", deadline=None,
                                                      command_id=cid())
    assert refused.value.code == "interview_not_held"
    interview_doors.check_hold_interview(actor=ADMIN, interview_id=iid, kind="summons", interviewer="县委组织部 张部长",
                                         held_on=timezone.localdate(), record="指出问题三项", command_id=cid())
    version = reading.stream_version(f"interview-{iid}")
    with pytest.raises(Refusal) as refused:
        interview_doors.check_file_rectification_plan(actor=ADMIN, interview_id=iid, plan="三个月内公开账目",
                                                      deadline=None, command_id=cid())
    assert refused.value.code == "deadline_required" and "时限" in refused.value.message_zh
    assert reading.stream_version(f"interview-{iid}") == version
    interview_doors.check_file_rectification_plan(actor=ADMIN, interview_id=iid, plan="三个月内公开账目",
                                                  deadline=timezone.localdate() + timedelta(days=90), command_id=cid())
    shown = interviews_selectors.interview(iid, today=TODAY)
    assert shown is not None and (shown["kind_name"], shown["state"]) == ("约谈", "planned")
    assert_rebuild_equals_live()


# -- the ledger: bad input appends nothing -----------------------------------------------------------------


def test_a_measure_without_a_deadline_is_refused_and_appends_nothing(county: Any, meeting: str) -> None:
    item = new_item(meeting)
    before = events_of(item)
    with pytest.raises(Refusal) as refused:
        add(item, "修缮村道", None)
    assert refused.value.code == "measure_needs_deadline"
    assert refused.value.message_zh == "每条整改措施都须有完成时限"
    assert events_of(item) == before


def test_an_oversize_or_disguised_upload_is_refused_and_leaves_no_event_nor_file(
    county: Any, meeting: str, evidence_root: Path,
) -> None:
    item = new_item(meeting)
    add(item, "修缮村道", TODAY + timedelta(days=30))
    before = events_of(item)
    exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 200 + b"This program cannot be run in DOS mode"
    for upload, code in [
        (Upload("照片.jpg", exe), "file_type_refused"),
        (Upload("大照片.jpg", photo() + b"\x00" * MAX_BYTES), "file_too_large"),
        (Upload("半张.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40), "file_type_refused"),
    ]:
        with pytest.raises(Refusal) as refused:
            doors.check_complete_measure(actor=ADMIN, item_id=item, measure_no=1, evidence="已修好",
                                         uploads=[Upload("好的.jpg", photo()), upload], today=TODAY, command_id=cid())
        assert refused.value.code == code
        assert upload.name in refused.value.message_zh
    assert events_of(item) == before
    assert not evidence_root.exists() or not any(evidence_root.rglob("*"))


def test_a_photo_is_stored_under_the_county_by_its_sha256_named_in_the_event(
    county: Any, meeting: str, evidence_root: Path,
) -> None:
    item = new_item(meeting)
    add(item, "修缮村道", TODAY + timedelta(days=30))
    data = photo("green")
    doors.check_complete_measure(actor=ADMIN, item_id=item, measure_no=1, evidence="已修好",
                                 uploads=[Upload("路面.png.jpg", data)], today=TODAY, command_id=cid())
    last = reading.read_stream(ledger_stream(item))[-1]
    [stored] = last.data["files"]
    assert stored["content_type"] == "image/jpeg" and stored["size"] == len(data)
    assert (evidence_root / county.schema_name / stored["sha256"]).read_bytes() == data


# -- summaries, sweeper, rebuild --------------------------------------------------------------------


def test_the_summary_reads_like_the_seed_per_village_township_and_county(county: Any) -> None:
    mid = announced_meeting(township="柳林乡", village="河湾村")
    for n in range(10):
        item = new_item(mid, problem=f"问题{n + 1}")
        add(item, f"措施{n + 1}", TODAY + timedelta(days=30))
        if n < 2:
            add(item, f"措施{n + 1}之二", TODAY + timedelta(days=60))
        if n < 9:
            doors.check_complete_measure(actor=ADMIN, item_id=item, measure_no=1, evidence="已完成", uploads=[],
                                         today=TODAY, command_id=cid())
    summary = ledger_selectors.ledger_summary()
    [township] = [t for t in summary["townships"] if t["township"] == "柳林乡"]
    assert township["sentence"] == "发现问题10个，制定整改措施12条，已完成9条，正在整改3条"
    assert [v["sentence"] for v in township["villages"]] == ["发现问题10个，制定整改措施12条，已完成9条，正在整改3条"]
    county_total = summary["county"]
    assert county_total["problems"] >= 10 and county_total["sentence"].startswith("发现问题")


def test_the_overdue_sweeper_records_once(county: Any) -> None:
    mid = announced_meeting(township="河口镇", village="南岸村")
    item = new_item(mid)
    add(item, "清理河道", TODAY + timedelta(days=3))
    add(item, "公开账目", TODAY + timedelta(days=30))
    later = datetime.combine(TODAY + timedelta(days=5), datetime.min.time(), tzinfo=UTC)
    assert run_sweepers(later)["ledger_overdue"] >= 1
    version = events_of(item)
    assert run_sweepers(later)["ledger_overdue"] == 0
    assert events_of(item) == version
    shown = ledger_selectors.ledger_item(item)
    assert shown is not None and shown["status"] == "overdue"
    assert [m["status"] for m in shown["measures"]] == ["overdue", "in_progress"]
    assert_rebuild_equals_live()


def test_closure_review_needs_every_measure_done(county: Any, meeting: str) -> None:
    item = new_item(meeting)
    add(item, "修缮村道", TODAY + timedelta(days=30))
    with pytest.raises(Refusal) as refused:
        doors.check_review_ledger_item(actor=ADMIN, item_id=item, passed=True, note="", command_id=cid())
    assert refused.value.code == "measures_not_done"
    doors.check_complete_measure(actor=ADMIN, item_id=item, measure_no=1, evidence="已修好", uploads=[], today=TODAY,
                                 command_id=cid())
    doors.check_review_ledger_item(actor=ADMIN, item_id=item, passed=True, note="", command_id=cid())
    shown = ledger_selectors.ledger_item(item)
    assert shown is not None and shown["status"] == "closed"
    with pytest.raises(Refusal):
        add(item, "再来一条", TODAY + timedelta(days=3))
    with pytest.raises(Forbidden):
        doors.check_add_measure(actor=HOST, item_id=item, text="x", owner="y", deadline=TODAY, today=TODAY,
                                command_id=cid())


# -- pages -------------------------------------------------------------------------------------------


def login(county: Any, role: str) -> Client:
    name = f"{role}_{uuid.uuid4().hex[:6]}"
    User.objects.create_user(username=name, password="pw-" + name, role=role)
    client = Client()
    assert client.post("/login/", {"username": name, "password": "pw-" + name}, HTTP_HOST=host_of(county)).status_code == 302
    return client


def test_public_progress_needs_no_login_and_shows_no_internal_note(county: Any, meeting: str) -> None:
    item = new_item(meeting, problem="村卫生室缺少药品")
    add(item, "补齐常用药", TODAY + timedelta(days=30))
    page = Client().get("/zhenggai/", HTTP_HOST=host_of(county))
    assert page.status_code == 200
    text = page.content.decode()
    assert "村卫生室缺少药品" in text and "补齐常用药" in text
    assert "内部" not in text and "书记本人表示压力大" not in text


def test_the_county_pages_and_the_excel_export(county: Any, meeting: str) -> None:
    run_sweepers(datetime(2026, 12, 2, 8, tzinfo=UTC))  # the interview the workspace lists (idempotent)
    item = new_item(meeting, problem="垃圾清运不及时")
    admin = login(county, "county_admin")
    host = host_of(county)
    refused = admin.post(f"/ledger/{item}/", {"op": "measure", "text": "每周清运两次", "owner": "李秀英", "deadline": "",
                                               "command_id": cid()}, HTTP_HOST=host)
    assert refused.status_code == 400 and "每条整改措施都须有完成时限" in refused.content.decode()
    assert events_of(item) == 1
    fake = io.BytesIO(b"MZ" + b"\x00" * 100)
    fake.name = "现场.jpg"
    admin.post(f"/ledger/{item}/", {"op": "measure", "text": "每周清运两次", "owner": "李秀英",
                                    "deadline": (TODAY + timedelta(days=30)).isoformat(), "command_id": cid()},
               HTTP_HOST=host)
    refused = admin.post(f"/ledger/{item}/", {"op": "complete", "measure_no": "1", "evidence": "", "files": fake,
                                              "command_id": cid()}, HTTP_HOST=host)
    assert refused.status_code == 400 and "不是照片" in refused.content.decode()
    assert events_of(item) == 2
    export = admin.get("/ledger/export.xlsx", HTTP_HOST=host)
    assert export.status_code == 200
    book = load_workbook(io.BytesIO(export.content))
    rows = [[c for c in row] for row in book["整改台账"].iter_rows(values_only=True)]
    assert any(r[0] == item and r[8] == "每周清运两次" and r[9] == "李秀英" for r in rows)
    summary_cells = [r[6] for r in book["整改情况"].iter_rows(values_only=True)]
    assert ledger_selectors.ledger_summary()["county"]["sentence"] in summary_cells
    assert login(county, "host").get("/ledger/", HTTP_HOST=host).status_code == 403
    # Each page says what it keeps a person out of.
    interviews = login(county, "host").get("/interviews/", HTTP_HOST=host)
    assert interviews.status_code == 403 and "诫勉谈话" in interviews.content.decode()
    assert "整改台账" not in interviews.content.decode()
    workspace = admin.get("/workspace/", HTTP_HOST=host).content.decode()
    assert "待办诫勉谈话" in workspace


def test_an_auditor_reads_the_pages_and_is_told_plainly_that_writing_is_the_departments(
    county: Any, meeting: str
) -> None:
    run_sweepers(datetime(2026, 12, 2, 8, tzinfo=UTC))
    [opened] = [i for i in interviews_selectors.interviews_list(today=TODAY) if i["meeting_id"] == meeting]
    auditor, host = login(county, "auditor"), host_of(county)
    before = reading.stream_version(f"interview-{opened['interview_id']}")
    assert auditor.get("/interviews/", HTTP_HOST=host).status_code == 200
    for path, form in (
        ("/interviews/", {"op": "hold", "interview_id": opened["interview_id"], "kind": "summons",
                          "interviewer": "张部长", "held_on": TODAY.isoformat(), "record": "记录"}),
        ("/ledger/", {"meeting_id": meeting, "source_kind": "comment", "problem": "路灯不亮"}),
    ):
        refused = auditor.post(path, {**form, "command_id": cid()}, HTTP_HOST=host)
        page = refused.content.decode()
        assert refused.status_code == 403 and "只能由县委组织部办理" in page and "可以查看" in page, path
    assert reading.stream_version(f"interview-{opened['interview_id']}") == before
    assert not [i for i in ledger_selectors.ledger_items() if i["problem"] == "路灯不亮"]


def test_the_desk_lists_open_items_and_shows_the_closed_ones_when_asked(county: Any, meeting: str) -> None:
    closed = new_item(meeting, problem="村部围墙倒塌")
    add(closed, "重砌围墙", TODAY + timedelta(days=30))
    doors.check_complete_measure(actor=ADMIN, item_id=closed, measure_no=1, evidence="已重砌", uploads=[], today=TODAY,
                                 command_id=cid())
    doors.check_review_ledger_item(actor=ADMIN, item_id=closed, passed=True, note="", command_id=cid())
    still_open = new_item(meeting, problem="灌溉水渠淤塞")
    admin, host = login(county, "county_admin"), host_of(county)
    desk = admin.get("/ledger/", HTTP_HOST=host).content.decode()
    assert f'data-item="{still_open}"' in desk and f'data-item="{closed}"' not in desk
    assert f"也显示已销号的事项（{ledger_selectors.closed_count()}项）" in desk
    everything = admin.get("/ledger/?closed=1", HTTP_HOST=host).content.decode()
    assert f'data-item="{still_open}"' in everything and f'data-item="{closed}"' in everything
    assert "只看未销号的事项" in everything
    for hostile in ("?closed=%00", "?closed=" + "1" * 5000, "?closed=true"):
        page = admin.get(f"/ledger/{hostile}", HTTP_HOST=host)
        assert page.status_code == 200 and f'data-item="{closed}"' not in page.content.decode(), hostile


def test_a_body_larger_than_every_file_together_is_refused_before_it_is_read(county: Any, meeting: str) -> None:
    item = new_item(meeting)
    admin = login(county, "county_admin")
    response = admin.generic("POST", f"/ledger/{item}/", b"x" * 64, content_type="multipart/form-data; boundary=x",
                             HTTP_HOST=host_of(county), CONTENT_LENGTH=str(40 * 1024 * 1024))
    assert response.status_code == 413 and "上传内容过大" in response.content.decode()
    assert events_of(item) == 1


def test_hostile_form_input_is_a_clear_refusal_never_a_500(county: Any, meeting: str) -> None:
    item = new_item(meeting)
    admin, host = login(county, "county_admin"), host_of(county)
    for form in (
        {"op": "measure", "text": "修路\x00", "owner": "王", "deadline": "2027-01-01"},
        {"op": "measure", "text": "修路", "owner": "王", "deadline": "2027-02-30"},
        {"op": "complete", "measure_no": "99999999999999999999", "evidence": "x"},
        {"op": "complete", "measure_no": "一", "evidence": "x"},
        {"op": "review", "passed": "yes"},
        {"op": "drop_table"},
    ):
        response = admin.post(f"/ledger/{item}/", {**form, "command_id": "not-a-uuid"}, HTTP_HOST=host)
        assert 400 <= response.status_code < 500, (form, response.status_code)
        assert 'data-testid="ledger-error"' in response.content.decode()
    raised = admin.post("/ledger/", {"meeting_id": "no_such_meeting", "source_kind": "comment", "problem": "p",
                                     "command_id": cid()}, HTTP_HOST=host)
    assert raised.status_code == 404 and "找不到该会议" in raised.content.decode()
    assert events_of(item) == 1


def test_two_workers_sweeping_at_once_open_each_interview_once(county: Any) -> None:
    mids = [announced_meeting(township="双河镇", village=f"{n}号村") for n in range(3)]
    schema = county.schema_name
    start, results, errors = threading.Barrier(2), [], []

    def sweep() -> None:
        try:
            with schema_context(schema):
                start.wait(10)
                results.append(run_sweepers(datetime(2026, 12, 2, 8, tzinfo=UTC))["interviews"])
        except Exception as exc:  # reported below: a thread's exception would be lost
            errors.append(exc)
        finally:
            connection.close()

    workers = [threading.Thread(target=sweep) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    assert not errors
    opened = [i for i in interviews_selectors.interviews_list(today=TODAY) if i["meeting_id"] in mids]
    assert sorted(i["meeting_id"] for i in opened) == sorted(mids)
    assert sum(results) == 3, results  # each interview counted by the one worker that recorded it
    for interview in opened:
        assert reading.stream_version(f"interview-{interview['interview_id']}") == 1
