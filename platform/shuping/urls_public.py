"""URLs served on the platform's own host names (schema = public)."""

from django.urls import path

from shuping import views
from shuping.admin_sites import operator_site

urlpatterns = [
    path("", views.public_home, name="public_home"),
    path("healthz", views.health, name="health"),
    path("admin/", operator_site.urls),
]
