"""Pages of the live hall on a county's host (filled in by the pages work)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
