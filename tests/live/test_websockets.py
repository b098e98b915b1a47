"""The hall's websockets against a real server process: scope, tokens, pushes, resync."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any
from unittest import mock

import pytest
from django.core import signing

from common import tokens
from tests.live.server import (
    HttpApi,
    LiveServer,
    county_host,
    demo_meeting,
    marks_for,
    results_as_shown,
    to_ballot_open,
)
from tests.live.ws import Screen


def screen_path(county: Any, meeting_id: str, kind: str = "screen", token: str | None = None) -> str:
    token = token if token is not None else tokens.issue(county=county.schema_name, meeting_id=meeting_id, kind=kind)
    return f"/ws/m/{meeting_id}/{kind}/?t={token}"


def edit_claims(token: str, **changes: str) -> str:
    """The token with its claims rewritten and its signature kept: what a forger can do."""
    payload, rest = token.split(":", 1)
    claims = json.loads(signing.b64_decode(payload.encode()))
    claims.update(changes)
    return signing.b64_encode(json.dumps(claims, separators=(",", ":")).encode()).decode() + ":" + rest


def open_screen(server: LiveServer, county: Any, meeting_id: str, **kwargs: Any) -> Screen:
    return Screen(server, county_host(county), screen_path(county, meeting_id, **kwargs))


def cast_shown(message: dict[str, Any]) -> int | None:
    """The ballot count a message puts on the screen (None: the message shows no count)."""
    if message["type"] == "turnout":
        return int(message["cast"])
    if message["type"] == "snapshot":
        return int(message["turnout"]["cast"])
    return None


@pytest.fixture(scope="module")
def apis(hall_server: LiveServer, live_county: Any, django_db_blocker: Any) -> tuple[HttpApi, HttpApi, HttpApi]:
    with django_db_blocker.unblock():
        return (HttpApi(hall_server, live_county, "county_admin"), HttpApi(hall_server, live_county, "host"),
                HttpApi(hall_server, live_county, None))


def test_a_screen_gets_a_snapshot_then_follows_check_ins_and_ballots(hall_server, live_county, apis) -> None:
    admin, host, voter = apis
    meeting = demo_meeting(admin, host)
    mid = meeting["meeting_id"]
    screen = open_screen(hall_server, live_county, mid)
    first = screen.until(lambda m: m["type"] == "snapshot")
    assert first["phase"] == "announced" and first["title"] == "柳林村2026年度直评村官大会"
    assert first["turnout"]["cast"] == 0
    # Nothing on the screen names who checked in.
    assert "roster" not in first and "党员0" not in str(first)

    host.post(f"meetings/{mid}/check-in/", {"member_id": "pm0"}, expect=200)
    after = screen.until(lambda m: m["type"] == "snapshot" and m["version"] > first["version"])
    pm = next(q for q in after["quorum"] if q["category"] == "party_member")
    assert pm["present"] == 1

    codes = to_ballot_open(host, {**meeting, "roster": meeting["roster"][1:]})
    screen.until(lambda m: m["type"] == "snapshot" and m["phase"] == "ballot_open")
    for code in codes["party_member"][:2]:
        voter.post(f"v/{mid}/ballot/", {"code": code, "marks": marks_for()}, expect=201)
    turnout = screen.until(lambda m: m.get("turnout", m).get("cast") == 2 if m["type"] == "snapshot" else m.get("cast") == 2)
    # A turnout message says how many, never what: no marks, no codes, no receipts.
    assert not ({"marks", "code_hash", "receipt"} & set(turnout))
    # The same ballot again (a phone's retry) changes nothing on the screen:
    # up to the close (a later change, so a fence for anything the retry
    # might have pushed), every count the screen is sent is still 2.
    after_retry = len(screen.messages)
    voter.post(f"v/{mid}/ballot/", {"code": codes["party_member"][0], "marks": marks_for()}, expect=200)

    host.post(f"meetings/{mid}/ballot/close/", expect=200)
    closed = screen.until(lambda m: m["type"] == "snapshot" and m["phase"] == "ballot_closed")
    assert closed["turnout"]["cast"] == 2 and len(closed["head_hash"]) == 64
    counts = [cast_shown(m) for m in screen.messages[after_retry:]]
    assert [c for c in counts if c is not None] and all(c == 2 for c in counts if c is not None), counts
    host.post(f"meetings/{mid}/results/announce/", expect=200)
    shown = screen.until(lambda m: m["type"] == "snapshot" and m["phase"] == "results_announced")
    # The results API's body, with the recorded announcement reduced to what its tally does not say.
    assert shown["results"] == results_as_shown(host.get(f"meetings/{mid}/results/"))
    screen.close()


def test_the_results_frame_carries_the_tally_once_and_every_announced_score(hall_server, live_county, apis) -> None:
    """The frame a hall screen gets at the announcement holds each subject's counts once, and its announced score."""
    admin, host, voter = apis
    meeting = demo_meeting(admin, host)
    mid = meeting["meeting_id"]
    codes = to_ballot_open(host, meeting)
    for n, code in enumerate(codes["party_member"] + codes["representative"]):
        voter.post(f"v/{mid}/ballot/", {"code": code, "marks": marks_for(("chenzhi", "jiben_chenzhi", "bu_chenzhi")[n % 3])},
                   expect=201)
    screen = open_screen(hall_server, live_county, mid)
    screen.until(lambda m: m["type"] == "snapshot")
    host.post(f"meetings/{mid}/ballot/close/", expect=200)
    host.post(f"meetings/{mid}/results/announce/", expect=200)
    shown = screen.until(lambda m: m["type"] == "snapshot" and m["phase"] == "results_announced")
    raw = screen.raw[screen.messages.index(shown)]
    recorded = host.get(f"meetings/{mid}/results/")["announced"]
    subjects = shown["results"]["subjects"]
    assert len(subjects) == len(recorded["subjects"]) >= 2
    # Once: a count table per subject and per voter group, and no second copy under `announced`.
    groups = sum(len(s["groups"]) for s in subjects)
    assert raw.count('"counts": ') == len(subjects) + groups, raw.count('"counts": ')
    assert raw.count('"groups": ') == len(subjects)
    for subject, announced in zip(subjects, recorded["subjects"], strict=True):
        assert (subject["subject_id"], subject["counts"]) == (announced["subject_id"], announced["counts"])
    # What the page shows next to each subject: the announced score, as recorded.
    assert shown["results"]["announced"]["subjects"] == [
        {"subject_id": s["subject_id"], "score": s["score"]} for s in recorded["subjects"]]
    screen.close()


