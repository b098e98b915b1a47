"""No single county account can escalate: roles are granted on /staff/, privileged ones by two people.

The bar of issue 12: a county administrator alone cannot produce a second
teller account that lets them enter both copies of a paper batch, neither
through the county admin site nor through the staff page.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django_tenants.utils import schema_context

from accounts.api_tokens import issue_token
from accounts.models import User
from projections import runtime
from tests.conftest import host_of
from tests.integration.meetings.api_client import Api

pytestmark = pytest.mark.django_db


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def login(county: Any, username: str, path: str = "/login/") -> Client:
    client = Client()
    response = client.post(path, {"username": username, "password": "pw-" + username}, HTTP_HOST=host_of(county))
    assert response.status_code == 302, response.content[:500]
    return client


def account(county: Any, username: str) -> User:
    with schema_context(county.schema_name):
        return User.objects.get(username=username)


def staff_post(client: Client, county: Any, **form: str) -> Any:
    return client.post("/staff/", {"command_id": str(uuid.uuid4()), **form}, HTTP_HOST=host_of(county))


def pending_grant_of(client: Client, county: Any, username: str) -> str:
    page = client.get("/staff/", HTTP_HOST=host_of(county)).content.decode()
    found = re.search(rf'<tr data-grant="(g[0-9a-f]+)">\s*<td>{username}</td>', page)
    assert found, "the pending grant is listed on the staff page"
    return found.group(1)


def paper_meeting_with_first_copy_entered(county: Any, teller: Api) -> tuple[str, dict[str, Any]]:
    """A meeting whose ballot closed, with batch 1 entered once (by `teller`)."""
    admin, host = Api(county, "county_admin"), Api(county, "host")
    round_id = admin.post("rounds/", {"name": "纸质票二人录入", "year": 2026, "variant": "zhi_ping_cun_guan"}, expect=201)["round_id"]
    mid = admin.post("meetings/", {
        "round_id": round_id, "title": "二人录入", "township": "柳林乡", "village": "河湾村", "starts_at": in_days(4),
        "place": "村部", "subjects": [{"subject_id": "cun_shuji", "name": "书记", "level": "village"}],
        "roster": [{"member_id": f"rep{i}", "name": f"代表{i}", "category": "representative"} for i in range(30)],
    }, expect=201)["meeting_id"]
    m = f"meetings/{mid}/"
    host.post(m + "announce/", {"starts_at": in_days(4), "place": "村部", "agenda": ["测评"], "channels": ["广播"]}, expect=200)
    for i in range(30):
        host.post(m + "check-in/", {"member_id": f"rep{i}"}, expect=200)
    host.post(m + "open/", expect=200)
    host.post(m + "reports/start/", {"subject_id": "cun_shuji"}, expect=200)
    host.post(m + "reports/end/", {"subject_id": "cun_shuji"}, expect=200)
    codes = host.post(m + "codes/", {"category": "representative", "count": 3}, expect=200)["codes"]
    host.post(m + "ballot/open/", expect=200)
    host.post(m + "ballot/close/", expect=200)
    batch = {"batch_no": 1, "ballots": [{"code": c, "marks": {"cun_shuji": {"zongti": "chenzhi"}}} for c in codes]}
    assert teller.post(m + "paper-batches/", batch, expect=200)["status"] == "pending"
    return mid, batch


def as_api(county: Any, username: str) -> Api:
    api = Api(county)
    with schema_context(county.schema_name):
        token = issue_token(User.objects.get(username=username))
    api.headers["HTTP_AUTHORIZATION"] = f"Token {token.key}"
    return api


def test_one_county_admin_cannot_make_a_second_teller_to_enter_both_copies_of_a_paper_batch(county_a) -> None:
    boss = Api(county_a, "county_admin")
    teller = Api(county_a, "teller")
    mid, batch = paper_meeting_with_first_copy_entered(county_a, teller)
    m = f"meetings/{mid}/"
    host = host_of(county_a)
    site = login(county_a, boss.username, "/admin/login/?next=/admin/")

    # The admin site offers a name and a password, nothing that grants power; what is posted anyway is ignored.
    sock = f"sock_{uuid.uuid4().hex[:6]}"
    created = site.post("/admin/accounts/user/add/", {
        "username": sock, "display_name": "影子", "password1": "Shadow-pw-" + sock + "-9", "password2": "Shadow-pw-" + sock + "-9",
        "role": "teller", "is_superuser": "on", "is_staff": "on",
    }, HTTP_HOST=host)
    assert created.status_code == 302, created.content[:1000]
    shadow = account(county_a, sock)
    assert (shadow.role, shadow.is_superuser, shadow.is_staff) == ("", False, False)
    form = site.get(f"/admin/accounts/user/{shadow.pk}/change/", HTTP_HOST=host).content.decode()
    for power in ("is_superuser", "is_staff", "groups", "user_permissions", "role", "is_active"):
        assert f'name="{power}"' not in form
    site.post(f"/admin/accounts/user/{shadow.pk}/change/", {
        "username": sock, "display_name": "影子", "role": "teller", "is_superuser": "on", "is_active": "on",
    }, HTTP_HOST=host)
    me = account(county_a, boss.username)
    site.post(f"/admin/accounts/user/{me.pk}/change/", {"username": boss.username, "is_superuser": "on"}, HTTP_HOST=host)
    assert account(county_a, sock).role == "" and not account(county_a, boss.username).is_superuser
    # Nor can the administrator take over the real teller's account by setting its password.
    real = account(county_a, teller.username)
    takeover = site.post(f"/admin/accounts/user/{real.pk}/password/", {"password1": "x-Takeover-9", "password2": "x-Takeover-9"},
                         HTTP_HOST=host)
    assert takeover.status_code == 403
    assert account(county_a, teller.username).check_password("pw-" + teller.username)

    # The staff page records the request, but the administrator cannot confirm it.
    page = login(county_a, boss.username)
    assert staff_post(page, county_a, op="grant", username=sock, role="teller").status_code == 302
    grant_id = pending_grant_of(page, county_a, sock)
    refused = staff_post(page, county_a, op="confirm", grant_id=grant_id)
    assert refused.status_code == 403 and 'data-code="own_grant"' in refused.content.decode()
    assert "不能确认自己提出的授权" in refused.content.decode()
    assert account(county_a, sock).role == ""

    # So the second copy is refused and the batch stays pending.
    second_copy = as_api(county_a, sock).post(m + "paper-batches/", batch)
    assert second_copy.status == 403 and second_copy.error_code == "forbidden"
    assert teller.get(m + "paper-batches/1/")["status"] == "pending"

    # A second administrator confirms: now the account is a teller, and the log says who agreed.
    other = Api(county_a, "county_admin")
    staff_post(login(county_a, other.username), county_a, op="confirm", grant_id=grant_id)
    assert account(county_a, sock).role == "teller"
    recent = page.get("/staff/", HTTP_HOST=host).content.decode()
    assert re.search(rf"<td>{sock}</td><td>teller</td><td>{boss.username}</td><td>granted</td><td>{other.username}</td>", recent)
    assert as_api(county_a, sock).post(m + "paper-batches/", batch, expect=200)["status"] == "reconciled"


def test_only_county_admins_open_the_staff_page_and_the_admin_site(county_a) -> None:
    host_user = Api(county_a, "host")
    page = login(county_a, host_user.username)
    refused = page.get("/staff/", HTTP_HOST=host_of(county_a))
    assert refused.status_code == 403 and "县委组织部管理员" in refused.content.decode()
    assert staff_post(page, county_a, op="grant", username=host_user.username, role="county_admin").status_code == 403
    assert account(county_a, host_user.username).role == "host"
    admin_login = Client().post("/admin/login/?next=/admin/", {"username": host_user.username,
                                                               "password": "pw-" + host_user.username},
                                HTTP_HOST=host_of(county_a))
    assert admin_login.status_code == 200 and "只有县委组织部管理员" in admin_login.content.decode()


def test_observer_is_granted_at_once_and_revoking_and_deactivating_take_effect(county_a) -> None:
    boss = Api(county_a, "county_admin")
    page = login(county_a, boss.username)
    plain = Api(county_a, "observer")
    with schema_context(county_a.schema_name):
        User.objects.filter(username=plain.username).update(role="")
    staff_post(page, county_a, op="grant", username=plain.username, role="observer")
    assert account(county_a, plain.username).role == "observer"
    staff_post(page, county_a, op="grant", username=plain.username, role="host")  # waits for a second person
    staff_post(page, county_a, op="revoke", username=plain.username)
    assert account(county_a, plain.username).role == ""
    staff_post(page, county_a, op="deactivate", username=plain.username)
    assert not account(county_a, plain.username).is_active
    assert plain.get("meetings/", expect=None).status in (401, 403)
    listing = page.get("/staff/", HTTP_HOST=host_of(county_a)).content.decode()
    pending = listing.split('data-testid="pending"')[1].split("</section>")[0]
    assert plain.username not in pending  # its waiting request lapsed with the account
    with schema_context(county_a.schema_name):
        assert runtime.rebuild(runtime.get("staff_changes")).identical


def test_demo_accounts_are_granted_by_the_platform_and_none_is_a_superuser(make_county) -> None:
    from shuping.demo import create_demo_accounts
    from staff import selectors

    county = make_county("demo_staff")
    with schema_context(county.schema_name):
        create_demo_accounts()
        users = {u.username: u for u in User.objects.all()}
        assert users["zuzhibu"].role == "county_admin" and users["teller"].role == "teller"
        assert not any(u.is_superuser or u.is_staff for u in users.values())
        changes = selectors.staff_recent_changes()
        assert {(c["username"], c["state"], c["decided_by"]) for c in changes} == {
            (name, "granted", "platform:demo") for name in ("zuzhibu", "host", "teller", "auditor", "observer")
        }


@pytest.fixture(scope="module")
def committed_county(make_county: Any) -> Any:
    """A county committed outside the test's transaction, so another process sees it."""
    return make_county("cli_staff")


