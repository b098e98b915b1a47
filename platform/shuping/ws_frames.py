"""uvicorn's websocket protocol, writing a message that many sockets share as one frame built once.

A hall's update goes to every socket that shows the meeting as the same ASGI
message (live.frames: one message per snapshot or count, handed to each
socket). uvicorn's default protocol (websockets' sans-I/O connection) encodes
the text and builds the frame again for each socket: about a tenth of the
server's CPU when one update goes to 10,000 screens (docs/benchmarks.md,
"Twenty thousand websockets"). A server's text frame without extensions is
the same bytes for every socket (servers do not mask), so this protocol keeps
the frames of the last few messages and writes those bytes straight to the
transport.

Only the plain case takes the short way: an open connection after its
handshake, nothing being closed, no extension (permessage-deflate is off,
shuping.server_options), no fragmented message under way, the transport
accepting writes, no debug logging. Everything else (accept, close, a
paused transport, binary frames) goes through uvicorn's own `send` as
before.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

KEEP = 8  # frames kept: the messages of one round (snapshots and counts of a few page kinds)

_frames: dict[int, tuple[str, bytes]] = {}  # id(text) -> (text, frame); the text is kept so its id stays its own


def frame_of(text: str) -> bytes:
    """The bytes of an unmasked, final text frame carrying `text` (built once per text object)."""
    kept = _frames.get(id(text))
    if kept is not None and kept[0] is text:
        return kept[1]
    frame = Frame(Opcode.TEXT, text.encode()).serialize(mask=False, extensions=[])
    if len(_frames) >= KEEP:
        _frames.clear()
    _frames[id(text)] = (text, frame)
    return frame


class SharedFrameProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O websocket protocol; a plain text send writes a frame shared with other sockets."""

    async def send(self, message: Any) -> None:
        if (message["type"] == "websocket.send" and self.handshake_complete and self.initial_response is None
                and not self.close_sent and not self.disconnected and self.writable.is_set()):
            text = message.get("text")
            conn = self.conn
            if (text is not None and message.get("bytes") is None and conn.state is State.OPEN
                    and not conn.extensions and not conn.expect_continuation_frame and not conn.debug):
                self.transport.write(frame_of(text))
                return
        await super().send(message)