def test_a_county_cannot_see_another_countys_meeting_with_the_same_id(
    hall_server, live_county, other_live_county, apis, django_db_blocker
) -> None:
    admin_a, host_a, _ = apis
    with django_db_blocker.unblock():
        admin_b, host_b = HttpApi(hall_server, other_live_county, "county_admin"), HttpApi(hall_server, other_live_county, "host")
    same = f"m_same_{uuid.uuid4().hex[:6]}"
    demo_meeting(admin_a, host_a, meeting_id=same, title="甲县的会")
    demo_meeting(admin_b, host_b, meeting_id=same, title="乙县的会")

    # County A's token on county B's host: refused, and nothing of either meeting is sent.
    token_a = tokens.issue(county=live_county.schema_name, meeting_id=same, kind="screen")
    foreign = Screen(hall_server, county_host(other_live_county), f"/ws/m/{same}/screen/?t={token_a}")
    refused = foreign.until(lambda m: True)
    assert refused["type"] == "error" and refused["code"] == "token_wrong_county"
    foreign.next()
    assert foreign.close_code == 4403 and [m["type"] for m in foreign.messages] == ["error"]

    screen_b = open_screen(hall_server, other_live_county, same)
    assert screen_b.until(lambda m: m["type"] == "snapshot")["title"] == "乙县的会"
    screen_a = open_screen(hall_server, live_county, same)
    assert screen_a.until(lambda m: m["type"] == "snapshot")["title"] == "甲县的会"
    # A check-in in county A moves A's screen and not B's (group names carry the county).
    shown_b = len(screen_b.messages)
    host_a.post(f"meetings/{same}/check-in/", {"member_id": "pm1"}, expect=200)
    screen_a.until(lambda m: m["type"] == "snapshot" and m["quorum"][0]["present"] == 1)
    # The fence: a later check-in in county B must reach B's screen, and it is
    # the first thing that does (whatever A's check-in sent went out before it).
    host_b.post(f"meetings/{same}/check-in/", {"member_id": "pm2"}, expect=200)
    fence = screen_b.until(lambda m: m["type"] != "snapshot" or m["quorum"][0]["present"] > 0)
    assert screen_b.messages[shown_b:] == [fence]
    assert fence["type"] == "snapshot" and fence["title"] == "乙县的会" and fence["quorum"][0]["present"] == 1
    screen_a.close()
    screen_b.close()


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (lambda c, m: tokens.issue(county=c, meeting_id=m, kind="screen")[:-3] + "AAA", "token_invalid"),
        (lambda c, m: edit_claims(tokens.issue(county=c, meeting_id="m_other", kind="screen"), m=m), "token_invalid"),
        (lambda c, m: "", "token_missing"),
        (lambda c, m: tokens.issue(county=c, meeting_id="m_other", kind="screen"), "token_wrong_meeting"),
        (lambda c, m: tokens.issue(county=c, meeting_id=m, kind="phone"), "token_wrong_kind"),
    ],
    ids=["forged-signature", "edited-claims", "missing", "other-meeting", "phone-token-on-screen"],
)
def test_a_forged_or_misused_screen_token_is_refused(hall_server, live_county, apis, make_token, code) -> None:
    admin, host, _ = apis
    mid = demo_meeting(admin, host)["meeting_id"]
    screen = open_screen(hall_server, live_county, mid, token=make_token(live_county.schema_name, mid))
    refused = screen.until(lambda m: True)
    assert (refused["type"], refused["code"]) == ("error", code) and refused["message"]
    screen.next()
    assert screen.close_code == 4403


