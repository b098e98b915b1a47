"""Pages of the live hall on a county's host (docs/live.md lists who may open which)."""

from django.urls import path

import common.paths  # noqa: F401 - registers the `id` path converter
from live import announce, audit, desks, pages, proof, rounds, schedule

M = "hall/<id:meeting_id>/"

urlpatterns = [
    path("login/", pages.HallLoginView.as_view(), name="hall-login"),
    path("logout/", pages.logout_page, name="hall-logout"),
    path("dashboard/", pages.dashboard, name="hall-dashboard"),
    # each role's own page (live.desks; accounts.roles.LANDING)
    path("desk/", desks.desk, name="desk"),
    path("workspace/", desks.workspace, name="workspace"),
    path("workspace/rounds/<id:round_id>/results.xlsx", desks.results_export, name="results-export"),
    path("workspace/meetings/<id:meeting_id>/results/", desks.meeting_results, name="meeting-results"),
    path("rounds/new/", rounds.round_new, name="round-new"),
    path("rounds/<id:round_id>/", rounds.round_page, name="round"),
    path("rounds/<id:round_id>/schedule/", schedule.schedule_page, name="round-schedule"),
    path(M + "announce/", announce.announce_page, name="hall-announce"),
    path(M + "announcement.pdf", announce.announcement_pdf, name="hall-announcement-pdf"),
    path("my/meetings/", desks.my_meetings, name="my-meetings"),
    path("my/batches/", desks.my_batches, name="my-batches"),
    path("audit/", desks.audit, name="audit"),
    path("audit/<id:meeting_id>/", audit.replay_page, name="audit-replay"),
    path("audit/<id:meeting_id>/at/", audit.replay_state, name="audit-replay-state"),
    path("audit/<id:meeting_id>/steps/", audit.replay_steps, name="audit-replay-steps"),
    path("meetings/", desks.meetings, name="meetings"),
    path(M + "console/", pages.console, name="hall-console"),
    path(M + "teller/", pages.teller, name="hall-teller"),
    path(M + "screen/", pages.screen, name="hall-screen"),
    path(M + "screen/open/", pages.screen_open, name="hall-screen-open"),
    path("v/<id:meeting_id>", pages.phone, name="hall-phone"),
    path("v/<id:meeting_id>/", pages.phone),
    # public proof, without login (live.proof)
    path("yanzheng/", proof.receipt_page, name="proof-receipt"),
    path("yanzheng/logs/<id:meeting_id>.jsonl", proof.public_log, name="proof-public-log"),
]
