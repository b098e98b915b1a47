"""Pushes happen after commit: a rolled-back append publishes nothing (in-process, real PostgreSQL).

Waits have a generous ceiling (CEILING) that only a hung test reaches. That
something was NOT published is shown with a fence instead of a quiet spell:
publishes from this thread reach the layer in the order they were made (one
loop, FIFO), so when a later message arrives first, the earlier one was
never sent.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from channels.layers import get_channel_layer
from django.db import transaction
from django_tenants.utils import schema_context

from events import reading, records, store
from live import bus
from meetings.events import MeetingScheduled, QuestionAsked

CEILING = 30.0  # seconds: only a hung test waits this long for a message


@pytest.fixture
def server_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A loop standing in for the ASGI server's: publishes and the listener both live on it."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    bus.bind_loop(loop)
    try:
        yield loop
    finally:
        bus.unbind_loop()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def _receive(loop: asyncio.AbstractEventLoop, layer: Any, channel: str, timeout: float = CEILING) -> dict[str, Any]:
    """The next message on `channel`; fails only if none comes within `timeout` (a hung test)."""

    async def go() -> dict[str, Any]:
        return await asyncio.wait_for(layer.receive(channel), timeout)  # type: ignore[no-any-return]

    return _on(loop, go())  # type: ignore[no-any-return]


def _on(loop: asyncio.AbstractEventLoop, coroutine: Any) -> Any:
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(CEILING + 5)


@pytest.fixture
def listener(county_a: Any, server_loop: asyncio.AbstractEventLoop) -> Any:
    layer = get_channel_layer()
    channel = _on(server_loop, layer.new_channel())
    meeting_id = f"m{uuid.uuid4().hex[:10]}"
    _on(server_loop, layer.group_add(bus.meeting_group(county_a.schema_name, meeting_id), channel))
    return server_loop, layer, channel, meeting_id


def _scheduled(meeting_id: str) -> MeetingScheduled:
    return MeetingScheduled(meeting_id=meeting_id, title="回滚测试", township="乡", village="村",
                            starts_at="2026-12-01T09:00:00+08:00", place="村部")


def _question(n: int) -> QuestionAsked:
    return QuestionAsked(question_id=f"q{n}", text="村里的路什么时候修？", subject="村委会", asked_by=None)


def test_does_not_notify_if_transaction_rolled_back(county_a, listener, django_db_blocker) -> None:
    loop, layer, channel, meeting_id = listener
    stream = f"meeting-{meeting_id}"
    # Real transactions (no test transaction around them): on_commit must see a real commit.
    with django_db_blocker.unblock(), schema_context(county_a.schema_name):
        with pytest.raises(RuntimeError), transaction.atomic():
            store.append(stream, [_scheduled(meeting_id)], expected_version=records.NO_STREAM, command_id=uuid.uuid4())
            raise RuntimeError("the command failed after its append")
        assert reading.stream_version(stream) == 0
        # The fence: a later append that commits, told apart from the rolled-back
        # one by its version (2) and types.
        store.append(stream, [_scheduled(meeting_id), _question(1)], expected_version=records.NO_STREAM,
                     command_id=uuid.uuid4())
    first = _receive(loop, layer, channel)
    assert (first["type"], first["version"], first["types"]) == ("meeting.changed", 2, ["MeetingScheduled", "QuestionAsked"])


def test_notifies_once_the_transaction_commits(county_a, listener, django_db_blocker) -> None:
    loop, layer, channel, meeting_id = listener
    group = bus.meeting_group(county_a.schema_name, meeting_id)
    with django_db_blocker.unblock(), schema_context(county_a.schema_name):
        with transaction.atomic():
            store.append(f"meeting-{meeting_id}", [_scheduled(meeting_id)], expected_version=records.NO_STREAM,
                         command_id=uuid.uuid4())
            # Still inside the transaction: nothing may have gone out yet. A marker
            # published now, the way the store publishes, comes first.
            bus.send(group, {"type": "test.fence", "n": 1})
            assert _receive(loop, layer, channel) == {"type": "test.fence", "n": 1}
    message = _receive(loop, layer, channel)
    assert (message["type"], message["version"], message["types"]) == ("meeting.changed", 1, ["MeetingScheduled"])
    # Once: the next thing on the channel after the commit's notice is the next marker.
    bus.send(group, {"type": "test.fence", "n": 2})
    assert _receive(loop, layer, channel) == {"type": "test.fence", "n": 2}


def test_a_process_without_a_server_loop_publishes_on_a_loop_of_its_own(county_a) -> None:
    # Management commands and workers bind no ASGI loop: their publishes go to
    # the bus's own loop thread without blocking the committing thread, and
    # still reach the layer (Redis in production; here the in-memory layer).
    bus.unbind_loop()
    own = bus._own_loop()
    layer = get_channel_layer()
    channel = _on(own, layer.new_channel())
    group = bus.meeting_group(county_a.schema_name, f"m{uuid.uuid4().hex[:10]}")
    _on(own, layer.group_add(group, channel))
    for version in (1, 2, 3):
        bus.send(group, {"type": "meeting.changed", "version": version, "types": []})
    assert own is bus._own_loop()  # one loop for the process, not one per send
    received = [_receive(own, layer, channel) for _ in range(3)]
    assert [m["version"] for m in received] == [1, 2, 3]
