"""Websocket routes. The hall screen, console and phone consumers come with the live-hall work."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
