"""The comment ledger against real PostgreSQL: doors, refusals, the public box, pages, and rebuild equals live.

The county is committed (make_county); the doors are driven directly as the
pages do, and the pages through Django's test client on the county's host.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django_tenants.utils import schema_context
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import User
from accounts.roles import A_MEMBER_OF_PUBLIC, Actor
from common.refusal import Forbidden, Refusal
from events import reading
from followup import comments_selectors, ledger_selectors
from followup.actions import comments as doors
from followup.comments import comment_stream
from meetings.models import Township, Village
from projections.runtime import get, rebuild, state_of
from tests.conftest import host_of

ADMIN = Actor("zuzhibu", "county_admin")
TODAY = date(2026, 12, 2)


def cid() -> str:
    return str(uuid.uuid4())


@pytest.fixture(scope="module")
def county(make_county: Callable[..., Any], django_db_blocker: Any) -> Iterator[Any]:
    made = make_county("comments")
    with django_db_blocker.unblock(), schema_context(made.schema_name):
        township = Township.objects.create(name="城关镇")
        made.village_id = Village.objects.create(township=township, name="东关村").pk
        yield made
        connection.close()


def enter(county: Any, **changes: Any) -> str:
    fields: dict[str, Any] = {
        "actor": ADMIN, "village_id": county.village_id, "mode": "on_site", "manner": "face_to_face",
        "commenter": "乡党委书记 周明", "about": "村党支部书记 王建国", "on": TODAY, "today": TODAY,
        "text": "村道修缮进度慢，群众有意见", "command_id": cid(),
    }
    fields.update(changes)
    return doors.check_enter_comment(**fields)


def test_a_comment_keeps_who_whom_when_what_and_the_item_it_led_to(county: Any) -> None:
    comment_id = enter(county)
    item_id = doors.check_open_item_from_comment(actor=ADMIN, comment_id=comment_id, problem="村道修缮进度慢",
                                                 note="", command_id=cid())
    (row,) = [c for c in comments_selectors.comments_list() if c["comment_id"] == comment_id]
    assert (row["mode_zh"], row["manner_zh"], row["commenter"], row["about"], row["on_date"]) == (
        "现场就近点评", "面对面", "乡党委书记 周明", "村党支部书记 王建国", TODAY)
    assert (row["township"], row["village"], row["items"]) == ("城关镇", "东关村", [item_id])
    item = ledger_selectors.ledger_item(item_id)
    assert item is not None and (item["source_kind"], item["source_ref"], item["village"]) == ("comment", comment_id, "东关村")


def test_opening_an_item_twice_with_one_command_id_opens_one(county: Any) -> None:
    comment_id = enter(county)
    key = cid()
    first = doors.check_open_item_from_comment(actor=ADMIN, comment_id=comment_id, problem="问题", note="", command_id=key)
    again = doors.check_open_item_from_comment(actor=ADMIN, comment_id=comment_id, problem="问题", note="", command_id=key)
    assert first == again
    (row,) = [c for c in comments_selectors.comments_list() if c["comment_id"] == comment_id]
    assert row["items"] == [first]


@pytest.mark.parametrize(("changes", "code"), [
    ({"mode": "gossip"}, "unknown_comment_mode"),
    ({"manner": "shouting"}, "unknown_comment_manner"),
    ({"manner": "anonymous_letter"}, "anonymous_names_commenter"),
    ({"commenter": ""}, "commenter_required"),
    ({"text": "  "}, "text_required"),
    ({"on": TODAY + timedelta(days=1)}, "date_future"),
    ({"village_id": 999_999}, "unknown_village"),
    ({"official_id": "of000000000000"}, "unknown_official"),
    ({"text": "a\x00b"}, "invalid_characters"),
])
def test_bad_comments_are_refused_and_append_nothing(county: Any, changes: dict[str, Any], code: str) -> None:
    before = comments_selectors.comments_list()
    with pytest.raises(Refusal) as refused:
        enter(county, **changes)
    assert refused.value.code == code and refused.value.message_zh
    assert comments_selectors.comments_list() == before


def test_only_the_county_enters_comments_and_only_the_public_drops_suggestions(county: Any) -> None:
    with pytest.raises(Forbidden):
        enter(county, actor=Actor("host1", "host"))
    with pytest.raises(Forbidden):
        doors.check_drop_suggestion(actor=ADMIN, village_id=county.village_id, text="意见", contact="", today=TODAY,
                                    command_id=cid())
    with pytest.raises(Forbidden):
        doors.check_open_item_from_comment(actor=Actor("obs", "observer"), comment_id="dp0", problem="x", note="",
                                           command_id=cid())


def test_the_public_box_needs_no_login_and_keeps_nothing_about_the_writer(county: Any) -> None:
    host = host_of(county)
    client = Client(REMOTE_ADDR="203.0.113.77", HTTP_USER_AGENT="CheapPhone/1.0")
    page = client.get(f"/yijianxiang/{county.village_id}/", HTTP_HOST=host)
    assert page.status_code == 200 and "东关村 群众意见箱" in page.content.decode()
    assert f'href="/gongkai/{county.village_id}/"' in page.content.decode()
    sent = client.post(f"/yijianxiang/{county.village_id}/", {"text": "村口路灯坏了三个月没人修", "contact": "",
                                                               "command_id": cid()}, HTTP_HOST=host)
    assert sent.status_code == 302 and sent["Location"].endswith("?sent=1")
    (row,) = [c for c in comments_selectors.comments_list() if c["text"] == "村口路灯坏了三个月没人修"]
    assert (row["mode"], row["manner"], row["commenter"], row["contact"]) == ("box", "suggestion_box", "", None)
    stored = reading.read_stream(comment_stream(row["comment_id"]))
    text = repr([(e.data, e.metadata) for e in stored])
    assert "203.0.113.77" not in text and "CheapPhone" not in text
    with connection.cursor() as cursor:
        cursor.execute("SELECT data::text || metadata::text FROM events WHERE stream_id = %s", [comment_stream(row["comment_id"])])
        assert all("203.0.113.77" not in m and "CheapPhone" not in m for (m,) in cursor.fetchall())


def test_the_box_is_limited_per_address_and_a_refusal_is_chinese(county: Any) -> None:
    host = host_of(county)
    client = Client(REMOTE_ADDR="198.51.100.9")
    for n in range(5):
        assert client.post(f"/yijianxiang/{county.village_id}/", {"text": f"意见{n}", "command_id": cid()},
                           HTTP_HOST=host).status_code == 302
    before = len(comments_selectors.comments_list())
    refused = client.post(f"/yijianxiang/{county.village_id}/", {"text": "第六条", "command_id": cid()}, HTTP_HOST=host)
    assert refused.status_code == 429 and "提交过于频繁" in refused.content.decode()
    assert len(comments_selectors.comments_list()) == before
    empty = Client(REMOTE_ADDR="198.51.100.10").post(f"/yijianxiang/{county.village_id}/", {"text": ""}, HTTP_HOST=host)
    assert empty.status_code == 400 and "请填写点评内容" in empty.content.decode()
    assert Client().get("/yijianxiang/999999/", HTTP_HOST=host).status_code == 404


def test_the_ledger_page_shows_the_contact_to_the_county_only(county: Any) -> None:
    host = host_of(county)
    Client(REMOTE_ADDR="192.0.2.1").post(f"/yijianxiang/{county.village_id}/",
                                         {"text": "希望公开低保名单", "contact": "13800000000", "command_id": cid()},
                                         HTTP_HOST=host)
    assert "13800000000" not in Client().get(f"/yijianxiang/{county.village_id}/", HTTP_HOST=host).content.decode()
    for role, sees in (("county_admin", True), ("auditor", False)):
        name = f"{role}_{uuid.uuid4().hex[:6]}"
        User.objects.create_user(username=name, password="pw-" + name, role=role)
        client = Client()
        assert client.post("/login/", {"username": name, "password": "pw-" + name}, HTTP_HOST=host).status_code == 302
        page = client.get("/comments/", HTTP_HOST=host).content.decode()
        assert "希望公开低保名单" in page and ("13800000000" in page) is sees
    assert Client().get("/comments/", HTTP_HOST=host).status_code == 302  # no login: to the login page


COMMANDS = st.lists(
    st.tuples(st.sampled_from(["enter", "enter_bad", "letter", "drop", "open", "open_again", "open_unknown"]),
              st.integers(min_value=0, max_value=3)),
    min_size=1, max_size=10,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(commands=COMMANDS)
def test_any_sequence_of_commands_rebuilds_equal_to_live(county: Any, commands: list[tuple[str, int]]) -> None:
    comments: list[str] = []
    keys: list[str] = []
    for op, which in commands:
        try:
            if op == "enter":
                comments.append(enter(county, mode=["meeting", "one_to_one", "on_site", "between_orgs"][which]))
            elif op == "enter_bad":
                enter(county, mode="box")
            elif op == "letter":
                comments.append(enter(county, manner="anonymous_letter", commenter=""))
            elif op == "drop":
                comments.append(doors.check_drop_suggestion(actor=A_MEMBER_OF_PUBLIC, village_id=county.village_id,
                                                            text=f"意见{which}", contact="" if which else "电话",
                                                            today=TODAY, command_id=cid()))
            elif op in ("open", "open_again"):
                if op == "open" or not keys:
                    keys.append(cid())
                target = comments[which % len(comments)] if comments else "dp_none"
                doors.check_open_item_from_comment(actor=ADMIN, comment_id=target, problem="问题", note="",
                                                   command_id=keys[-1])
            else:
                doors.check_open_item_from_comment(actor=ADMIN, comment_id="dp_unknown", problem="问题", note="",
                                                   command_id=cid())
        except Refusal:
            pass  # refused commands are part of the property: they must leave nothing behind
    for name in ("followup_comments", "ledger"):
        projection = get(name)
        live = state_of(projection)
        report = rebuild(projection)
        assert report.identical, (name, commands, report.only_live, report.only_rebuilt)
        assert state_of(projection) == live


def test_an_officials_record_lists_comments_about_them_and_the_items_they_led_to(county: Any) -> None:
    from meetings.actions.registry import check_register_official

    official_id = check_register_official(actor=ADMIN, name="赵村官", command_id=cid())
    about = enter(county, official_id=official_id, about="赵村官", text="接待群众态度生硬")
    item_id = doors.check_open_item_from_comment(actor=ADMIN, comment_id=about, problem="改进接待作风", note="",
                                                 command_id=cid())
    enter(county, text="别人的事")  # about no one in the registry: not on this record
    name = f"auditor_{uuid.uuid4().hex[:6]}"
    User.objects.create_user(username=name, password="pw-" + name, role="auditor")
    client = Client()
    assert client.post("/login/", {"username": name, "password": "pw-" + name}, HTTP_HOST=host_of(county)).status_code == 302
    page = client.get(f"/records/officials/{official_id}/", HTTP_HOST=host_of(county)).content.decode()
    comments = page[page.index('data-testid="record-comments"'):]
    assert "接待群众态度生硬" in comments and "别人的事" not in comments
    assert f'href="/ledger/{item_id}/">改进接待作风</a> · 点评意见 · 正在整改' in page
    assert "还没有测评结果" in page  # no meeting yet: no chart
    assert client.get("/records/officials/of000000000000/", HTTP_HOST=host_of(county)).status_code == 404
    host = Client()
    host_name = f"host_{uuid.uuid4().hex[:6]}"
    User.objects.create_user(username=host_name, password="pw-" + host_name, role="host")
    host.post("/login/", {"username": host_name, "password": "pw-" + host_name}, HTTP_HOST=host_of(county))
    assert host.get(f"/records/officials/{official_id}/", HTTP_HOST=host_of(county)).status_code == 403


def test_the_comment_form_narrows_its_village_and_official_pickers(county: Any) -> None:
    from meetings.actions.registry import check_register_official

    river = Township.objects.create(name="河西乡")
    ferry = Village.objects.create(township=river, name="渡船村").pk
    far = check_register_official(actor=ADMIN, name="孙远山", command_id=cid())
    near = check_register_official(actor=ADMIN, name="钱近水", command_id=cid())
    name = f"county_admin_{uuid.uuid4().hex[:6]}"
    User.objects.create_user(username=name, password="pw-" + name, role="county_admin")
    client, host = Client(), host_of(county)
    assert client.post("/login/", {"username": name, "password": "pw-" + name}, HTTP_HOST=host).status_code == 302

    def form(query: str) -> str:
        page = client.get(f"/comments/{query}", HTTP_HOST=host)
        assert page.status_code == 200, query
        text = page.content.decode()
        return text[text.index('id="record-comment"'):text.index('data-testid="comments"') if 'data-testid="comments"' in text else None]

    everyone = form("")
    assert far in everyone and near in everyone
    assert f'value="{county.village_id}"' in everyone and f'value="{ferry}"' in everyone
    by_name = form("?q=钱近")
    assert near in by_name and far not in by_name
    in_river = form(f"?township={river.pk}")
    assert f'value="{ferry}"' in in_river and f'value="{county.village_id}"' not in in_river
    for hostile in ("?township=99999999999999999999", "?q=%00", "?q=%ED%A0%80", "?township=1%00"):
        assert client.get(f"/comments/{hostile}", HTTP_HOST=host).status_code == 200, hostile


def test_the_ledger_page_shows_a_page_of_comments_at_a_time_newest_first(
    county: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from followup import comments_pages

    monkeypatch.setattr(comments_pages, "COMMENTS_PAGE", 3)
    for day in range(1, 5):
        enter(county, on=date(2099, 1, day), today=date(2099, 2, 1), text=f"第{day}天的点评")  # newest of all
    total = len(comments_selectors.comments_list())
    pages = -(-total // 3)
    name = f"county_admin_{uuid.uuid4().hex[:6]}"
    User.objects.create_user(username=name, password="pw-" + name, role="county_admin")
    client, host = Client(), host_of(county)
    assert client.post("/login/", {"username": name, "password": "pw-" + name}, HTTP_HOST=host).status_code == 302

    def rows(query: str) -> list[str]:
        page = client.get(f"/comments/{query}", HTTP_HOST=host)
        assert page.status_code == 200, query
        return page.content.decode().split('<tr data-comment="')[1:]

    first = rows("")
    assert len(first) == 3 and "第4天的点评" in first[0] and "第2天的点评" in first[2]
    seen = [row.split('"')[0] for p in range(1, pages + 1) for row in rows(f"?page={p}")]
    assert len(seen) == len(set(seen)) == total  # every comment once, across the pages
    html = client.get("/comments/?page=2&township=1", HTTP_HOST=host).content.decode()
    assert "第 2 / " in html and 'href="/comments/?township=1&amp;page=1"' in html
    # A comment recorded while the desk is narrowed comes back to the narrowed desk.
    sent = client.post("/comments/?township=1&q=王", {
        "village_id": str(county.village_id), "mode": "on_site", "manner": "face_to_face", "commenter": "周明",
        "about": "王建国", "on": TODAY.isoformat(), "text": "再登记一条", "command_id": cid()}, HTTP_HOST=host)
    assert sent.status_code == 302 and sent["Location"] == "/comments/?township=1&q=%E7%8E%8B"
    for hostile in ("?page=0", "?page=-1", "?page=" + "9" * 5000, "?page=%00", "?page=２", "?page=1.5"):
        assert len(rows(hostile)) == 3, hostile
    last = [row.split('"')[0] for row in rows(f"?page={pages}")]
    assert [row.split('"')[0] for row in rows("?page=99999")] == last  # past the end: the last page
