"""The Content-Security-Policy: on every page, strict, and not one page of the hall breaks under it.

Every browser test already fails on a violation (conftest.Contexts); these
open each kind of page once, check the header a person would read in the
browser's network panel, and prove that the watch does catch a violation.
"""

from __future__ import annotations

import time
from typing import Any

from playwright.sync_api import expect

STRICT = ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
          "frame-ancestors 'none'", "base-uri 'self'")


def assert_strict(response: Any) -> None:
    assert response is not None
    policy = response.headers.get("content-security-policy", "")
    for directive in STRICT:
        assert directive in policy, (response.url, policy)
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy, policy


def log_in(page: Any, hall: Any, role: str, next_path: str) -> Any:
    username, password = hall.user(role)
    assert_strict(page.goto(hall.url(f"/login/?next={next_path}")))
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    with page.expect_navigation() as landed:
        page.click("#login-submit")
    return landed.value


def test_the_hall_pages_carry_a_strict_policy_and_work_under_it(hall: Any, contexts: Any) -> None:
    meeting_id, _, _ = hall.meeting(party_members=1, representatives=0)

    console = contexts.desk().new_page()
    assert_strict(log_in(console, hall, "host", f"/hall/{meeting_id}/console/"))
    expect(console.locator("#phase")).to_have_text("已公告", use_inner_text=True)
    assert console.locator("#screen-url").input_value().startswith(hall.url(f"/hall/{meeting_id}/screen/?t="))
    assert_strict(console.goto(hall.url("/dashboard/")))
    expect(console.locator(f"tr[data-meeting={meeting_id}]")).to_contain_text("已公告", use_inner_text=True)

    teller = contexts.desk().new_page()
    assert_strict(log_in(teller, hall, "teller", f"/hall/{meeting_id}/teller/"))
    expect(teller.locator("#phase")).to_have_text("已公告", use_inner_text=True)

    screen = contexts.screen().new_page()
    assert_strict(screen.goto(hall.url(f"/hall/{meeting_id}/screen/?t={hall.screen_token(meeting_id)}")))
    expect(screen.locator("#phase")).to_have_text("已公告", use_inner_text=True)
    # The read-only screen has no language button: its link chooses, through a script file in <head>.
    assert_strict(screen.goto(hall.url(f"/hall/{meeting_id}/screen/?t={hall.screen_token(meeting_id)}&lang=en")))
    expect(screen.locator("#phase")).to_have_text("announced", use_inner_text=True)
    expect(screen.locator("html")).to_have_attribute("lang", "en")
    teller.click("[data-lang-toggle]")  # the toggle is a script of its own; the language script in <head> too
    expect(teller.locator("#phase")).to_have_text("announced", use_inner_text=True)
    teller.reload()
    expect(teller.locator("html")).to_have_attribute("lang", "en")

    phone = contexts.phone().new_page()
    assert_strict(phone.goto(hall.url(f"/v/{meeting_id}")))
    phone.fill("#code-input", "ABCD-EFGH-JKMN")
    phone.click("#code-form button")
    expect(phone.locator("#notice")).to_contain_text("测评码无效", use_inner_text=True)

    assert contexts.csp == [] and contexts.errors == []


def test_the_other_pages_carry_it_too(hall: Any, contexts: Any) -> None:
    page = contexts.desk().new_page()
    docs = page.goto(hall.url("/api/docs/"))
    assert_strict(docs)
    # Swagger UI starts from a script file (?script): its title appears only if that ran.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("述评 Shuping API")
    for path, status in (("/", 200), ("/admin/login/", 200), ("/no-such-page/", 404), ("/api/meetings/", 401)):
        response = page.goto(hall.url(path))
        assert response is not None and response.status == status, (path, response and response.status)
        assert_strict(response)
    assert contexts.csp == [] and contexts.errors == []


def test_the_watch_catches_an_inline_script_and_an_inline_style(hall: Any, contexts: Any) -> None:
    """Without this the two tests above could pass with a watch that sees nothing."""
    page = contexts.desk().new_page()
    page.goto(hall.url("/login/"))
    refused = page.evaluate("""() => new Promise((resolve) => {
        const seen = [];
        document.addEventListener("securitypolicyviolation", (e) => {
            seen.push(e.effectiveDirective);
            if (seen.length === 2) resolve(seen.sort());
        });
        const script = document.createElement("script");
        script.textContent = "window.inlineRan = true";
        document.head.append(script);
        document.body.insertAdjacentHTML("beforeend", '<p id="styled" style="color: red">x</p>');
    })""")
    assert refused == ["script-src-elem", "style-src-attr"]
    assert page.evaluate("window.inlineRan === undefined")
    assert page.evaluate("getComputedStyle(document.getElementById('styled')).color") != "rgb(255, 0, 0)"
    # The reporter's console lines reach this process as events: poll for them, with a ceiling.
    deadline = time.monotonic() + 10
    while sum(line.startswith("CSP violation:") for line in contexts.csp) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert sum(line.startswith("CSP violation:") for line in contexts.csp) >= 2, contexts.csp
    contexts.csp.clear()  # expected here; any other test fails on them
