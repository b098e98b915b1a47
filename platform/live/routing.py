"""Websocket routes: one consumer per page kind, and a refusal for every other path."""

import json

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import path, re_path

import common.paths  # noqa: F401 - registers the `id` path converter
from live import consumers


class NoSuchPath(AsyncWebsocketConsumer):
    """Any other websocket path: the protocol's error message, then close 4404.

    Without it Channels' URLRouter raises for an unknown path, and the
    server answers the handshake with a 500 and logs a traceback.
    """

    channel_layer_alias = consumers.LiveConsumer.channel_layer_alias  # no channel of its own

    async def connect(self) -> None:
        await self.accept()
        await self.send(json.dumps({"type": "error", "code": "not_found", "message": "找不到该实时连接地址",
                                    "message_en": "no such websocket path"}, ensure_ascii=False))
        await self.close(code=4404)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        return None  # it closes on connect; nothing a client says matters


websocket_urlpatterns = [
    path("ws/m/<id:meeting_id>/screen/", consumers.ScreenConsumer.as_asgi()),
    path("ws/m/<id:meeting_id>/phone/", consumers.PhoneConsumer.as_asgi()),
    path("ws/m/<id:meeting_id>/console/", consumers.ConsoleConsumer.as_asgi()),
    path("ws/m/<id:meeting_id>/teller/", consumers.TellerConsumer.as_asgi()),
    path("ws/county/dashboard/", consumers.DashboardConsumer.as_asgi()),
    re_path(r"", NoSuchPath.as_asgi()),
]
