"""The HTTP bridge: ASGI HTTP -> Django's WSGI handler on a pool of threads.

Why not Django's ASGI handler for HTTP? It runs every synchronous view in one
thread per process (thread_sensitive), so a process serves one request at a
time: at a ballot burst the hall's phones queued behind each other (73
ballots/s with a p50 of 0.9 s in bench/ballots_http.py). Our views are
synchronous (psycopg, django-tenants), so HTTP goes to Django's WSGI handler
on a pool of threads, each with its own persistent database connection.

How a request crosses between the loop and a thread (`ThreadPoolHTTP`): the
loop reads the whole request body first (into memory, or a temporary file
past FILE_UPLOAD_MAX_MEMORY_SIZE, as Django's own ASGI handler does), hands
the request to a thread once, and gets the complete answer back once. A
bridge that lets the thread pull the body and push the answer piece by piece
through the loop (a2wsgi, used here before) costs four more waits on the
loop per request; at a ballot burst those waits, not Django, were most of a
request's time. Streaming answers (static files, log exports) are still
passed on chunk by chunk, each read in a thread.

Since the whole body is read before Django runs, the size cap
(`MAX_REQUEST_BYTES`) is enforced here too: a 413 before Django sees it.

Logins take another lane (`LoginLane`): a POST that may hash a password
(settings.LOGIN_LANE_PATHS) runs on its own few threads, never on the
threads that serve ballots. The password hash is slow on purpose; with 32
clients guessing, hashes on the shared pool held every thread and ballots
queued behind them for seconds. A login that cannot start within
LOGIN_LANE_WAIT_SECONDS (or finds LOGIN_LANE_QUEUE logins waiting; it is
then held a second first) is answered 429 `login_busy` here, having cost no
thread and no hash.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from a2wsgi.wsgi import build_environ
from django.conf import settings

from accounts.logins import BUSY_CODE, busy_message
from common.http_errors import REQUEST_ID_HEADER

# No request needs more: rosters are capped at meetings.roster_import.MAX_BYTES,
# API JSON at API_MAX_JSON_BYTES. Checked while the body is read, before Django.
MAX_REQUEST_BYTES = int(os.environ.get("SHUPING_MAX_REQUEST_BYTES", str(16 * 1024 * 1024)))

_Answer = tuple[int, list[tuple[bytes, bytes]], bytes | None, Any]


class LoginLane:
    """A few threads of their own for requests that may hash a password, with a bounded wait.

    Besides the threads, a budget bounds the hashing: the lane may keep its
    threads busy for `burst_seconds` at once (a handful of staff logging in
    together is served at once), and the budget refills at `busy_share` of
    the lane's threads. A flood of logins therefore takes at most that share
    of a CPU per thread on average, and the CPUs that ballots need stay free.
    """

    def __init__(
        self, *, paths: Iterable[str], threads: int, wait_seconds: float, queue: int, nice: int = 0,
        busy_share: float = 1.0, burst_seconds: float = 5.0,
    ) -> None:
        self.paths = frozenset(paths)
        self.threads = max(1, threads)
        self.wait_seconds = wait_seconds
        self.queue = queue
        self.refill = min(1.0, max(0.01, busy_share)) * self.threads  # thread-seconds per second
        self.burst = burst_seconds
        self.credit = burst_seconds
        self.updated: float | None = None
        self.executor = ThreadPoolExecutor(
            max_workers=self.threads, thread_name_prefix="login", initializer=_lower_priority, initargs=(nice,)
        )
        self._slots: asyncio.Semaphore | None = None
        self.waiting = 0

    @classmethod
    def from_settings(cls) -> LoginLane:
        return cls(
            paths=settings.LOGIN_LANE_PATHS, threads=settings.LOGIN_LANE_THREADS,
            wait_seconds=settings.LOGIN_LANE_WAIT_SECONDS, queue=settings.LOGIN_LANE_QUEUE,
            nice=settings.LOGIN_LANE_NICE, busy_share=settings.LOGIN_LANE_BUSY_SHARE,
            burst_seconds=settings.LOGIN_LANE_BURST_SECONDS,
        )

    def takes(self, scope: dict[str, Any]) -> bool:
        return scope.get("method") == "POST" and scope.get("path") in self.paths

    def _top_up(self, now: float) -> None:
        if self.updated is not None:
            self.credit = min(self.burst, self.credit + (now - self.updated) * self.refill)
        self.updated = now

    async def run(self, respond: Any, environ: dict[str, Any]) -> _Answer | None:
        """`respond(environ)` on a lane thread; None when the lane is too busy to start it in time."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.threads)  # as many as threads: nothing waits inside the pool
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_seconds
        if self.waiting >= self.queue:
            # Turned away, but not at once: a client that guesses in a closed loop
            # would otherwise get thousands of 429s a second from the loop.
            await asyncio.sleep(min(1.0, self.wait_seconds))
            return None
        self.waiting += 1
        acquired = started = False
        try:
            await asyncio.wait_for(self._slots.acquire(), self.wait_seconds)
            acquired = True
            self._top_up(loop.time())
            if self.credit <= 0:  # the budget is spent: start when it is back above zero, if in time
                ready = loop.time() - self.credit / self.refill
                if ready > deadline:
                    self._slots.release()
                    acquired = False
                    await asyncio.sleep(min(1.0, self.wait_seconds))  # turned away, but not at once
                    return None
                await asyncio.sleep(ready - loop.time())
                self._top_up(loop.time())
            started = True
        except TimeoutError:
            return None
        finally:
            self.waiting -= 1
            if acquired and not started:
                self._slots.release()
        began = loop.time()
        try:
            return await loop.run_in_executor(self.executor, respond, environ)
        finally:
            self._top_up(loop.time())
            self.credit -= loop.time() - began
            self._slots.release()


