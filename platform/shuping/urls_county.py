"""URLs served on a county's host name (schema = that county)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from meetings.registry.pages import registry_page
from shuping import views
from shuping.admin_sites import county_site

# The API first: Django tries patterns in order, and a ballot burst is API requests.
urlpatterns = [
    path("api/", include("meetings.api.urls")),
    path("", views.county_home, name="county_home"),
    path("healthz", views.health, name="health"),
    path("shuping-verify.pyz", views.verifier_download, name="verifier_download"),
    path("shuping-verify.py", views.verifier_old_link, name="verifier_old_link"),
    path("admin/", county_site.urls),
    path("registry/", registry_page, name="registry"),
    path("", include("live.urls")),
    path("", include("staff.urls")),
    path("", include("followup.urls")),
    path("api/schema/", SpectacularAPIView.as_view(permission_classes=[]), name="api-schema"),
    # The split view serves Swagger UI's starter script as a file (?script), and
    # our template its styles: the Content-Security-Policy allows no inline ones.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", permission_classes=[], template_name="shuping/api_docs.html",
        ),
        name="api-docs",
    ),
]

# Errors Django answers itself: JSON in the API's format under /api/, Chinese pages elsewhere.
handler400 = "common.http_errors.bad_request"
handler403 = "common.http_errors.permission_denied"
handler404 = "common.http_errors.page_not_found"
handler500 = "common.http_errors.server_error"
