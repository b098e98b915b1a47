"""Roster upload and printable code slips through the API."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django_tenants.utils import schema_context

from events.reading import read_stream
from meetings.models import RosterMember, Township, Village
from tests.integration.meetings.api_client import Api

pytestmark = pytest.mark.django_db

HEADER = "姓名,身份类别,乡镇,村,性别"


def _upload(api: Api, content: bytes, name: str = "花名册.csv") -> tuple[int, dict]:  # type: ignore[type-arg]
    response = api.client.post(
        "/api/rosters/import/", {"file": SimpleUploadedFile(name, content, content_type="text/csv")},
        HTTP_HOST=api.host, **api.headers,
    )
    return response.status_code, response.json()


def test_roster_upload_all_or_nothing(county_a) -> None:
    admin = Api(county_a, "county_admin")
    township = f"柳林乡{uuid.uuid4().hex[:4]}"
    with schema_context(county_a.schema_name):
        village = Village.objects.create(township=Township.objects.create(name=township), name="杨庄村")
    bad = "\r\n".join([HEADER, f"王秀英,党员,{township},杨庄村,女", f"李建国,村长,{township},杨庄村,男",
                       f"张桂英,党员,{township},不存在村,女"]).encode("gb18030")
    status, body = _upload(admin, bad)
    assert status == 400 and body["error"]["code"] == "roster_invalid"
    rows = sorted(e["row"] for e in body["error"]["details"]["errors"])
    assert rows == [3, 4]
    assert all(re.match(r"第\d+行", e["message"]) for e in body["error"]["details"]["errors"])
    with schema_context(county_a.schema_name):
        assert not RosterMember.objects.filter(village=village).exists()  # nothing imported

    good = "\r\n".join([HEADER, f"王秀英,党员,{township},杨庄村,女", f"李建国,村民代表,{township},杨庄村,男"]).encode()
    status, body = _upload(admin, good)
    assert status == 200 and (body["created"], body["updated"]) == (2, 0)
    with schema_context(county_a.schema_name):
        assert RosterMember.objects.filter(village=village).count() == 2

    host = Api(county_a, "host")
    status, body = _upload(host, good)
    assert status == 403 and body["error"]["code"] == "forbidden"


def test_code_slips_print_once_and_store_only_hashes(county_a) -> None:
    admin, host = Api(county_a, "county_admin"), Api(county_a, "host")
    round_id = admin.post("rounds/", {"name": "打印测试", "year": 2026, "variant": "zhi_ping_cun_guan"}, expect=201)["round_id"]
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": "杨庄村述评大会", "township": "柳林乡", "village": "杨庄村",
        "starts_at": (datetime.now(UTC) + timedelta(days=4)).isoformat(), "place": "村部",
        "subjects": [{"subject_id": "cun_shuji", "name": "书记", "level": "village"}],
        "roster": [{"member_id": "pm0", "name": "党员", "category": "party_member"}]
        + [{"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(30)],
    }, expect=201)["meeting_id"]
    early = host.post(f"meetings/{mid}/codes/slips/", {"category": "representative", "count": 30})
    assert early.status == 409 and early.error_code == "wrong_phase"  # codes come after the announcement
    host.post(f"meetings/{mid}/announce/", {"starts_at": (datetime.now(UTC) + timedelta(days=4)).isoformat(),
                                            "place": "村部", "agenda": ["测评"], "channels": ["广播"]}, expect=200)
    key = str(uuid.uuid4())
    response = host.client.post(
        f"/api/meetings/{mid}/codes/slips/", {"category": "representative", "count": 30},
        content_type="application/json", HTTP_HOST=host.host, HTTP_IDEMPOTENCY_KEY=key, **host.headers,
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert "no-store" in response["Cache-Control"]
    page = response.content.decode()
    printed = re.findall(r"\b[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}\b", page)
    assert len(set(printed)) == 30 and page.count("<svg") >= 30
    assert "杨庄村述评大会" in page and "村民代表" in page
    with schema_context(county_a.schema_name):
        issued = [e for e in read_stream(f"meeting-{mid}") if e.type == "BallotCodesIssued"]
    assert len(issued) == 1 and issued[0].data["count"] == 30
    logged = str(issued[0].data)
    assert not any(code in logged or code.replace("-", "") in logged for code in printed)
    # The same request again cannot print the codes a second time.
    again = host.client.post(
        f"/api/meetings/{mid}/codes/slips/", {"category": "representative", "count": 30},
        content_type="application/json", HTTP_HOST=host.host, HTTP_IDEMPOTENCY_KEY=key, **host.headers,
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "codes_not_repeatable"
