"""Browser tests: the hall's pages in real headless Chromium against a real server process.

One uvicorn server (tests.live.server.LiveServer) and one Chromium serve the
tests of this package and stop after them (package scope: Playwright's sync
API marks an asyncio loop as running in the main thread while it lives,
which would break every later test that uses async_to_sync). Each test makes
its own meeting in one shared county, so tests do not see each other's state. Chromium resolves `*.localhost` to the
loopback address, so the county's `<slug>.localhost` host works without DNS.

Playwright's sync API keeps an asyncio loop marked as running in the main
thread, and Django refuses ORM calls there (SynchronousOnlyOperation). The
few ORM calls of these tests (county, users) run inside `Hall.db()`, which
allows them for that block only, so nothing leaks into the rest of the suite.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.live.server import (
    SUBJECTS,
    HttpApi,
    LiveServer,
    county_host,
    demo_meeting,
    make_live_county,
    user_with_role,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
SCREEN = {"viewport": {"width": 1920, "height": 1080}}
DESK = {"viewport": {"width": 1400, "height": 1000}}
CEILING_MS = 30_000  # the longest any wait of a page may take: a hung test, not a slow machine


@contextlib.contextmanager
def orm_allowed(django_db_blocker: Any) -> Iterator[None]:
    """Database access from the test process, also while Playwright's loop is running."""
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with django_db_blocker.unblock():
            yield
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


class Hall:
    """One county on the live server, as the tests use it."""

    def __init__(self, server: LiveServer, county: Any, blocker: Any) -> None:
        self.server = server
        self.county = county
        self.blocker = blocker
        self.host = county_host(county)

    def db(self) -> contextlib.AbstractContextManager[None]:
        return orm_allowed(self.blocker)

    def url(self, path: str, *, port: int | None = None) -> str:
        return f"http://{self.host}:{port or self.server.port}{path}"

    def api(self, role: str | None) -> HttpApi:
        with self.db():
            return HttpApi(self.server, self.county, role)

    def user(self, role: str) -> tuple[str, str]:
        with self.db():
            name, password, _ = user_with_role(self.county, role, password=f"pw-{role}-Shuping1")
        return name, password

    def meeting(self, **sizes: int) -> tuple[str, HttpApi, dict[str, Any]]:
        """A new announced 直评村官 meeting; returns (meeting id, the host's API, the setup)."""
        admin, host = self.api("county_admin"), self.api("host")
        setup = demo_meeting(admin, host, **sizes)
        return setup["meeting_id"], host, setup

    def meeting_in_ballot(self, *, codes: int = 3) -> tuple[str, HttpApi, list[str]]:
        """A meeting brought by the API to an open ballot, `codes` party members present with a code each.

        Returns (meeting id, the host's API, the plain codes).
        """
        meeting_id, host, _ = self.meeting(party_members=codes, representatives=0)
        m = f"meetings/{meeting_id}/"
        for i in range(codes):
            host.post(m + "check-in/", {"member_id": f"pm{i}"}, expect=200)
        host.post(m + "quorum-override/", {"reason": "测试：村民代表不在场"}, expect=200)
        host.post(m + "open/", expect=200)
        for subject_id, _ in SUBJECTS:
            host.post(m + "reports/start/", {"subject_id": subject_id}, expect=200)
            host.post(m + "reports/end/", {"subject_id": subject_id}, expect=200)
        plain = host.post(m + "codes/", {"category": "party_member", "count": codes}, expect=200)["codes"]
        host.post(m + "ballot/open/", expect=200)
        return meeting_id, host, plain

    def screen_token(self, meeting_id: str) -> str:
        from common import tokens

        return tokens.issue(county=self.county.schema_name, meeting_id=meeting_id, kind="screen")


@pytest.fixture(scope="package")
def chromium_path() -> str:
    if not Path(CHROMIUM).exists():
        pytest.skip("没有 Chromium：apt-get install -y chromium fonts-noto-cjk / Chromium is not installed")
    return CHROMIUM


