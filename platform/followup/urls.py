"""Pages after the meeting: the public notices (/gongshi/, no login) and the county's notice desk (/notices/)."""

from django.urls import URLPattern, URLResolver, path

import common.paths  # noqa: F401 - registers the `id` path converter
from followup import pages, public

urlpatterns: list[URLPattern | URLResolver] = [
    path("gongshi/", public.notice_list, name="gongshi"),
    path("gongshi/<id:notice_id>/", public.notice_detail, name="gongshi-notice"),
    path("gongshi/<id:notice_id>/notice.pdf", public.notice_pdf, name="gongshi-notice-pdf"),
    path("notices/", pages.notices_desk, name="notices"),
    path("notices/<id:meeting_id>/", pages.meeting_notices, name="notices-meeting"),
]
