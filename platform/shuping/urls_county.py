"""URLs served on a county's host name (schema = that county)."""

from django.urls import path

from shuping import views
from shuping.admin_sites import county_site

urlpatterns = [
    path("", views.county_home, name="county_home"),
    path("healthz", views.health, name="health"),
    path("admin/", county_site.urls),
]