@pytest.fixture(scope="package")
def browser(chromium_path: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed")
    from playwright.sync_api import expect

    # Playwright's web-first assertions wait 5 s by default: on a shared, busy
    # machine that is a race, not a verdict. Every wait (these, and the
    # contexts' actions and wait_for_* below) gets a ceiling only a hung page reaches.
    expect.set_options(timeout=CEILING_MS)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="package")
def hall_server() -> Iterator[LiveServer]:
    server = LiveServer()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def hall(hall_server: LiveServer, make_county: Any, django_db_blocker: Any) -> Hall:
    with orm_allowed(django_db_blocker):
        county = make_live_county(make_county)
    return Hall(hall_server, county, django_db_blocker)


# Every document of every test reports what the Content-Security-Policy refused
# (the securitypolicyviolation event) on the console, where Contexts collects it.
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.effectiveDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""
CSP_MARK = "CSP violation:"


class Contexts:
    """Fresh browser contexts (own cookies and storage) for one test; all closed after it.

    What a page throws lands in `errors`, what its Content-Security-Policy
    refused lands in `csp` (Chromium's own console line, and the page's
    violation event); the fixture fails the test on either.
    """

    def __init__(self, browser: Any) -> None:
        self.browser = browser
        self.made: list[Any] = []
        self.errors: list[str] = []
        self.csp: list[str] = []

    def new(self, **options: Any) -> Any:
        context = self.browser.new_context(locale="zh-CN", **options)
        context.set_default_timeout(CEILING_MS)
        context.add_init_script(CSP_REPORTER)
        context.on("page", self._watch)
        self.made.append(context)
        return context

    def _watch(self, page: Any) -> None:
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = message.text
        if text.startswith(CSP_MARK) or "Content Security Policy" in text:
            self.csp.append(text)

    def desk(self) -> Any:
        return self.new(**DESK)

    def screen(self) -> Any:
        return self.new(**SCREEN)

    def phone(self) -> Any:
        return self.new(**PHONE)

    def close(self) -> None:
        for context in self.made:
            context.close()


@pytest.fixture
def contexts(browser: Any) -> Iterator[Contexts]:
    made = Contexts(browser)
    yield made
    made.close()
    assert not made.errors, f"JavaScript errors in the pages: {made.errors}"
    assert not made.csp, f"Content-Security-Policy violations in the pages: {made.csp}"


@pytest.fixture(scope="package")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


class CuttableProxy:
    """A TCP forwarder in front of the server that a test can cut or freeze (as if the hall's network failed).

    Cutting resets every connection through it and refuses new ones until
    restored: the page's websocket sees the server vanish, as with a pulled
    cable or a restarting reverse proxy.
    """

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.up = threading.Event()
        self.up.set()
        self.flowing = threading.Event()
        self.flowing.set()
        self.lock = threading.Lock()
        self.open: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up.is_set():
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                _reset(client)
                continue
            with self.lock:
                self.open.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                if self.flowing.is_set():
                    sink.sendall(chunk)
        except OSError:
            pass
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with self.lock:
                self.open.discard(sock)
        source.close()  # the other pump closes its own source

    def cut(self) -> None:
        self.up.clear()
        with self.lock:
            victims = list(self.open)
            self.open.clear()
        for sock in victims:
            _reset(sock)

    def restore(self) -> None:
        self.up.set()

    def freeze(self) -> None:
        """Keep connections open but let nothing through (a silently dead path: no close, no data)."""
        self.flowing.clear()

    def thaw(self) -> None:
        self.flowing.set()

    def close(self) -> None:
        self.cut()
        self.listener.close()


def _reset(sock: socket.socket) -> None:
    """Drop a connection the way a failing network does: no websocket close frame, just gone.

    shutdown() first: close() alone does not wake a thread blocked in recv()
    on the socket, and the kernel keeps the connection open until it returns.
    """
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@pytest.fixture
def proxy(hall_server: LiveServer) -> Iterator[CuttableProxy]:
    forwarder = CuttableProxy(hall_server.port)
    yield forwarder
    forwarder.close()

