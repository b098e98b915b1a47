"""Websocket routes: one consumer per page kind."""

from django.urls import path

from live import consumers

websocket_urlpatterns = [
    path("ws/m/<str:meeting_id>/screen/", consumers.ScreenConsumer.as_asgi()),
    path("ws/m/<str:meeting_id>/phone/", consumers.PhoneConsumer.as_asgi()),
    path("ws/m/<str:meeting_id>/console/", consumers.ConsoleConsumer.as_asgi()),
    path("ws/m/<str:meeting_id>/teller/", consumers.TellerConsumer.as_asgi()),
    path("ws/county/dashboard/", consumers.DashboardConsumer.as_asgi()),
]
