"""The trials app's pages, one feature package's views each."""

from django.urls import path

from trials.dashboards import views as dashboards
from trials.enrollment import views as enrollment
from trials.facilitators import views as facilitators
from trials.participants import views as participants
from trials.safety import views as safety
from trials.sessions import views as sessions

urlpatterns = [
    path("facilitator/", facilitators.facilitator_home, name="facilitator_home"),
    path(
        "facilitator/calendar/<str:token>.ics",
        facilitators.facilitator_calendar,
        name="facilitator_calendar",
    ),
    path(
        "facilitator/calendar/reset",
        facilitators.facilitator_calendar_reset,
        name="facilitator_calendar_reset",
    ),
    path("facilitators/<int:pk>/", facilitators.facilitator_detail, name="facilitator_detail"),
    path(
        "participants/<str:study_id>/visits/<str:event_code>/dosing",
        sessions.dosing_session,
        name="dosing_session",
    ),
    path(
        "participants/<str:study_id>/visits/<str:event_code>/session",
        sessions.therapy_session,
        name="therapy_session",
    ),
    path(
        "participants/<str:study_id>/visits/<str:event_code>/assessments",
        safety.assessment_record,
        name="assessment_record",
    ),
    path(
        "participants/<str:study_id>/risk-screens/new",
        safety.risk_screen_record,
        name="risk_screen_record",
    ),
    path(
        "participants/<str:study_id>/adverse-events/new",
        safety.adverse_event_report,
        name="adverse_event_report",
    ),
    path("adverse-events/<int:pk>/", safety.adverse_event_detail, name="adverse_event_detail"),
    path("trials/<str:trial_code>/dashboard", dashboards.trial_dashboard, name="trial_dashboard"),
    path(
        "trials/<str:trial_code>/sites/<str:site_code>/participants/",
        participants.participant_list,
        name="participant_list",
    ),
    path(
        "trials/<str:trial_code>/sites/<str:site_code>/participants/new",
        participants.participant_create,
        name="participant_create",
    ),
    path(
        "participants/<str:study_id>/", participants.participant_detail, name="participant_detail"
    ),
    path(
        "participants/<str:study_id>/contact",
        participants.participant_contact_edit,
        name="participant_contact_edit",
    ),
    path(
        "participants/<str:study_id>/audit",
        participants.participant_audit,
        name="participant_audit",
    ),
    path("participants/<str:study_id>/consent", enrollment.consent_record, name="consent_record"),
    path(
        "participants/<str:study_id>/randomize",
        enrollment.participant_randomize,
        name="participant_randomize",
    ),
    path(
        "participants/<str:study_id>/unblind",
        enrollment.participant_unblind,
        name="participant_unblind",
    ),
    path(
        "participants/<str:study_id>/visits/<str:event_code>/book",
        sessions.visit_book,
        name="visit_book",
    ),
    path("participants/<str:study_id>/exit", enrollment.participant_exit, name="participant_exit"),
    path(
        "participants/<str:study_id>/audit.csv",
        participants.participant_audit_csv,
        name="participant_audit_csv",
    ),
]
