"""/api/ on a county's host."""

from django.urls import path

import common.paths  # noqa: F401 - registers the `id` and `num` path converters
from accounts.api import LoginApi, LogoutApi
from meetings.api import conduct, lean, meetings, reference, rounds, voters, voting
from meetings.registry import api as registry

# Ids in paths take only what an id can be (common.paths): anything else is a 404.
M = "meetings/<id:meeting_id>/"

urlpatterns = [
    # The voters' endpoints first: they are what a ballot burst asks for. The
    # ballot takes a fast path in front of its DRF view (meetings.api.lean).
    path("v/<id:meeting_id>/ballot/", lean.fast_path(voters.VoterBallotApi)),
    path("v/<id:meeting_id>/form/", voters.VoterFormApi.as_view()),
    path("v/<id:meeting_id>/question/", voters.VoterQuestionApi.as_view()),
    path("token/", LoginApi.as_view(), name="api-token"),
    path("logout/", LogoutApi.as_view(), name="api-logout"),
    path("presets/", rounds.PresetsApi.as_view()),
    path("rounds/", rounds.RoundsApi.as_view()),
    path("meetings/", meetings.MeetingsApi.as_view()),
    path(M, meetings.MeetingApi.as_view()),
    path(M + "announce/", conduct.AnnounceApi.as_view()),
    path(M + "check-in/", conduct.CheckInApi.as_view()),
    path(M + "guests/", conduct.GuestCheckInApi.as_view()),
    path(M + "quorum-override/", conduct.QuorumOverrideApi.as_view()),
    path(M + "open/", conduct.OpenMeetingApi.as_view()),
    path(M + "screen-links/revoke/", conduct.RevokeScreenLinksApi.as_view()),
    path(M + "reports/start/", conduct.StartReportApi.as_view()),
    path(M + "reports/end/", conduct.EndReportApi.as_view()),
    path(M + "comments/", conduct.CommentApi.as_view()),
    path(M + "questions/", conduct.QuestionApi.as_view()),
    path(M + "questions/<id:question_id>/answer/", conduct.AnswerApi.as_view()),
    path(M + "questions/<id:question_id>/defer/", conduct.DeferApi.as_view()),
    path(M + "codes/", voting.CodesApi.as_view()),
    path(M + "codes/slips/", voting.CodeSlipsApi.as_view()),
    path(M + "codes/sheet/", voting.CodeSheetApi.as_view()),
    path(M + "codes/paper-forms/", voting.PaperFormsApi.as_view()),
    path(M + "codes/<num:batch_no>/printed/", voting.CodesPrintedApi.as_view()),
    path("rosters/import/", reference.RosterImportApi.as_view()),
    path("registry/bodies/", registry.BodiesApi.as_view()),
    path("registry/bodies/<id:body_id>/rename/", registry.BodyRenameApi.as_view()),
    path("registry/officials/", registry.OfficialsApi.as_view()),
    path("registry/officials/<id:official_id>/", registry.OfficialApi.as_view()),
    path("registry/officials/<id:official_id>/subjects/", registry.OfficialSubjectsApi.as_view()),
    path("registry/officials/<id:official_id>/posts/", registry.AssignPostApi.as_view()),
    path("registry/officials/<id:official_id>/posts/<num:post_no>/end/", registry.EndPostApi.as_view()),
    path("registry/officials/<id:official_id>/correct/", registry.CorrectOfficialApi.as_view()),
    path(M + "ballot/open/", voting.OpenBallotApi.as_view()),
    path(M + "ballot/close/", voting.CloseBallotApi.as_view()),
    path(M + "paper-batches/", voting.PaperBatchApi.as_view()),
    path(M + "paper-batches/<num:batch_no>/", voting.PaperBatchStatusApi.as_view()),
    path(M + "results/accept-count/", voting.AcceptCountApi.as_view()),
    path(M + "results/announce/", voting.AnnounceResultsApi.as_view()),
    path(M + "results/", meetings.ResultsApi.as_view()),
    path(M + "close/", conduct.CloseMeetingApi.as_view()),
    path(M + "log/", meetings.LogApi.as_view()),
]
