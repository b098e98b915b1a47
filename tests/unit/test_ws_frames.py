"""The shared frame written by shuping.ws_frames is byte for byte the frame websockets would write.

The live tests (tests/live) run every screen and console through this
protocol (shuping.server_options); here the frame itself, at every length
encoding of RFC 6455 (7-bit, 16-bit and 64-bit payload lengths).
"""

from __future__ import annotations

import pytest
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.streams import StreamReader

from shuping import ws_frames
from shuping.server_options import SERVER_OPTIONS


def websockets_frame(text: str) -> bytes:
    """What uvicorn's default protocol writes for a text message (its own websockets connection)."""
    conn = ServerProtocol()
    conn.state = State.OPEN
    conn.send_text(text.encode())
    return b"".join(conn.data_to_send())


def parsed(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        return done.value
    raise AssertionError("the frame was cut short")


@pytest.mark.parametrize("length", [0, 1, 125, 126, 65_535, 65_536, 200_000])
def test_the_frame_is_the_one_websockets_writes(length: int) -> None:
    text = ("到会" * length)[:length]
    frame = ws_frames.frame_of(text)
    assert frame == websockets_frame(text)
    back = parsed(frame)
    assert (back.opcode, back.fin, back.data.decode()) == (Opcode.TEXT, True, text)


def test_one_message_is_built_once_and_other_texts_get_their_own() -> None:
    first = '{"type": "turnout", "cast": 17}'
    second = "".join(['{"type": "turnout", "cast": ', "18}"])  # another object, another count
    same_text_other_object = "".join(['{"type": "turnout", "cast": ', "17}"])
    frame = ws_frames.frame_of(first)
    assert ws_frames.frame_of(first) is frame  # the same message handed to the next socket
    assert parsed(ws_frames.frame_of(second)).data == second.encode()
    assert ws_frames.frame_of(same_text_other_object) == frame


def test_the_cache_stays_small() -> None:
    texts = [f'{{"cast": {n}}}' for n in range(100)]
    for text in texts:
        assert parsed(ws_frames.frame_of(text)).data == text.encode()
    assert len(ws_frames._frames) <= ws_frames.KEEP


def test_the_servers_run_this_protocol_without_compression() -> None:
    # The frame is shared only because no extension changes it per socket.
    assert SERVER_OPTIONS["ws"] == "shuping.ws_frames:SharedFrameProtocol"
    assert SERVER_OPTIONS["ws_per_message_deflate"] is False
