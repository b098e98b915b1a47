"""Pages after the meeting: public notices (/gongshi/) and rectification progress (/zhenggai/), no login;
the county's notice desk (/notices/), ledger (/ledger/) and interviews (/interviews/)."""

from django.urls import URLPattern, URLResolver, path

import common.paths  # noqa: F401 - registers the `id` path converter
from followup import comments_pages, interviews_pages, ledger_pages, pages, public, records_pages

urlpatterns: list[URLPattern | URLResolver] = [
    path("gongshi/", public.notice_list, name="gongshi"),
    path("gongshi/<id:notice_id>/", public.notice_detail, name="gongshi-notice"),
    path("gongshi/<id:notice_id>/notice.pdf", public.notice_pdf, name="gongshi-notice-pdf"),
    path("notices/", pages.notices_desk, name="notices"),
    path("notices/<id:meeting_id>/", pages.meeting_notices, name="notices-meeting"),
    path("ledger/", ledger_pages.ledger_page, name="ledger"),
    path("ledger/export.xlsx", ledger_pages.ledger_export, name="ledger-export"),
    path("ledger/<id:item_id>/", ledger_pages.ledger_item_page, name="ledger-item"),
    path("ledger/<id:item_id>/files/<id:sha256>", ledger_pages.ledger_file, name="ledger-file"),
    path("zhenggai/", ledger_pages.public_progress_page, name="ledger-public"),
    path("interviews/", interviews_pages.interviews_page, name="interviews"),
    path("comments/", comments_pages.comments_page, name="comments"),
    path("yijianxiang/<int:village_id>/", comments_pages.suggestion_box, name="suggestion-box"),
    path("records/officials/<id:official_id>/", records_pages.official_record_page, name="record-official"),
    path("records/villages/<int:village_id>/", records_pages.village_record_page, name="record-village"),
    path("records/export/", records_pages.results_export_page, name="results-export-config"),
    path("records/export.xlsx", records_pages.results_export_xlsx, name="results-export-xlsx"),
]
