"""/api/ on a county's host."""

from django.urls import path
from rest_framework.authtoken.views import obtain_auth_token

from meetings.api import reference
from meetings.api import views as v

M = "meetings/<str:meeting_id>/"

urlpatterns = [
    # The voters' endpoints first: they are what a ballot burst asks for.
    path("v/<str:meeting_id>/ballot/", v.VoterBallotApi.as_view()),
    path("v/<str:meeting_id>/form/", v.VoterFormApi.as_view()),
    path("v/<str:meeting_id>/question/", v.VoterQuestionApi.as_view()),
    path("token/", obtain_auth_token, name="api-token"),
    path("presets/", v.PresetsApi.as_view()),
    path("rounds/", v.RoundsApi.as_view()),
    path("meetings/", v.MeetingsApi.as_view()),
    path(M, v.MeetingApi.as_view()),
    path(M + "announce/", v.AnnounceApi.as_view()),
    path(M + "check-in/", v.CheckInApi.as_view()),
    path(M + "guests/", v.GuestCheckInApi.as_view()),
    path(M + "quorum-override/", v.QuorumOverrideApi.as_view()),
    path(M + "open/", v.OpenMeetingApi.as_view()),
    path(M + "reports/start/", v.StartReportApi.as_view()),
    path(M + "reports/end/", v.EndReportApi.as_view()),
    path(M + "comments/", v.CommentApi.as_view()),
    path(M + "questions/", v.QuestionApi.as_view()),
    path(M + "questions/<str:question_id>/answer/", v.AnswerApi.as_view()),
    path(M + "questions/<str:question_id>/defer/", v.DeferApi.as_view()),
    path(M + "codes/", v.CodesApi.as_view()),
    path(M + "codes/slips/", reference.CodeSlipsApi.as_view()),
    path("rosters/import/", reference.RosterImportApi.as_view()),
    path(M + "ballot/open/", v.OpenBallotApi.as_view()),
    path(M + "ballot/close/", v.CloseBallotApi.as_view()),
    path(M + "paper-batches/", v.PaperBatchApi.as_view()),
    path(M + "paper-batches/<int:batch_no>/", v.PaperBatchStatusApi.as_view()),
    path(M + "results/announce/", v.AnnounceResultsApi.as_view()),
    path(M + "results/", v.ResultsApi.as_view()),
    path(M + "close/", v.CloseMeetingApi.as_view()),
    path(M + "log/", v.LogApi.as_view()),
]