def test_an_expired_screen_token_is_refused(hall_server, live_county, apis) -> None:
    admin, host, _ = apis
    mid = demo_meeting(admin, host)["meeting_id"]
    issued_at = time.time() - tokens.TTL_SECONDS["screen"] - 60
    with mock.patch("time.time", return_value=issued_at):
        old = tokens.issue(county=live_county.schema_name, meeting_id=mid, kind="screen")
    screen = open_screen(hall_server, live_county, mid, token=old)
    assert screen.until(lambda m: True)["code"] == "token_expired"
    screen.next()
    assert screen.close_code == 4403
    # A fresh one for the same meeting works.
    fresh = open_screen(hall_server, live_county, mid)
    assert fresh.until(lambda m: True)["type"] == "snapshot"
    fresh.close()


def test_a_page_of_another_site_cannot_subscribe(hall_server, live_county, apis) -> None:
    admin, host, _ = apis
    mid = demo_meeting(admin, host)["meeting_id"]
    path = screen_path(live_county, mid)
    evil = Screen(hall_server, county_host(live_county), path, origin="http://evil.example")
    assert evil.until(lambda m: True)["code"] == "origin_refused"
    same_site = Screen(hall_server, county_host(live_county), path,
                       origin=f"http://{county_host(live_county)}:{hall_server.port}")
    assert same_site.until(lambda m: True)["type"] == "snapshot"
    same_site.close()


def test_an_unknown_host_or_meeting_is_refused(hall_server, live_county) -> None:
    unknown_host = Screen(hall_server, "nowhere.localhost", screen_path(live_county, "m1"))
    assert unknown_host.until(lambda m: True)["code"] == "unknown_host"
    unknown_meeting = open_screen(hall_server, live_county, "m_never_scheduled")
    assert unknown_meeting.until(lambda m: True)["code"] == "unknown_meeting"
    unknown_meeting.next()
    assert unknown_meeting.close_code == 4404


def test_a_message_over_the_size_limit_closes_the_socket(hall_server, live_county, apis) -> None:
    admin, host, _ = apis
    mid = demo_meeting(admin, host)["meeting_id"]
    screen = open_screen(hall_server, live_county, mid)
    screen.until(lambda m: m["type"] == "snapshot")
    screen.send({"type": "ping"})
    assert screen.until(lambda m: True)["type"] == "pong"
    screen.send({"type": "ping", "padding": "x" * 5000})
    assert screen.until(lambda m: True)["code"] == "message_too_big"
    screen.next()
    assert screen.close_code == 1009


