"""ASGI entry point: Django's WSGI handler in a thread pool for HTTP, Channels for websockets.

Why not Django's ASGI handler for HTTP? It runs every synchronous view in one
thread per process (thread_sensitive), so a process serves one request at a
time: at a ballot burst the hall's phones queued behind each other (73
ballots/s with a p50 of 0.9 s in bench/ballots_http.py). Our views are
synchronous (psycopg, django-tenants), so HTTP goes to Django's WSGI handler
on a pool of `SHUPING_HTTP_THREADS` threads (a2wsgi), each with its own
persistent database connection. Websockets stay on the event loop
(Channels), and the loop is handed to live.bus so that a request thread can
publish to the channel layer after its commit.
"""

import asyncio
import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shuping.settings")

from a2wsgi import WSGIMiddleware  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402

django_wsgi_app = get_wsgi_application()

from live import bus  # noqa: E402
from live.routing import websocket_urlpatterns  # noqa: E402
from live.scope import CountyScope  # noqa: E402

HTTP_THREADS = int(os.environ.get("SHUPING_HTTP_THREADS", "16"))

router = ProtocolTypeRouter(
    {
        "http": WSGIMiddleware(django_wsgi_app, workers=HTTP_THREADS),  # type: ignore[arg-type]
        "websocket": CountyScope(URLRouter(websocket_urlpatterns)),
    }
)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> Any:
    if scope["type"] == "lifespan":
        # Nothing to start or stop; acknowledge so servers need no flag.
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                bus.bind_loop(asyncio.get_running_loop())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return None
    bus.bind_loop_once(asyncio.get_running_loop())
    return await router(scope, receive, send)
