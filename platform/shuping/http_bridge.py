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
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import tempfile
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from a2wsgi.wsgi import build_environ
from django.conf import settings

from common.http_errors import REQUEST_ID_HEADER

# No request needs more: rosters are capped at meetings.roster_import.MAX_BYTES,
# API JSON at API_MAX_JSON_BYTES. Checked while the body is read, before Django.
MAX_REQUEST_BYTES = int(os.environ.get("SHUPING_MAX_REQUEST_BYTES", str(16 * 1024 * 1024)))

_Answer = tuple[int, list[tuple[bytes, bytes]], bytes | None, Any]


class ThreadPoolHTTP:
    """ASGI HTTP -> a WSGI application on a thread pool, one hand-off each way."""

    def __init__(self, app: Any, threads: int) -> None:
        self.app = app
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="http")

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


def _close(result: Any) -> None:
    close = getattr(result, "close", None)
    if close is not None:
        close()
