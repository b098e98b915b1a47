"""A ballot code may post at most three questions to a meeting; the count links no question to a ballot."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django_tenants.utils import schema_context

from events import reading
from meetings.codes import code_hash
from meetings.streams import meeting_stream
from tests.integration.meetings.api_client import Api

pytestmark = pytest.mark.django_db


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def opened_meeting(county) -> tuple[str, list[str]]:  # type: ignore[no-untyped-def]
    admin, host = Api(county, "county_admin"), Api(county, "host")
    round_id = admin.post("rounds/", {"name": "提问上限", "year": 2026, "variant": "zhi_ping_cun_guan"}, expect=201)["round_id"]
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": "提问上限", "township": "柳林乡", "village": "河湾村", "starts_at": in_days(4),
        "place": "村部", "subjects": [{"subject_id": "cun_shuji", "name": "书记", "level": "village"}],
        "roster": [{"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(30)],
    }, expect=201)["meeting_id"]
    m = f"meetings/{mid}/"
    host.post(m + "announce/", {"starts_at": in_days(4), "place": "村部", "agenda": ["测评"], "channels": ["广播"]}, expect=200)
    for i in range(30):
        host.post(m + "check-in/", {"member_id": f"rep{i}"}, expect=200)
    host.post(m + "open/", expect=200)
    codes = host.post(m + "codes/", {"category": "representative", "count": 3}, expect=200)["codes"]
    return mid, codes


def test_a_code_asks_three_questions_and_the_fourth_is_refused_without_a_trace(county_a) -> None:
    mid, codes = opened_meeting(county_a)
    voter = Api(county_a)
    ask = f"v/{mid}/question/"
    for n in range(3):
        voter.post(ask, {"code": codes[0], "subject_id": "cun_shuji", "text": f"第{n + 1}个问题"}, expect=200)
    with schema_context(county_a.schema_name):
        version = reading.stream_version(meeting_stream(mid))
    fourth = voter.post(ask, {"code": codes[0], "subject_id": "cun_shuji", "text": "第四个问题"})
    assert fourth.status == 429 and fourth.error_code == "question_limit"
    assert "最多提问 3 次" in fourth["error"]["message"] and fourth["error"]["message_en"]
    with schema_context(county_a.schema_name):
        assert reading.stream_version(meeting_stream(mid)) == version  # nothing appended

    # Another code has its own three; a question the meeting refuses costs nothing.
    bad = voter.post(ask, {"code": codes[1], "subject_id": "nobody", "text": "问谁？"})
    assert bad.status == 404 or bad.status == 400
    for n in range(3):
        voter.post(ask, {"code": codes[1], "subject_id": "cun_shuji", "text": f"另一个码的第{n + 1}个问题"}, expect=200)

    # Neither the log nor the count carries the code or its hash.
    hashes = {code_hash(county_a.schema_name, mid, c) for c in codes}
    with schema_context(county_a.schema_name):
        recorded = reading.read_stream(meeting_stream(mid), from_version=1, limit=1000)
        questions = [e for e in recorded if e.type == "QuestionAsked"]
        assert len(questions) == 6
        for event in questions:
            assert not any(h in str(event.data) or h in str(event.metadata) for h in hashes)
            assert not any(c in str(event.data) for c in codes)
        with connection.cursor() as cursor:
            cursor.execute("SELECT encode(slot, 'hex'), asked FROM meetings_question_quota WHERE meeting_id = %s", [mid])
            rows = cursor.fetchall()
    assert sorted(asked for _, asked in rows) == [3, 3]
    assert not {slot for slot, _ in rows} & hashes
