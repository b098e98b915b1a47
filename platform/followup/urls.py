"""Pages after the meeting: public notices (/gongshi/), rectification progress (/zhenggai/) and commitments
(/gongkai/), no login; the county's notice desk (/notices/), ledger (/ledger/), interviews (/interviews/),
commitments (/commitments/) and quarterly rankings (/rankings/)."""

from django.urls import URLPattern, URLResolver, path

import common.paths  # noqa: F401 - registers the `id` path converter
from followup import (
    comments_pages,
    commitments_pages,
    interviews_pages,
    ledger_pages,
    pages,
    public,
    rankings_pages,
    records_pages,
)

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
    path("commitments/", commitments_pages.commitments_page, name="commitments"),
    path("commitments/<id:commitment_id>/", commitments_pages.commitment_page, name="commitment"),
    path("gongkai/", commitments_pages.public_index, name="gongkai"),
    path("gongkai/<num:village_id>/", commitments_pages.public_village, name="gongkai-village"),
    path("gongkai/official/<id:official_id>/", commitments_pages.public_official, name="gongkai-official"),
    path("rankings/", rankings_pages.rankings_page, name="rankings"),
    path("rankings/village/<num:village_id>/", rankings_pages.village_rankings_page, name="rankings-village"),
    path("comments/", comments_pages.comments_page, name="comments"),
    path("yijianxiang/<num:village_id>/", comments_pages.suggestion_box, name="suggestion-box"),
    path("records/officials/<id:official_id>/", records_pages.official_record_page, name="record-official"),
    path("records/villages/<num:village_id>/", records_pages.village_record_page, name="record-village"),
    path("records/export/", records_pages.results_export_page, name="results-export-config"),
    path("records/export.xlsx", records_pages.results_export_xlsx, name="results-export-xlsx"),
]
