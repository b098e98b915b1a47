from django.urls import URLPattern, URLResolver, path

import common.paths  # noqa: F401  (registers the id converter)
from followup import interviews_pages, ledger_pages

urlpatterns: list[URLPattern | URLResolver] = [
    path("ledger/", ledger_pages.ledger_page, name="ledger"),
    path("ledger/export.xlsx", ledger_pages.ledger_export, name="ledger-export"),
    path("ledger/<id:item_id>/", ledger_pages.ledger_item_page, name="ledger-item"),
    path("ledger/<id:item_id>/files/<id:sha256>", ledger_pages.ledger_file, name="ledger-file"),
    path("zhenggai/", ledger_pages.public_progress_page, name="ledger-public"),
    path("interviews/", interviews_pages.interviews_page, name="interviews"),
]
