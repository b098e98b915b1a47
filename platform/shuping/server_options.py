"""How an ASGI worker is started, once for `shuping run`, the live tests and infra/.

A hall screen's websocket is cheap only if the server keeps no compressor per
socket: permessage-deflate costs about 45 KiB of zlib state per connection
(73 KiB -> 28 KiB a socket at 10,000 sockets, docs/benchmarks.md), and our
frames are small JSON. Frames over 64 KiB are refused (the consumers refuse
anything over 4 KiB themselves). The websocket protocol is uvicorn's default
(websockets' sans-I/O connection) writing a message shared by many sockets as
one frame built once (shuping.ws_frames).
"""

from __future__ import annotations

from typing import Any

APP = "shuping.asgi:application"

SERVER_OPTIONS: dict[str, Any] = {
    "log_level": "warning",
    "lifespan": "on",
    "ws_max_size": 64 * 1024,
    "ws_per_message_deflate": False,
    "ws": "shuping.ws_frames:SharedFrameProtocol",
}


def server_flags() -> list[str]:
    """SERVER_OPTIONS as uvicorn's command-line flags (for a worker started as its own process)."""
    flags: list[str] = []
    for name, value in SERVER_OPTIONS.items():
        flags += ["--" + name.replace("_", "-"), str(value).lower() if isinstance(value, bool) else str(value)]
    return flags
