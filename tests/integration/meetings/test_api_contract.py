"""The API's contract, whatever the endpoint: one error format, roles, phases, limits, isolation.

Every error is `{"error": {"code", "message" (Chinese), "message_en", "details"?}}`;
a refused command appends nothing; a retried command (same Idempotency-Key)
takes effect once; the docs are served without the internet; one county's
users, tokens and codes mean nothing in another county.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.meetings.api_client import Api, Result

pytestmark = pytest.mark.django_db

CHINESE = re.compile(r"[\u4e00-\u9fff]")
SUBJECT = "cun_shuji"


def assert_error(result: Result, status: int, code: str) -> dict[str, Any]:
    """The one error format, with a Chinese message; returns the error object."""
    assert result.status == status, (result.status, dict(result))
    assert set(result) == {"error"}, dict(result)
    error = result["error"]
    assert set(error) <= {"code", "message", "message_en", "details"} and {"code", "message", "message_en"} <= set(error)
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and CHINESE.search(error["message"]), error
    assert isinstance(error["message_en"], str) and error["message_en"], error
    return error


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def new_meeting(county: Any, *, meeting_id: str | None = None, announce: bool = True) -> tuple[Api, str]:
    """A small 直评村官 meeting (10 party members, 30 representatives); returns (host, meeting_id)."""
    admin, host = Api(county, "county_admin"), Api(county, "host")
    round_id = admin.post("rounds/", {"name": "接口契约测试", "year": 2026, "variant": "zhi_ping_cun_guan"}, expect=201)["round_id"]
    body: dict[str, Any] = {
        "round_id": round_id, "title": "契约测试会", "township": "柳林乡", "village": "杨庄村",
        "starts_at": in_days(5), "place": "村部",
        "subjects": [{"subject_id": SUBJECT, "name": "村党支部书记", "level": "village"}],
        "roster": [{"member_id": f"pm{i}", "name": f"党员{i}", "category": "party_member"} for i in range(10)]
        + [{"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(30)],
    }
    if meeting_id is not None:
        body["meeting_id"] = meeting_id
    mid = admin.post("meetings/", body, expect=201)["meeting_id"]
    if announce:
        host.post(f"meetings/{mid}/announce/", {"starts_at": in_days(5), "place": "村部", "agenda": ["述职", "测评"],
                                                "channels": ["广播"]}, expect=200)
    return host, mid


def to_ballot_open(host: Api, mid: str) -> list[str]:
    """Check everyone in, run the report, issue 30 representative codes, open the ballot."""
    m = f"meetings/{mid}/"
    for i in range(10):
        host.post(m + "check-in/", {"member_id": f"pm{i}"}, expect=200)
    for i in range(30):
        host.post(m + "check-in/", {"member_id": f"rep{i}"}, expect=200)
    host.post(m + "open/", expect=200)
    host.post(m + "reports/start/", {"subject_id": SUBJECT}, expect=200)
    host.post(m + "reports/end/", {"subject_id": SUBJECT}, expect=200)
    plain = host.post(m + "codes/", {"category": "representative", "count": 30}, expect=200)["codes"]
    host.post(m + "ballot/open/", expect=200)
    return plain


def version(api: Api, mid: str) -> int:
    return api.get(f"meetings/{mid}/")["version"]


def raw_post(api: Api, path: str, data: bytes | str, content_type: str = "application/json") -> Result:
    response = api.client.post("/api/" + path, data, content_type=content_type, HTTP_HOST=api.host, **api.headers)
    return Api._check(response, None)


# -- authentication and roles ----------------------------------------------------------------


def test_without_a_token_the_api_answers_401_not_authenticated(county_a) -> None:
    _host, mid = new_meeting(county_a)
    anonymous = Api(county_a)
    for result in (
        anonymous.get("meetings/", expect=None),
        anonymous.get(f"meetings/{mid}/", expect=None),
        anonymous.get(f"meetings/{mid}/results/", expect=None),
        anonymous.post(f"meetings/{mid}/open/"),
        anonymous.post("rounds/", {"name": "x", "year": 2026, "variant": "zhi_ping_cun_guan"}),
    ):
        assert_error(result, 401, "not_authenticated")
    response = anonymous.client.get(f"/api/meetings/{mid}/", HTTP_HOST=anonymous.host)
    assert response.status_code == 401 and response.get("WWW-Authenticate", "").startswith("Token")
    bad_token = Api(county_a)
    bad_token.headers["HTTP_AUTHORIZATION"] = "Token " + "0" * 40
    assert_error(bad_token.get(f"meetings/{mid}/", expect=None), 401, "authentication_failed")


def test_a_wrong_role_is_refused_with_403_and_nothing_appended(county_a) -> None:
    host, mid = new_meeting(county_a)
    m = f"meetings/{mid}/"
    observer, auditor, teller = Api(county_a, "observer"), Api(county_a, "auditor"), Api(county_a, "teller")
    before = version(host, mid)
    commands: list[tuple[str, dict[str, Any]]] = [
        ("check-in/", {"member_id": "pm0"}),
        ("guests/", {"guest_id": "g1", "name": "列席"}),
        ("quorum-override/", {"reason": "雨天"}),
        ("open/", {}),
        ("reports/start/", {"subject_id": SUBJECT}),
        ("questions/", {"subject_id": SUBJECT, "text": "问题"}),
        ("codes/", {"category": "party_member", "count": 2}),
        ("ballot/open/", {}),
        ("ballot/close/", {}),
        ("results/announce/", {}),
        ("close/", {}),
        ("paper-batches/", {"batch_no": 1, "ballots": []}),
    ]
    for role_api in (observer, auditor):
        for path, body in commands:
            assert_error(role_api.post(m + path, body), 403, "forbidden")
        # ... but they may read.
        assert role_api.get(m)["meeting_id"] == mid
    # A teller enters paper ballots; announcing results or closing the ballot is the host's.
    for path in ("results/announce/", "ballot/close/", "ballot/open/", "announce/", "codes/"):
        assert_error(teller.post(m + path, {}), 403, "forbidden")
    # The host runs the meeting but cannot open a round or schedule a meeting (county admin) ...
    assert_error(host.post("rounds/", {"name": "越权", "year": 2026, "variant": "zhi_ping_cun_guan"}), 403, "forbidden")
    assert_error(host.post("meetings/", {}), 403, "forbidden")
    # ... nor enter paper ballots (tellers), nor export the log (auditors).
    assert_error(host.post(m + "paper-batches/", {"batch_no": 1, "ballots": []}), 403, "forbidden")
    assert_error(host.get(m + "log/", expect=None), 403, "forbidden")
    assert_error(observer.get(m + "log/", expect=None), 403, "forbidden")
    assert version(host, mid) == before


# -- phases, input, limits -------------------------------------------------------------------------


def test_a_command_in_the_wrong_phase_is_409_and_appends_nothing(county_a) -> None:
    host, mid = new_meeting(county_a)
    m = f"meetings/{mid}/"
    before = version(host, mid)
    for path, body in (
        ("ballot/open/", {}),  # the meeting is only announced
        ("ballot/close/", {}),
        ("results/announce/", {}),
        ("close/", {}),
        ("reports/start/", {"subject_id": SUBJECT}),
        ("announce/", {"starts_at": in_days(5), "place": "村部", "agenda": ["测评"], "channels": ["广播"]}),
    ):
        error = assert_error(host.post(m + path, body), 409, "wrong_phase")
        assert "已公告" in error["message"], error  # names the phase the meeting is in
    assert version(host, mid) == before
    assert host.get(m)["phase"] == "announced"


def test_unknown_fields_and_wrong_types_are_400_invalid_input_with_field_details(county_a) -> None:
    host, mid = new_meeting(county_a)
    m = f"meetings/{mid}/"
    before = version(host, mid)
    wrong_type = assert_error(host.post(m + "codes/", {"category": "party_member", "count": "很多"}), 400, "invalid_input")
    assert set(wrong_type["details"]) == {"count"}
    wrong_type = assert_error(host.post(m + "check-in/", {"member_id": ["pm0"]}), 400, "invalid_input")
    assert set(wrong_type["details"]) == {"member_id"}
    missing = assert_error(host.post(m + "check-in/", {}), 400, "invalid_input")
    assert set(missing["details"]) == {"member_id"}
    # A misspelt field is an error, not silently ignored (a typo must not drop an override reason).
    unknown = assert_error(host.post(m + "check-in/", {"member_id": "pm0", "memberid": "pm1"}), 400, "invalid_input")
    assert "memberid" in json.dumps(unknown["details"], ensure_ascii=False)
    nested = assert_error(Api(county_a, "county_admin").post("meetings/", {
        "round_id": "r1", "title": "t", "township": "乡", "village": "村", "starts_at": in_days(5), "place": "村部",
        "subjects": [{"subject_id": SUBJECT, "name": "书记", "level": "village", "colour": "red"}],
    }), 400, "invalid_input")
    assert "colour" in json.dumps(nested["details"], ensure_ascii=False)
    not_an_object = assert_error(host.post(m + "check-in/", ["pm0"]), 400, "invalid_input")
    assert not_an_object["details"]
    assert version(host, mid) == before


def test_malformed_json_and_oversized_bodies(county_a) -> None:
    host, mid = new_meeting(county_a)
    m = f"meetings/{mid}/"
    before = version(host, mid)
    assert_error(raw_post(host, m + "check-in/", '{"member_id": "pm0"'), 400, "malformed_request")
    assert_error(raw_post(host, m + "check-in/", b"\xff\xfe not json"), 400, "malformed_request")
    assert_error(raw_post(host, m + "check-in/", "member_id=pm0", "application/x-www-form-urlencoded"), 415,
                 "unsupported_media_type")
    big = json.dumps({"member_id": "pm0", "padding": "x" * (300 * 1024)})
    error = assert_error(raw_post(host, m + "check-in/", big), 413, "request_too_large")
    assert "256" in error["message"]
    # A voter (no login) is held to the same limit.
    voter_big = json.dumps({"code": "x", "marks": {SUBJECT: {"zongti": "y" * (300 * 1024)}}})
    assert_error(raw_post(Api(county_a), f"v/{mid}/ballot/", voter_big), 413, "request_too_large")
    assert version(host, mid) == before


def test_unknown_meeting_is_404(county_a) -> None:
    host = Api(county_a, "host")
    voter = Api(county_a)
    assert_error(host.get("meetings/nosuchmeeting/", expect=None), 404, "unknown_meeting")
    assert_error(host.post("meetings/nosuchmeeting/open/"), 404, "unknown_meeting")
    assert_error(host.post("meetings/nosuchmeeting/check-in/", {"member_id": "pm0"}), 404, "unknown_meeting")
    assert_error(voter.post("v/nosuchmeeting/form/", {"code": "K7QM-X2PA-9F3R"}), 404, "unknown_meeting")
    assert_error(voter.post("v/nosuchmeeting/ballot/", {"code": "K7QM-X2PA-9F3R", "marks": {}}), 404, "unknown_meeting")
    # A meeting that was never created has no stream: a GET made nothing.
    assert_error(host.get("meetings/nosuchmeeting/", expect=None), 404, "unknown_meeting")


def test_ballot_codes_malformed_unknown_and_used(county_a) -> None:
    host, mid = new_meeting(county_a)
    plain = to_ballot_open(host, mid)
    voter = Api(county_a)
    marks = {SUBJECT: {"zongti": "chenzhi"}}
    for bad in ("", "1234", "K7QM-X2PA-9F3", "OOOO-IIII-LLLL", "K7QM-X2PA-9F3R-2222"):
        result = voter.post(f"v/{mid}/ballot/", {"code": bad, "marks": marks})
        if bad == "":
            assert_error(result, 400, "invalid_input")
        else:
            error = assert_error(result, 400, "malformed_code")
            assert "格式" in error["message"]
    # Well formed but not issued for this meeting.
    unknown = next(c for c in ("K7QM-X2PA-9F3R", "K7QM-X2PA-9F3S") if c not in plain)
    assert_error(voter.post(f"v/{mid}/form/", {"code": unknown}), 404, "unknown_code")
    assert_error(voter.post(f"v/{mid}/ballot/", {"code": unknown, "marks": marks}), 404, "unknown_code")
    # Typed loosely (lower case, spaces, full-width dash) a real code still works.
    loose = plain[0].lower().replace("-", " － ")
    first = voter.post(f"v/{mid}/ballot/", {"code": loose, "marks": marks}, expect=201)
    again = voter.post(f"v/{mid}/ballot/", {"code": plain[0], "marks": marks}, expect=200)
    assert again["receipt"] == first["receipt"] and again["repeated"] is True
    changed = voter.post(f"v/{mid}/ballot/", {"code": plain[0], "marks": {SUBJECT: {"zongti": "bu_chenzhi"}}})
    assert_error(changed, 409, "code_already_used")
    bad_grade = voter.post(f"v/{mid}/ballot/", {"code": plain[1], "marks": {SUBJECT: {"zongti": "excellent"}}})
    assert "excellent" in assert_error(bad_grade, 400, "ballot_invalid")["message"]
    assert host.get(f"meetings/{mid}/")["ballots_cast"] == 1


# -- idempotency ---------------------------------------------------------------------------------


def test_the_same_command_with_the_same_idempotency_key_takes_effect_once(county_a) -> None:
    host, mid = new_meeting(county_a)
    m = f"meetings/{mid}/"
    key = str(uuid.uuid4())
    before = version(host, mid)
    first = host.post(m + "check-in/", {"member_id": "pm0"}, key=key, expect=200)
    assert first["replayed"] is False and first["version"] == before + 1 and first["events"] == ["AttendeeCheckedIn"]
    second = host.post(m + "check-in/", {"member_id": "pm0"}, key=key, expect=200)
    assert second["replayed"] is True
    assert second["version"] == first["version"] and second["head_hash"] == first["head_hash"]
    assert version(host, mid) == before + 1
    assert host.get(m)["checked_in"] == {"party_member": 1}
    # A new key is a new command: now it is refused.
    assert_error(host.post(m + "check-in/", {"member_id": "pm0"}, key=str(uuid.uuid4())), 409, "already_checked_in")


def test_a_retried_command_is_replayed_even_when_deciding_it_again_would_fail(county_a) -> None:
    """The retry of an applied command (its answer was lost) must not turn into an error."""
    host, mid = new_meeting(county_a)
    m = f"meetings/{mid}/"
    host.post(m + "check-in/", {"member_id": "rep0"}, expect=200)
    key = str(uuid.uuid4())
    opened = host.post(m + "open/", key=key, expect=200)
    retried = host.post(m + "open/", key=key)
    assert retried.status == 200 and retried["replayed"] is True, dict(retried)
    assert retried["version"] == opened["version"] and version(host, mid) == opened["version"]


def test_a_retried_command_answers_what_was_recorded(county_a) -> None:
    """Retrying a question answers with the id that was recorded, and asks nothing twice."""
    host, mid = new_meeting(county_a)
    m = f"meetings/{mid}/"
    host.post(m + "check-in/", {"member_id": "rep0"}, expect=200)
    host.post(m + "open/", expect=200)
    key = str(uuid.uuid4())
    asked = host.post(m + "questions/", {"subject_id": SUBJECT, "text": "账目何时公开？"}, key=key, expect=200)
    retried = host.post(m + "questions/", {"subject_id": SUBJECT, "text": "账目何时公开？"}, key=key, expect=200)
    assert retried["replayed"] is True and retried["version"] == asked["version"]
    recorded = [q["question_id"] for q in host.get(m)["questions"]]
    assert recorded == [asked["question_id"]]
    assert retried["question_id"] == asked["question_id"], (retried["question_id"], recorded)


def test_scheduling_twice_with_one_key_makes_one_meeting_and_keys_must_be_uuids(county_a) -> None:
    admin, host = Api(county_a, "county_admin"), Api(county_a, "host")
    round_id = admin.post("rounds/", {"name": "幂等", "year": 2026, "variant": "zhi_ping_cun_guan"}, expect=201)["round_id"]
    body = {"round_id": round_id, "title": "幂等测试", "township": "乡", "village": "村", "starts_at": in_days(5),
            "place": "村部", "subjects": [{"subject_id": SUBJECT, "name": "书记", "level": "village"}]}
    key = str(uuid.uuid4())
    one = admin.post("meetings/", body, key=key, expect=201)
    two = admin.post("meetings/", body, key=key, expect=201)
    assert one["meeting_id"] == two["meeting_id"] and two["replayed"] is True
    assert [x["meeting_id"] for x in admin.get("meetings/")["meetings"]].count(one["meeting_id"]) == 1
    rkey = str(uuid.uuid4())
    first_round = admin.post("rounds/", {"name": "幂等2", "year": 2026, "variant": "zhi_ping_cun_guan"}, key=rkey, expect=201)
    again_round = admin.post("rounds/", {"name": "幂等2", "year": 2026, "variant": "zhi_ping_cun_guan"}, key=rkey, expect=201)
    assert first_round["round_id"] == again_round["round_id"]
    announce = {"starts_at": in_days(5), "place": "村部", "agenda": ["测评"], "channels": ["广播"]}
    error = assert_error(host.post(f"meetings/{one['meeting_id']}/announce/", announce, key="not-a-uuid"), 400,
                         "invalid_idempotency_key")
    assert "UUID" in error["message"]


def test_a_key_reused_for_another_command_stream_or_body_is_refused_and_changes_nothing(county_a) -> None:
    # Found from outside: closing meeting X with a key used for issuing codes on
    # meeting Y answered 200 "replayed" and X's ballot stayed open.
    host, x = new_meeting(county_a)
    y = new_meeting(county_a)[1]
    codes_on_y = host.post(f"meetings/{y}/codes/", {"category": "representative", "count": 2}, key=(key := str(uuid.uuid4())),
                           expect=200)
    assert codes_on_y["events"] == ["BallotCodesIssued"]
    before = {mid: (version(host, mid), host.get(f"meetings/{mid}/")["phase"]) for mid in (x, y)}
    refusals = [
        host.post(f"meetings/{x}/open/", key=key),  # another command and stream
        host.post(f"meetings/{x}/codes/", {"category": "representative", "count": 2}, key=key),  # another stream
        host.post(f"meetings/{y}/codes/", {"category": "representative", "count": 3}, key=key),  # another body
        host.post(f"meetings/{y}/check-in/", {"member_id": "pm1"}, key=key),  # another command
    ]
    for refused in refusals:
        error = assert_error(refused, 409, "idempotency_key_reused")
        assert "Idempotency-Key" in error["message"]
    assert {mid: (version(host, mid), host.get(f"meetings/{mid}/")["phase"]) for mid in (x, y)} == before
    # The same request again is not refused for reuse (codes cannot be shown twice: their own refusal).
    assert_error(host.post(f"meetings/{y}/codes/", {"category": "representative", "count": 2}, key=key), 409,
                 "codes_not_repeatable")


def test_a_key_is_scoped_to_whoever_sends_it(county_a) -> None:
    host, mid = new_meeting(county_a)
    other_host = Api(county_a, "host")
    key = str(uuid.uuid4())
    first = host.post(f"meetings/{mid}/check-in/", {"member_id": "pm2"}, key=key, expect=200)
    second = other_host.post(f"meetings/{mid}/check-in/", {"member_id": "pm3"}, key=key, expect=200)
    assert first["replayed"] is False and second["replayed"] is False
    assert host.get(f"meetings/{mid}/")["checked_in"] == {"party_member": 2}


def test_a_phone_retrying_its_ballot_after_the_close_gets_its_receipt(county_a) -> None:
    # Its first answer was lost on the hall's Wi-Fi; the host closed the ballot meanwhile.
    host, mid = new_meeting(county_a)
    plain = to_ballot_open(host, mid)
    voter = Api(county_a)
    ballot = {"code": plain[0], "marks": {SUBJECT: {"zongti": "chenzhi"}}}
    cast = voter.post(f"v/{mid}/ballot/", ballot, expect=201)
    host.post(f"meetings/{mid}/ballot/close/", expect=200)
    again = voter.post(f"v/{mid}/ballot/", ballot, expect=200)
    assert again["receipt"] == cast["receipt"] and again["repeated"] is True
    changed = voter.post(f"v/{mid}/ballot/", {"code": plain[0], "marks": {SUBJECT: {"zongti": "bu_chenzhi"}}})
    assert_error(changed, 409, "wrong_phase")
    assert_error(voter.post(f"v/{mid}/ballot/", {"code": plain[1], "marks": ballot["marks"]}), 409, "wrong_phase")


# -- documentation ---------------------------------------------------------------------------------


def test_openapi_schema_lists_the_commands_and_docs_need_no_internet(county_a) -> None:
    api = Api(county_a)
    response = api.client.get("/api/schema/", {"format": "json"}, HTTP_HOST=api.host)
    assert response.status_code == 200, response.content[:500]
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for command in (
        "announce/", "check-in/", "open/", "reports/start/", "reports/end/", "questions/", "codes/",
        "ballot/open/", "ballot/close/", "paper-batches/", "results/announce/", "close/",
    ):
        assert f"/api/meetings/{{meeting_id}}/{command}" in paths, command
        assert "post" in paths[f"/api/meetings/{{meeting_id}}/{command}"], command
    assert "/api/v/{meeting_id}/ballot/" in paths and "/api/rounds/" in paths
    docs = api.client.get("/api/docs/", HTTP_HOST=api.host)
    assert docs.status_code == 200
    page = docs.content.decode("utf-8").lower()
    assert "swagger" in page
    for remote in ("cdn", "jsdelivr", "unpkg", "googleapis", "cloudflare"):
        assert remote not in page, remote
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "the docs page loads something from another host"
    for asset in re.findall(r"""(?:src|href)=["']([^"']+)["']""", page):
        assert api.client.get(asset, HTTP_HOST=api.host).status_code == 200, asset


# -- isolation between counties --------------------------------------------------------------------


def test_county_b_cannot_see_or_touch_county_a(county_a, county_b) -> None:
    host_a, mid = new_meeting(county_a)
    plain = to_ballot_open(host_a, mid)
    voter_a = Api(county_a)
    voter_a.post(f"v/{mid}/ballot/", {"code": plain[0], "marks": {SUBJECT: {"zongti": "chenzhi"}}}, expect=201)

    host_b = Api(county_b, "host")
    assert_error(host_b.get(f"meetings/{mid}/", expect=None), 404, "unknown_meeting")
    assert_error(host_b.post(f"meetings/{mid}/ballot/close/"), 404, "unknown_meeting")
    assert mid not in [x["meeting_id"] for x in host_b.get("meetings/")["meetings"]]

    # A's token on B's host: the token is unknown there.
    a_on_b = Api(county_b)
    a_on_b.headers = dict(host_a.headers)
    assert_error(a_on_b.get("meetings/", expect=None), 401, "authentication_failed")
    assert_error(a_on_b.post(f"meetings/{mid}/ballot/close/"), 401, "authentication_failed")
    # A's password does not log in on B's host either.
    response = a_on_b.client.post("/api/token/", {"username": host_a.username, "password": "pw-" + host_a.username},
                                  content_type="application/json", HTTP_HOST=a_on_b.host)
    assert response.status_code == 400 and "token" not in response.json()

    # A's codes cannot vote or read in B, not even in a B meeting with the same id.
    voter_b = Api(county_b)
    assert_error(voter_b.post(f"v/{mid}/form/", {"code": plain[1]}), 404, "unknown_meeting")
    assert_error(voter_b.post(f"v/{mid}/ballot/", {"code": plain[1], "marks": {SUBJECT: {"zongti": "chenzhi"}}}),
                 404, "unknown_meeting")
    host_b2, same_id = new_meeting(county_b, meeting_id=mid)
    assert same_id == mid
    to_ballot_open(host_b2, mid)
    assert_error(voter_b.post(f"v/{mid}/form/", {"code": plain[1]}), 404, "unknown_code")
    assert_error(voter_b.post(f"v/{mid}/ballot/", {"code": plain[1], "marks": {SUBJECT: {"zongti": "chenzhi"}}}),
                 404, "unknown_code")
    # Nothing moved in A: one ballot cast there, none in B.
    assert host_a.get(f"meetings/{mid}/")["ballots_cast"] == 1
    assert host_b2.get(f"meetings/{mid}/")["ballots_cast"] == 0
