"""The hall screen keeps the right count across a network failure: it reconnects and resyncs."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

MARKS = {"shuji": {"zongti": "chenzhi"}, "zhuren": {"zongti": "jiben_chenzhi"}}


def cast(hall: Any, meeting_id: str, codes: list[str]) -> None:
    voter = hall.api(None)
    for code in codes:
        voter.post(f"v/{meeting_id}/ballot/", {"code": code, "marks": MARKS}, expect=201)


def live(page: Page, expression: str) -> Any:
    return page.evaluate(f"(() => {{ const live = window.shupingLive; return {expression}; }})()")


def turnout(page: Page) -> str:
    return page.locator("#turnout").inner_text()


def test_screen_catches_up_after_the_device_went_offline(hall: Any, contexts: Any) -> None:
    meeting_id, _, codes = hall.meeting_in_ballot(codes=3)
    context = contexts.screen()
    screen = context.new_page()
    screen.goto(hall.url(f"/hall/{meeting_id}/screen/?t={hall.screen_token(meeting_id)}"))
    expect(screen.locator("#turnout")).to_have_text("已投 0/3", use_inner_text=True)
    cast(hall, meeting_id, codes[:1])
    expect(screen.locator("#turnout")).to_have_text("已投 1/3", use_inner_text=True)

    context.set_offline(True)
    expect(screen.locator("#live-banner")).to_have_text("网络中断，正在重连…", use_inner_text=True)
    assert live(screen, "live.connected") is False
    heard = live(screen, "live.received")
    cast(hall, meeting_id, codes[1:])
    # The fence: a screen that stayed online shows the ballots, so they were
    # pushed; only then look at the one that went offline.
    online = contexts.screen().new_page()
    online.goto(hall.url(f"/hall/{meeting_id}/screen/?t={hall.screen_token(meeting_id)}"))
    expect(online.locator("#turnout")).to_have_text("已投 3/3", use_inner_text=True)
    assert turnout(screen) == "已投 1/3", "the screen was cut off, it cannot have heard of the ballots"
    assert live(screen, "live.received") == heard, "nothing reached the offline screen"

    context.set_offline(False)
    expect(screen.locator("#turnout")).to_have_text("已投 3/3", use_inner_text=True, timeout=60_000)
    expect(screen.locator("#live-banner")).to_be_hidden()
    assert live(screen, "live.connected") is True
    assert live(screen, "live.reconnects") >= 1


def test_screen_catches_up_after_the_server_dropped_it(hall: Any, contexts: Any, proxy: Any) -> None:
    """Through a TCP proxy that resets every connection and refuses new ones until restored."""
    meeting_id, _, codes = hall.meeting_in_ballot(codes=4)
    screen = contexts.screen().new_page()
    screen.goto(hall.url(f"/hall/{meeting_id}/screen/?t={hall.screen_token(meeting_id)}", port=proxy.port))
    expect(screen.locator("#turnout")).to_have_text("已投 0/4", use_inner_text=True)
    cast(hall, meeting_id, codes[:1])
    expect(screen.locator("#turnout")).to_have_text("已投 1/4", use_inner_text=True)

    proxy.cut()
    expect(screen.locator("#live-banner")).to_have_text("网络中断，正在重连…", use_inner_text=True)
    cast(hall, meeting_id, codes[1:])
    # At least one reconnection attempt fails while the server is unreachable.
    screen.wait_for_function("() => window.shupingLive.reconnects >= 1 && !window.shupingLive.connected")
    assert turnout(screen) == "已投 1/4"
    assert live(screen, "live.fatal") is None

    proxy.restore()
    expect(screen.locator("#turnout")).to_have_text("已投 4/4", use_inner_text=True, timeout=60_000)
    expect(screen.locator("#live-banner")).to_be_hidden()
    # Counts never went backwards on the screen, across the cut.
    seen = live(screen, "live.messages.filter(m => m.type === 'turnout' || m.type === 'snapshot').map(m => m.cast)")
    shown = [c for c in seen if c is not None]
    assert shown == sorted(shown), seen


def test_a_silent_connection_is_dropped_when_no_pong_comes(hall: Any, contexts: Any, proxy: Any) -> None:
    """Nothing closes, nothing arrives: the missing pong is what tells. (Timings shortened from 15 s / 10 s.)"""
    meeting_id, _, codes = hall.meeting_in_ballot(codes=2)
    page = contexts.screen().new_page()
    token = hall.screen_token(meeting_id)
    page.goto(hall.url(f"/hall/{meeting_id}/screen/?t={token}", port=proxy.port))
    expect(page.locator("#turnout")).to_have_text("已投 0/2", use_inner_text=True)
    # A second client on the page with short timings becomes window.shupingLive.
    page.evaluate(f"""import('/static/js/live.js').then(m => m.connectLive({{
        path: '/ws/m/{meeting_id}/screen/', token: '{token}', onState: () => {{}}, pingMs: 300, pongMs: 800 }}))""")
    page.wait_for_function("() => window.shupingLive.messages.filter(m => m.type === 'pong').length >= 2")

    proxy.freeze()
    page.wait_for_function("() => window.shupingLive.lastClose && window.shupingLive.lastClose.reason === 'no pong'")
    assert live(page, "live.connected") is False
    proxy.thaw()
    cast(hall, meeting_id, codes[:1])
    page.wait_for_function("() => window.shupingLive.connected && window.shupingLive.state.turnout.cast === 1", timeout=60_000)
    assert live(page, "live.reconnects") >= 1
