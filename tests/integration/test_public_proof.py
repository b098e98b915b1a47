"""Public proof without login: a meeting's public log, verified and recounted, and the receipt lookup.

The meeting is run by the real aggregate (tests.unit.meetings.meeting_given)
and appended to a real county's log; the public log is downloaded as anyone
would and checked by the downloadable verifier, then by `shuping log verify`.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client, override_settings
from django_tenants.utils import schema_context

from events.export import export_stream_to_file
from events.records import NO_STREAM
from events.shuping_verify import verify_file, verify_lines
from events.shuping_verify.canonical import LogEvent, parse_event, parse_json_line
from events.shuping_verify.spelling import canonical_string, read_event
from events.store import append
from tests.conftest import host_of
from tests.unit.meetings.meeting_given import ROSTER, events_until

_HOUR = re.compile(r"\d{4}-\d\d-\d\dT\d\d:00:00\.000000Z\Z")


@pytest.fixture(scope="module")
def published(make_county, django_db_blocker):
    """A county with meeting m1 closed (results announced) and m2 still before its ballot."""
    county = make_county("proof")
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        append("meeting-m1", events_until("closed"), expected_version=NO_STREAM, command_id=uuid.uuid4(), actor="host:李建国")
        opened = events_until("opened")
        append("meeting-m2", opened, expected_version=NO_STREAM, command_id=uuid.uuid4(), actor="host:李建国")
        with connection.cursor() as cursor:
            cursor.execute("SELECT data->>'receipt', data::text FROM events WHERE stream_id = 'meeting-m1'"
                           " AND type = 'BallotCast' ORDER BY stream_version")
            ballots = cursor.fetchall()
        connection.close()
    return county, ballots


def _client(county, address: str = "203.0.113.7") -> Client:
    return Client(HTTP_HOST=host_of(county), REMOTE_ADDR=address)


def _download(county, django_db_blocker, meeting_id: str = "m1"):
    with django_db_blocker.unblock():
        return _client(county).get(f"/yanzheng/logs/{meeting_id}.jsonl")


def test_the_public_log_names_no_voter_coarsens_their_times_and_passes_the_verifier_with_its_recount(
        published, django_db_blocker, tmp_path) -> None:
    county, ballots = published
    response = _download(county, django_db_blocker)
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="shuping-public-m1.jsonl"'
    text = response.content.decode("utf-8")
    for member in ROSTER:  # names and ids of the roster appear nowhere
        assert member.name not in text and f'"{member.member_id}"' not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert lines[0]["format"] == "shuping-public-log"
    redacted = [line for line in lines[1:] if line["redacted"]]
    assert {line["type"] for line in redacted} == {"MeetingConfigured", "AttendeeCheckedIn"}
    assert all(_HOUR.match(line["recorded_at"]) and line["metadata"] == {} for line in redacted)
    assert all("name" not in line["data"] for line in redacted if line["type"] == "AttendeeCheckedIn")
    [roster] = [line["data"]["roster"] for line in redacted if line["type"] == "MeetingConfigured"]
    pseudonyms = [m["member_id"] for m in roster]
    assert len(pseudonyms) == len(ROSTER) and pseudonyms == sorted(pseudonyms)  # the roster's order is not kept
    checked_in = {line["data"]["attendee_id"] for line in redacted if line["type"] == "AttendeeCheckedIn"}
    assert checked_in == set(pseudonyms)  # the same member, the same pseudonym: the recount's eligible still adds up
    cast = [line for line in lines[1:] if line["type"] == "BallotCast"]
    assert [line["data"]["receipt"] for line in cast] == [receipt for receipt, _ in ballots]
    assert all(not line["redacted"] for line in cast)

    path = tmp_path / "public.jsonl"
    path.write_bytes(response.content)
    report = verify_file(path, trusted_heads=[lines[0]["head_hash"]])
    assert report.ok, report.problems
    assert (report.public, report.redacted, report.results_recounted) == (True, len(redacted), 1)
    assert report.closed_at == len(lines) - 1 and not report.prefix_only
    for raw in response.content.splitlines()[1:]:  # the export's spelling, read quickly and as strictly
        quick = read_event(raw, canonical_string(lines[0]["county"]), True)
        assert quick is not None and repr(LogEvent(*quick)) == repr(parse_event(parse_json_line(raw), lines[0]["county"], public=True))
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    cli = subprocess.run([sys.executable, "-m", "shuping.cli", "log", "verify", str(path), "--head", lines[0]["head_hash"]],
                         capture_output=True, text=True, env=env, timeout=60, check=False)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "重新计票与公布结果一致 / recount matches the announced results (1)" in cli.stdout
    assert f"公开日志：{len(redacted)} 条事件已去除个人信息" in cli.stdout


def test_a_ballot_changed_in_the_public_log_is_caught(published, django_db_blocker) -> None:
    county, _ballots = published
    lines = _download(county, django_db_blocker).content.decode("utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if '"BallotCast"' in line)
    doctored = json.loads(lines[index])
    doctored["data"]["marks"]["wang"]["gongzuo_jixiao"] = "cha"
    lines[index] = json.dumps(doctored, ensure_ascii=False)
    report = verify_lines(lines)
    assert not report.ok and report.problems[0].code == "hash_mismatch"
    assert report.problems[0].line_no == index + 1


def test_a_meeting_without_announced_results_has_no_public_log(published, django_db_blocker) -> None:
    county, _ballots = published
    response = _download(county, django_db_blocker, "m2")
    assert response.status_code == 404
    assert "该会议的结果尚未公布" in response.content.decode("utf-8")
    assert _download(county, django_db_blocker, "nosuch").status_code == 404


def _lookup(county, django_db_blocker, receipt: str, address: str = "203.0.113.7"):
    with django_db_blocker.unblock():
        response = _client(county, address).post("/yanzheng/", {"receipt": receipt})
    return response, response.content.decode("utf-8")


def _answer(page: str) -> str:
    return page[page.index('id="receipt-answer"'):page.index("</section>")]


def test_a_counted_receipt_is_found_and_the_page_shows_no_marks_and_no_order(published, django_db_blocker) -> None:
    county, ballots = published
    with django_db_blocker.unblock():
        form = _client(county).get("/yanzheng/")
    assert form.status_code == 200 and "核对我的选票是否计入" in form.content.decode("utf-8")
    receipt, data = ballots[1]
    response, page = _lookup(county, django_db_blocker, "  " + receipt.upper() + "\n")  # as copied from a phone
    assert response.status_code == 200
    answer = _answer(page)
    assert "已计入" in answer and "2026年一季度述评大会" in answer
    ballot = json.loads(data)
    # Nothing of the ballot: not its code hash, receipt, marks or grades, nor its place among the ballots.
    for secret in (ballot["code_hash"], receipt, "hao", "sixiang_jianshe", "gongzuo_jixiao", "好"):
        assert secret not in answer, secret
    assert not re.search(r"第\s*\d+\s*(张|票|位)|#\s*\d|position|version", answer)


def test_an_unknown_receipt_is_reported_as_not_found(published, django_db_blocker) -> None:
    county, _ballots = published
    response, page = _lookup(county, django_db_blocker, "ab" * 32)
    assert response.status_code == 200
    assert "未找到" in _answer(page) and "已计入" not in page


@pytest.mark.parametrize("bad", ["\x00" * 64, "a" * 63 + "\x00", "f" * 100_000, "not a receipt", "g" * 64, ""])
def test_bad_input_gets_a_chinese_error_never_a_500(published, django_db_blocker, bad: str) -> None:
    county, _ballots = published
    response, page = _lookup(county, django_db_blocker, bad, address="198.51.100.9")
    assert response.status_code == 400
    assert "回执格式不对" in page or "非法字符" in page or "请求" in page
    assert "\x00" not in page and "f" * 100 not in page


@override_settings(RECEIPT_LOOKUP_RATE="3/min")
def test_lookups_are_rate_limited_per_address(published, django_db_blocker) -> None:
    county, _ballots = published
    address = "192.0.2.44"
    statuses = [_lookup(county, django_db_blocker, "cd" * 32, address)[0].status_code for _ in range(3)]
    response, page = _lookup(county, django_db_blocker, "cd" * 32, address)
    assert statuses == [200, 200, 200]
    assert response.status_code == 429 and "查询过于频繁" in page
    assert _lookup(county, django_db_blocker, "cd" * 32, "192.0.2.45")[0].status_code == 200
    with django_db_blocker.unblock():  # a header the client writes does not make it another address
        forged = _client(county, address).post("/yanzheng/", {"receipt": "cd" * 32}, HTTP_X_FORWARDED_FOR="10.9.8.7")
    assert forged.status_code == 429


def test_the_notice_can_link_to_the_proof(published) -> None:
    from live.proof import proof_links

    links = proof_links("m1")
    assert links == {"public_log": "/yanzheng/logs/m1.jsonl", "receipt_lookup": "/yanzheng/", "verifier": "/shuping-verify.pyz"}
    assert Path(__file__).resolve().parents[2].joinpath("frontend/templates/proof/_links.html").is_file()


def test_the_downloaded_verifier_says_what_shuping_log_verify_says_of_a_public_log(published, django_db_blocker, tmp_path) -> None:
    county, _ballots = published
    program, log = tmp_path / "shuping-verify.pyz", tmp_path / "public.jsonl"
    with django_db_blocker.unblock():
        program.write_bytes(_client(county).get("/shuping-verify.pyz").content)
    log.write_bytes(_download(county, django_db_blocker).content)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    alone = subprocess.run([sys.executable, "-I", "-S", str(program), str(log)], capture_output=True, text=True,
                           encoding="utf-8", env=env, timeout=60, check=False)
    platform = subprocess.run([sys.executable, "-m", "shuping.cli", "log", "verify", str(log)], capture_output=True,
                              text=True, encoding="utf-8", env=env, timeout=60, check=False)
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert (alone.returncode, alone.stdout) == (platform.returncode, platform.stdout)
    last = max(json.loads(line)["version"] for line in log.read_text(encoding="utf-8").splitlines()[1:]
               if json.loads(line)["redacted"])
    assert last == 12  # schedule, configuration, announcement, nine check-ins
    assert "第 13 版起的事件由哈希完整证明" in alone.stdout


def test_an_auditor_with_the_full_log_catches_a_doctored_redacted_event(published, django_db_blocker, tmp_path) -> None:
    """A redacted event's data is not hashed: the public chain cannot catch a change there; the full log does."""
    county, _ballots = published
    full, public, doctored = tmp_path / "full.jsonl", tmp_path / "public.jsonl", tmp_path / "doctored.jsonl"
    with django_db_blocker.unblock(), schema_context(county.schema_name):
        export_stream_to_file("meeting-m1", full)
        connection.close()
    public.write_bytes(_download(county, django_db_blocker).content)
    assert _verify(public, "--full", full).returncode == 0
    lines = public.read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if '"AttendeeCheckedIn"' in line)
    changed = json.loads(lines[index])
    changed["data"]["category"] = "guest"  # a roster member's check-in: the recount's figures do not change
    lines[index] = json.dumps(changed, ensure_ascii=False)
    doctored.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert _verify(doctored).returncode == 0  # the public chain alone cannot see it (section 14.2)
    result = _verify(doctored, "--full", full)
    assert result.returncode == 1
    assert result.stdout.startswith(f"校验失败 / FAILED at line {index + 1} ") and "未按第 14.1 节去除个人信息" in result.stdout


def _verify(path: Path, *args: object) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")}
    return subprocess.run([sys.executable, "-m", "shuping.cli", "log", "verify", str(path), *map(str, args)],
                          capture_output=True, text=True, encoding="utf-8", env=env, timeout=60, check=False)
