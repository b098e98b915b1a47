from django.urls import path

from staff import pages

urlpatterns = [path("staff/", pages.staff_page, name="staff")]
