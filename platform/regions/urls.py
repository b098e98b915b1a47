from django.urls import path

from regions import pages

urlpatterns = [
    path("", pages.region_page, name="region"),
    path("login/", pages.RegionLoginView.as_view(), name="region-login"),
    path("logout/", pages.region_logout, name="region-logout"),
]
