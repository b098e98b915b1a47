"""URLs served on the platform's own host names (schema = public)."""

from django.urls import include, path

from shuping import views
from shuping.admin_sites import operator_site

urlpatterns = [
    path("", views.public_home, name="public_home"),
    path("healthz", views.health, name="health"),
    path("shuping-verify.pyz", views.verifier_download, name="verifier_download"),
    path("shuping-verify.py", views.verifier_old_link, name="verifier_old_link"),
    path("admin/", operator_site.urls),
    path("region/", include("regions.urls")),  # a city's or province's standings over its counties
]

# Errors Django answers itself: JSON in the API's format under /api/, Chinese pages elsewhere.
handler400 = "common.http_errors.bad_request"
handler403 = "common.http_errors.permission_denied"
handler404 = "common.http_errors.page_not_found"
handler500 = "common.http_errors.server_error"
