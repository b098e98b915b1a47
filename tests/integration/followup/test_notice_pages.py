"""The public notice pages (/gongshi/, no login), the PDF, and the county's notice desk (/notices/)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import segno
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.utils import timezone
from django_tenants.utils import schema_context
from pypdf import PdfReader

from accounts.models import User
from events.export import export_stream_to_file
from followup import selectors
from followup.actions.notices import check_publish_notice
from followup.drafting import closing_head, notice_draft
from followup.public import QR_BORDER, QR_SCALE, pdf_cache_key
from live.snapshots import screen
from meetings.streams import meeting_stream
from tests.conftest import host_of
from tests.integration.followup.closed_meeting import ADMIN, cid, closed_meeting


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("gongshi")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        yield made
        connection.close()


def admin(county: Any) -> Client:
    name = f"zzb_{uuid.uuid4().hex[:6]}"
    User.objects.create_user(username=name, password="pw-" + name + "-Shuping1", role="county_admin")
    client = Client(HTTP_HOST=host_of(county))
    client.post("/login/", {"username": name, "password": "pw-" + name + "-Shuping1"})
    return client


def public(county: Any) -> Client:
    return Client(HTTP_HOST=host_of(county))


def publish_from_desk(client: Client, mid: str, **fields: str) -> str:
    form = client.get(f"/notices/{mid}/").content.decode()
    title = re.search(r'name="title" value="([^"]*)"', form)
    assert title is not None, form
    answer = client.post(f"/notices/{mid}/", {"op": "publish", "command_id": str(uuid.uuid4()), "title": title[1],
                                              "text": "现将测评结果予以公示。", "working_days": "5", **fields})
    assert answer.status_code == 302, answer.content.decode()
    return [n for n in selectors.meeting_notices(mid) if n["superseded_by"] is None][0]["notice_id"]  # type: ignore[no-any-return]


def test_the_county_publishes_and_anyone_reads_objects_and_sees_the_answer_without_the_contact(county: Any) -> None:
    mid = closed_meeting()
    desk = admin(county)
    assert mid in desk.get("/notices/").content.decode()  # listed to publish
    notice_id = publish_from_desk(desk, mid)
    head = closing_head(mid)[0]
    anyone = public(county)
    listing = anyone.get("/gongshi/")
    assert listing.status_code == 200 and f"/gongshi/{notice_id}/" in listing.content.decode()
    page = anyone.get(f"/gongshi/{notice_id}/").content.decode()
    assert head in page and "村党支部书记 张德明" in page and "33.3%" in page and "须诫勉谈话" in page
    assert 'name="viewport"' in page and 'id="objection-form"' in page
    sent = anyone.post(f"/gongshi/{notice_id}/", {"command_id": str(uuid.uuid4()), "text": "书记得票与会场所见不符",
                                                   "contact": "13912345678"})
    assert sent.status_code == 302
    after = anyone.get(sent["Location"]).content.decode()
    assert "书记得票与会场所见不符" in after and "13912345678" not in after and "待答复" in after
    county_view = desk.get(f"/notices/{mid}/").content.decode()
    assert "13912345678" in county_view  # the county sees the contact
    [objection] = selectors.objections(notice_id=notice_id)
    answered = desk.post(f"/notices/{mid}/", {"op": "answer", "command_id": str(uuid.uuid4()),
                                              "objection_id": objection["objection_id"], "answer": "经复核，计票无误"})
    assert answered.status_code == 302
    final = anyone.get(f"/gongshi/{notice_id}/").content.decode()
    assert "经复核，计票无误" in final and "13912345678" not in final
    # An answer to an unknown objection: a Chinese refusal on the page, nothing recorded.
    unknown = desk.post(f"/notices/{mid}/", {"op": "answer", "command_id": str(uuid.uuid4()),
                                             "objection_id": "o_none", "answer": "答复"})
    assert unknown.status_code == 404 and "找不到该异议" in unknown.content.decode()


def test_the_pdf_prints_the_head_hash_in_full_and_a_qr_code(county: Any, tmp_path: Path) -> None:
    mid = closed_meeting()
    on_the_screen = screen(mid)["head_hash"]  # the hall screen, once the meeting is closed
    notice_id = publish_from_desk(admin(county), mid)
    pdf = public(county).get(f"/gongshi/{notice_id}/notice.pdf")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    reader = PdfReader(io.BytesIO(pdf.content))
    text = "".join(page.extract_text() for page in reader.pages)
    [printed] = re.findall(r"\b[0-9a-f]{64}\b", text)
    assert printed == on_the_screen == closing_head(mid)[0]
    # An auditor: the meeting's exported log verifies against the hash read from the paper.
    exported = tmp_path / "meeting.jsonl"
    export_stream_to_file(meeting_stream(mid), exported)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    verified = subprocess.run([sys.executable, "-m", "shuping.cli", "log", "verify", str(exported), "--head", printed],
                              capture_output=True, text=True, env=env, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "trusted head found" in verified.stdout
    # Drawn once: a published notice never changes, and the public page must not let anyone burn a CPU second
    # per request.
    cached = cache.get(pdf_cache_key(notice_id=notice_id, url=f"http://{host_of(county)}/gongshi/{notice_id}/"))
    assert cached == pdf.content
    assert "村党支部书记 张德明" in text and "公示" in text and f"/gongshi/{notice_id}/" in text
    [image] = [image for page in reader.pages for image in page.images]
    assert qr_modules(image.image) == segno.make(f"http://{host_of(county)}/gongshi/{notice_id}/", error="m").matrix


def qr_modules(picture: Any) -> tuple[bytearray, ...]:
    """The dark and light modules of the printed QR code, read at each module's centre."""
    grey = picture.convert("L")
    size = grey.width // QR_SCALE - 2 * QR_BORDER
    return tuple(
        bytearray(int(grey.getpixel(((c + QR_BORDER) * QR_SCALE + QR_SCALE // 2,
                                     (r + QR_BORDER) * QR_SCALE + QR_SCALE // 2)) < 128) for c in range(size))
        for r in range(size)
    )


def test_a_correction_supersedes_and_both_stay_visible_and_bad_input_is_refused(county: Any) -> None:
    mid = closed_meeting()
    desk = admin(county)
    first = publish_from_desk(desk, mid)
    second = publish_from_desk(desk, mid, supersedes=first)
    anyone = public(county)
    old = anyone.get(f"/gongshi/{first}/").content.decode()
    assert "已被" in old and f"/gongshi/{second}/" in old and 'id="objection-form"' not in old
    assert f"/gongshi/{first}/" in anyone.get("/gongshi/").content.decode()
    bad = desk.post(f"/notices/{mid}/", {"op": "publish", "command_id": str(uuid.uuid4()), "title": "公示",
                                         "text": "正文", "working_days": "abc", "supersedes": second})
    assert bad.status_code == 400 and "公示期须为整数个工作日" in bad.content.decode()
    empty = anyone.post(f"/gongshi/{second}/", {"command_id": str(uuid.uuid4()), "text": "   "})
    assert empty.status_code == 400 and "请填写异议内容" in empty.content.decode()
    assert selectors.objections(notice_id=second) == []
    assert anyone.get("/gongshi/n_nothing/").status_code == 404


def test_objections_are_limited_per_address_and_the_address_is_not_kept(county: Any) -> None:
    mid = closed_meeting()
    notice_id = publish_from_desk(admin(county), mid)
    cache.clear()
    anyone = Client(HTTP_HOST=host_of(county), REMOTE_ADDR="203.0.113.77")
    # A client that names another address in X-Forwarded-For each time is still one address.
    codes = [anyone.post(f"/gongshi/{notice_id}/", {"command_id": str(uuid.uuid4()), "text": f"异议{i}"},
                         HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
             for i in range(6)]
    assert codes == [302] * 5 + [429]
    assert len(selectors.objections(notice_id=notice_id)) == 5
    other = Client(HTTP_HOST=host_of(county), REMOTE_ADDR="203.0.113.78")
    assert other.post(f"/gongshi/{notice_id}/", {"command_id": str(uuid.uuid4()), "text": "另一人"}).status_code == 302
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM events WHERE data::text LIKE '%203.0.113%'"
                       " OR metadata::text LIKE '%203.0.113%'")
        assert cursor.fetchone()[0] == 0


def test_hostile_objections_get_a_chinese_400_and_append_nothing(county: Any) -> None:
    mid = closed_meeting()
    notice_id = publish_from_desk(admin(county), mid)
    cache.clear()
    anyone = public(county)
    for fields in ({"text": "异\x00议"}, {"text": "长" * 2001}, {"text": "异议", "contact": "9" * 101},
                   {"text": ""}):
        answer = anyone.post(f"/gongshi/{notice_id}/", {"command_id": "not-a-uuid", **fields})
        assert answer.status_code == 400, fields
        assert 'data-error-code="' in answer.content.decode()
    assert selectors.objections(notice_id=notice_id) == []


def test_an_objection_to_a_closed_notice_gets_a_chinese_409_and_appends_nothing(county: Any) -> None:
    mid = closed_meeting()
    draft = notice_draft(mid)
    long_ago = timezone.now() - timedelta(days=30)
    notice_id = check_publish_notice(actor=ADMIN, meeting_id=mid, title=draft.title, text=draft.text, now=long_ago,
                                     command_id=cid())
    anyone = public(county)
    page = anyone.get(f"/gongshi/{notice_id}/").content.decode()
    assert 'id="objection-form"' not in page and "公示期已结束" in page
    late = anyone.post(f"/gongshi/{notice_id}/", {"command_id": str(uuid.uuid4()), "text": "晚到的异议"})
    assert late.status_code == 409 and 'data-error-code="notice_closed"' in late.content.decode()
    assert "公示期已结束，不能再提出异议" in late.content.decode()
    assert selectors.objections(notice_id=notice_id) == []


def test_the_county_pages_need_an_administrator(county: Any) -> None:
    anyone = public(county)
    assert anyone.get("/notices/")["Location"].startswith("/login/")
    name = f"host_{uuid.uuid4().hex[:6]}"
    User.objects.create_user(username=name, password="pw-" + name + "-Shuping1", role="host")
    host = Client(HTTP_HOST=host_of(county))
    host.post("/login/", {"username": name, "password": "pw-" + name + "-Shuping1"})
    assert host.get("/notices/").status_code == 403
    assert admin(county).get("/notices/no_such_meeting/").status_code == 404
    workspace = admin(county).get("/workspace/").content.decode()
    assert 'href="/notices/"' in workspace