def test_a_screen_that_reconnects_after_missing_updates_shows_the_right_count(hall_server, live_county, apis) -> None:
    admin, host, voter = apis
    meeting = demo_meeting(admin, host)
    mid = meeting["meeting_id"]
    codes = to_ballot_open(host, meeting)
    screen = open_screen(hall_server, live_county, mid)
    assert screen.until(lambda m: m["type"] == "snapshot")["turnout"]["cast"] == 0
    screen.close()  # the hall's network drops
    for code in codes["representative"] + codes["party_member"][:1]:
        voter.post(f"v/{mid}/ballot/", {"code": code, "marks": marks_for("jiben_chenzhi")}, expect=201)
    back = open_screen(hall_server, live_county, mid)
    snapshot = back.until(lambda m: m["type"] == "snapshot")
    assert snapshot["turnout"]["cast"] == 4 and snapshot["phase"] == "ballot_open"
    # Asking for a resync (what a client does when it sees a version gap) gives the same truth.
    back.send({"type": "resync"})
    again = back.until(lambda m: m["type"] == "snapshot")
    assert again["turnout"]["cast"] == 4 and again["version"] == snapshot["version"]
    back.close()
    # Missed while away: the ballot closed. The next connection shows it, with the log's head.
    host.post(f"meetings/{mid}/ballot/close/", expect=200)
    last = open_screen(hall_server, live_county, mid).until(lambda m: m["type"] == "snapshot")
    assert last["phase"] == "ballot_closed" and last["turnout"]["cast"] == 4 and len(last["head_hash"]) == 64


def test_a_phone_subscribes_with_the_token_its_code_earned(hall_server, live_county, apis) -> None:
    admin, host, voter = apis
    meeting = demo_meeting(admin, host)
    mid = meeting["meeting_id"]
    codes = to_ballot_open(host, meeting)
    form = voter.post(f"v/{mid}/form/", {"code": codes["party_member"][0]}, expect=200)
    phone = Screen(hall_server, county_host(live_county), f"/ws/m/{mid}/phone/?t={form['live_token']}")
    snapshot = phone.until(lambda m: m["type"] == "snapshot")
    assert snapshot["phase"] == "ballot_open" and snapshot["kind"] == "phone"
    phone.close()
    # The phone's token opens no other page.
    other = Screen(hall_server, county_host(live_county), f"/ws/m/{mid}/console/?t={form['live_token']}")
    assert other.until(lambda m: True)["code"] == "token_wrong_kind"


def test_a_screen_asking_for_resyncs_in_a_loop_gets_one_read_per_second(hall_server, live_county, apis) -> None:
    # A hall-screen link travels widely; one socket must not keep the database busy.
    admin, host, _ = apis
    mid = demo_meeting(admin, host)["meeting_id"]
    screen = open_screen(hall_server, live_county, mid)
    screen.until(lambda m: m["type"] == "snapshot")
    asked = time.monotonic()  # before the server can have read anything for these resyncs
    seen = len(screen.messages)
    for _ in range(10):
        screen.send({"type": "resync"})
    # The fence: a socket's messages are handled one after the other, and a
    # resync's snapshot is sent before the next message is read, so the pong
    # comes after everything the ten resyncs brought.
    screen.send({"type": "ping"})
    screen.until(lambda m: m["type"] == "pong")
    burst = [m for m in screen.messages[seen:] if m["type"] == "snapshot"]
    assert len(burst) == 1
    # Asking on (each ask fenced by a ping): the next snapshot comes, and not
    # before a second has passed since the first read.
    while True:
        screen.send({"type": "resync"})
        screen.send({"type": "ping"})
        answer = screen.until(lambda m: m["type"] in ("snapshot", "pong"))
        if answer["type"] == "snapshot":
            break
        # Pacing only (the verdict is the snapshot, under until's ceiling), and
        # within the frame budget (live.flood: 10 frames a second would be closed).
        time.sleep(0.2)
        assert time.monotonic() - asked < 30, "a resync was never answered again"
    assert time.monotonic() - asked >= 1.0
    assert answer["meeting_id"] == mid
    screen.close()
