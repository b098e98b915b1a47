"""ASGI entry point: HTTP to Django on a thread pool, websockets to Channels, the loop to live.bus.

- HTTP goes to Django's WSGI handler on a pool of `SHUPING_HTTP_THREADS`
  threads through the bridge in shuping.http_bridge (why not Django's ASGI
  handler: see there).
  Logins that may hash a password take a small lane of their own
  (http_bridge.LoginLane), so a flood of them cannot hold ballot threads.
- Websockets stay on the event loop (Channels), each resolved to its county
  (live.scope.CountyScope).
- The server's event loop is handed to live.bus once, so that a request
  thread can publish to the channel layer after its commit: at lifespan
  startup, or on the first request of a server that runs no lifespan.
- At lifespan startup what is alive is frozen out of the collector's walks
  (`settle_heap`).
"""

import asyncio
import gc
import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shuping.settings")

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import get_resolver  # noqa: E402

django_wsgi_app = get_wsgi_application()

from live import bus  # noqa: E402
from live.routing import websocket_urlpatterns  # noqa: E402
from live.scope import CountyScope  # noqa: E402
from shuping.http_bridge import LoginLane, ThreadPoolHTTP  # noqa: E402

HTTP_THREADS = int(os.environ.get("SHUPING_HTTP_THREADS", "16"))

router = ProtocolTypeRouter(
    {
        "http": ThreadPoolHTTP(django_wsgi_app, HTTP_THREADS, login_lane=LoginLane.from_settings()),
        "websocket": CountyScope(URLRouter(websocket_urlpatterns)),
    }
)


def settle_heap() -> None:
    """Load both URL confs, collect once, then keep what is alive out of every later collection.

    Modules, settings, the URL patterns and the views they import: some
    110,000 objects that live as long as the process. Each full collection
    walked them again, about 50 ms on a 2-core AMD EPYC with the GIL held,
    while no socket of the worker is written. gc.freeze() moves them to a
    generation the collector never visits; what the process allocates
    afterwards (requests, sockets, snapshots, translations loaded by a first
    request in a language) is collected as before. Side by side:
    docs/benchmarks.md, "Twenty thousand websockets".
    """
    for urlconf in (settings.ROOT_URLCONF, settings.PUBLIC_SCHEMA_URLCONF):
        get_resolver(urlconf).reverse_dict  # noqa: B018  (imports the views, builds what {% url %} reads)
    gc.collect()
    gc.freeze()


class Application:
    """The ASGI application: answers lifespan itself, hands everything else to `router`."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop_bound = False

    def bind_loop(self) -> None:
        """Give live.bus the server's loop: once per process."""
        bus.bind_loop(asyncio.get_running_loop())
        self.loop_bound = True

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "lifespan":
            await self.lifespan(receive, send)
            return None
        if not self.loop_bound:  # a server that runs no lifespan: the first request binds it
            self.bind_loop()
        return await self.app(scope, receive, send)

    async def lifespan(self, receive: Any, send: Any) -> None:
        # Nothing else to start or stop; acknowledged so that servers need no flag.
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.bind_loop()
                settle_heap()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


application = Application(router)
