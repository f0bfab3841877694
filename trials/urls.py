from django.urls import path

from trials.views import enrollment
from trials.views import participants as views

urlpatterns = [
    path(
        "trials/<str:trial_code>/sites/<str:site_code>/participants/",
        views.participant_list,
        name="participant_list",
    ),
    path(
        "trials/<str:trial_code>/sites/<str:site_code>/participants/new",
        views.participant_create,
        name="participant_create",
    ),
    path("participants/<str:study_id>/", views.participant_detail, name="participant_detail"),
    path(
        "participants/<str:study_id>/contact",
        views.participant_contact_edit,
        name="participant_contact_edit",
    ),
    path("participants/<str:study_id>/audit", views.participant_audit, name="participant_audit"),
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
        enrollment.visit_book,
        name="visit_book",
    ),
    path("participants/<str:study_id>/exit", enrollment.participant_exit, name="participant_exit"),
    path(
        "participants/<str:study_id>/audit.csv",
        views.participant_audit_csv,
        name="participant_audit_csv",
    ),
]