def test_the_command_line_makes_a_countys_first_administrator_recorded_as_the_platform(committed_county) -> None:
    from staff import selectors

    county = committed_county
    run = subprocess.run(
        [sys.executable, "-m", "shuping.cli", "county", "admin", county.schema_name, "zuzhang", "--password", "Pw-first-1"],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "县区管理员 zuzhang" in run.stdout
    with schema_context(county.schema_name):
        first = User.objects.get(username="zuzhang")
        assert first.role == "county_admin" and first.check_password("Pw-first-1") and not first.is_superuser
        assert [(c["username"], c["decided_by"]) for c in selectors.staff_recent_changes()] == [("zuzhang", "platform:cli")]
    again = subprocess.run(
        [sys.executable, "-m", "shuping.cli", "county", "admin", county.schema_name, "zuzhang"],
        capture_output=True, text=True, env=dict(os.environ), timeout=120,
    )
    assert again.returncode == 2 and "已存在" in again.stderr


def test_hostile_form_input_is_refused_in_chinese_and_changes_nothing(county_a) -> None:
    from staff import selectors

    boss = Api(county_a, "county_admin")
    page = login(county_a, boss.username)
    with schema_context(county_a.schema_name):
        before = selectors.staff_recent_changes(limit=1000)
    for form in ({"op": "grant", "username": "a\x00b", "role": "teller"},
                 {"op": "grant", "username": boss.username, "role": "x" * 5000},
                 {"op": "confirm", "grant_id": "g" * 200},
                 {"op": "revoke", "username": "nobody-here"},
                 {"op": "drop_tables"}):
        answer = staff_post(page, county_a, **form)
        assert 400 <= answer.status_code < 500, (form, answer.status_code)
        assert 'role="alert"' in answer.content.decode()
    # Bytes that are no UTF-8 (a lone surrogate's encoding) and a NUL, as a raw form body.
    raw = page.post("/staff/", "op=confirm&grant_id=%ED%A0%80%00", content_type="application/x-www-form-urlencoded",
                    HTTP_HOST=host_of(county_a))
    assert 400 <= raw.status_code < 500
    with schema_context(county_a.schema_name):
        assert selectors.staff_recent_changes(limit=1000) == before


def test_the_migration_takes_the_superuser_flag_from_county_accounts_only(county_a) -> None:
    import importlib

    from django.apps import apps

    migration = importlib.import_module("accounts.migrations.0003_no_county_superusers")
    with schema_context(county_a.schema_name):
        old = User(username=f"old_admin_{uuid.uuid4().hex[:6]}", role="county_admin", is_staff=True, is_superuser=True)
        old.save()
        migration.clear_flags(apps, None)
        old.refresh_from_db()
        assert (old.is_superuser, old.is_staff, old.role) == (False, False, "county_admin")
    with schema_context("public"):
        operator = User(username=f"op_{uuid.uuid4().hex[:6]}", role="operator", is_staff=True, is_superuser=True)
        operator.save()
        migration.clear_flags(apps, None)
        operator.refresh_from_db()
        assert operator.is_superuser and operator.is_staff