def _lower_priority(nice: int) -> None:
    """In a new lane thread: lower its CPU priority (Linux: niceness is per thread).

    The hash runs outside the GIL, so it competes with the ballot threads
    for the CPUs only; at a lower priority the scheduler serves them first
    and the hashing takes what is left.
    """
    if nice > 0 and hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)


class ThreadPoolHTTP:
    """ASGI HTTP -> a WSGI application on a thread pool, one hand-off each way."""

    def __init__(self, app: Any, threads: int, *, login_lane: LoginLane | None = None) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")
        self.login_lane = login_lane

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        limit = MAX_REQUEST_BYTES
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _too_large(send, limit)
            return
        body = tempfile.SpooledTemporaryFile(max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b")
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client left before it finished sending
                body.write(message.get("body", b""))
                if body.tell() > limit:  # a chunked body, or one longer than it said
                    await _too_large(send, limit)
                    return
                if not message.get("more_body", False):
                    break
            size = body.tell()
            body.seek(0)
            environ: dict[str, Any] = build_environ(scope, body)  # type: ignore[arg-type, assignment]
            if "CONTENT_LENGTH" not in environ and size:
                # A chunked body: Django reads CONTENT_LENGTH bytes, and it is all here.
                environ["CONTENT_LENGTH"] = str(size)
            loop = asyncio.get_running_loop()
            if self.login_lane is not None and self.login_lane.takes(scope):
                answer = await self.login_lane.run(self._respond, environ)
                if answer is None:
                    await _login_busy(send, api=scope.get("path", "").startswith("/api/"))
                    return
                status, headers, content, stream = answer
            else:
                status, headers, content, stream = await loop.run_in_executor(self.executor, self._respond, environ)
            if stream is None:
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": content or b""})
                return
            try:
                await send({"type": "http.response.start", "status": status, "headers": headers})
                if content:
                    await send({"type": "http.response.body", "body": content, "more_body": True})
                chunks: Iterator[bytes] = iter(stream)
                while (chunk := await loop.run_in_executor(self.executor, next, chunks, None)) is not None:
                    if chunk:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                await send({"type": "http.response.body", "body": b""})
            finally:
                await loop.run_in_executor(self.executor, _close, stream)
        finally:
            body.close()

    def _respond(self, environ: dict[str, Any]) -> _Answer:
        """In a pool thread: run the application; the whole answer unless it streams."""
        started: list[Any] = []
        written: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return written.append  # WSGI's write(); Django never calls it

        environ["wsgi.errors"] = sys.stderr
        result: Iterable[bytes] = self.app(environ, start_response)
        streaming = bool(getattr(result, "streaming", False))
        try:
            content = None if streaming else b"".join([*written, *result])
        except BaseException:
            _close(result)
            raise
        if not streaming:
            _close(result)  # Django's request_finished: the connection is released here
        status, raw_headers = started
        # Django writes Set-Cookie values with a leading space (WSGI allows it, HTTP servers do not).
        headers = [(name.strip().lower().encode("latin-1"), value.strip().encode("latin-1")) for name, value in raw_headers]
        code = int(status.split(" ", 1)[0])
        if streaming and written:
            content = b"".join(written)
        return code, headers, content, result if streaming else None


def _content_length(scope: dict[str, Any]) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _too_large(send: Any, limit: int) -> None:
    """413 before Django sees the request: the whole body is read here first, so the cap is here too."""
    body = json.dumps(
        {"error": {"code": "request_too_large", "message": f"请求内容过大（上限 {limit // (1024 * 1024)} MB）",
                   "message_en": f"request body too large (limit {limit // (1024 * 1024)} MB)"}},
        ensure_ascii=False,
    ).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"),
                            # Django never sees this request: the id comes from here (common.http_errors).
                            (REQUEST_ID_HEADER.lower().encode(), secrets.token_hex(8).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _login_busy(send: Any, *, api: bool) -> None:
    """429 before Django sees the login: the lane for logins is full (nothing was counted or hashed)."""
    zh, en = busy_message()
    if api:
        body = json.dumps({"error": {"code": BUSY_CODE, "message": zh, "message_en": en}}, ensure_ascii=False).encode()
        content_type = b"application/json"
    else:
        body = (f"<!doctype html><html lang=\"zh-Hans\"><meta charset=\"utf-8\"><title>{zh}</title>"
                f"<h1>{zh}</h1><p lang=\"en\">{en}</p><p>错误代码 / error code: <code>{BUSY_CODE}</code></p>").encode()
        content_type = b"text/html; charset=utf-8"
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                            (b"retry-after", b"1"),
                            (REQUEST_ID_HEADER.lower().encode(), secrets.token_hex(8).encode())]})
    await send({"type": "http.response.body", "body": body})


def _close(result: Any) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()
