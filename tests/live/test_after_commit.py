"""Pushes happen after commit: a rolled-back append publishes nothing (in-process, real PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django_tenants.utils import schema_context

from events import store
from live import bus
from meetings.events import MeetingScheduled


def _receive(layer: Any, channel: str, timeout: float) -> dict[str, Any] | None:
    async def go() -> dict[str, Any] | None:
        try:
            return await asyncio.wait_for(layer.receive(channel), timeout)
        except TimeoutError:
            return None

    return async_to_sync(go)()


@pytest.fixture
def listener(county_a: Any) -> Any:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    meeting_id = f"m{uuid.uuid4().hex[:10]}"
    async_to_sync(layer.group_add)(bus.meeting_group(county_a.schema_name, meeting_id), channel)
    return layer, channel, meeting_id


def _scheduled(meeting_id: str) -> MeetingScheduled:
    return MeetingScheduled(meeting_id=meeting_id, title="回滚测试", township="乡", village="村",
                            starts_at="2026-12-01T09:00:00+08:00", place="村部")


def test_does_not_notify_if_transaction_rolled_back(county_a, listener, django_db_blocker) -> None:
    layer, channel, meeting_id = listener
    # Real transactions (no test transaction around them): on_commit must see a real commit.
    with django_db_blocker.unblock(), schema_context(county_a.schema_name):
        with pytest.raises(RuntimeError), transaction.atomic():
            store.append(f"meeting-{meeting_id}", [_scheduled(meeting_id)], expected_version=store.NO_STREAM,
                         command_id=uuid.uuid4())
            raise RuntimeError("the command failed after its append")
        assert store.stream_version(f"meeting-{meeting_id}") == 0
    assert _receive(layer, channel, 0.5) is None


def test_notifies_once_the_transaction_commits(county_a, listener, django_db_blocker) -> None:
    layer, channel, meeting_id = listener
    with django_db_blocker.unblock(), schema_context(county_a.schema_name):
        with transaction.atomic():
            store.append(f"meeting-{meeting_id}", [_scheduled(meeting_id)], expected_version=store.NO_STREAM,
                         command_id=uuid.uuid4())
            # Still inside the transaction: nothing may have gone out yet.
            assert _receive(layer, channel, 0.2) is None
    message = _receive(layer, channel, 2.0)
    assert message is not None and message["type"] == "meeting.changed" and message["version"] == 1
