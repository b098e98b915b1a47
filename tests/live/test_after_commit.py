"""Pushes happen after commit: a rolled-back append publishes nothing (in-process, real PostgreSQL)."""

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
from meetings.events import MeetingScheduled


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


def _on(loop: asyncio.AbstractEventLoop, coroutine: Any) -> Any:
    return asyncio.run_coroutine_threadsafe(coroutine, loop).result(10)


def _receive(loop: asyncio.AbstractEventLoop, layer: Any, channel: str, timeout: float) -> dict[str, Any] | None:
    async def go() -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(layer.receive(channel), timeout)
        except TimeoutError:
            return None

    return _on(loop, go())  # type: ignore[no-any-return]


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


def test_does_not_notify_if_transaction_rolled_back(county_a, listener, django_db_blocker) -> None:
    loop, layer, channel, meeting_id = listener
    # Real transactions (no test transaction around them): on_commit must see a real commit.
    with django_db_blocker.unblock(), schema_context(county_a.schema_name):
        with pytest.raises(RuntimeError), transaction.atomic():
            store.append(f"meeting-{meeting_id}", [_scheduled(meeting_id)], expected_version=records.NO_STREAM,
                         command_id=uuid.uuid4())
            raise RuntimeError("the command failed after its append")
        assert reading.stream_version(f"meeting-{meeting_id}") == 0
    assert _receive(loop, layer, channel, 0.5) is None


def test_notifies_once_the_transaction_commits(county_a, listener, django_db_blocker) -> None:
    loop, layer, channel, meeting_id = listener
    with django_db_blocker.unblock(), schema_context(county_a.schema_name):
        with transaction.atomic():
            store.append(f"meeting-{meeting_id}", [_scheduled(meeting_id)], expected_version=records.NO_STREAM,
                         command_id=uuid.uuid4())
            # Still inside the transaction: nothing may have gone out yet.
            assert _receive(loop, layer, channel, 0.2) is None
    message = _receive(loop, layer, channel, 2.0)
    assert message is not None and message["type"] == "meeting.changed" and message["version"] == 1


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
    received = [_receive(own, layer, channel, 2.0) for _ in range(3)]
    assert [m["version"] for m in received if m] == [1, 2, 3]
