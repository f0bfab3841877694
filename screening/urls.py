from django.urls import path

from screening import views

urlpatterns = [
    path(
        "participants/<str:study_id>/screening/start", views.screening_start, name="screening_start"
    ),
    path("screenings/<int:pk>/", views.screening_detail, name="screening_detail"),
    path("screenings/<int:pk>/preview", views.screening_preview, name="screening_preview"),
    path("screenings/<int:pk>/confirm", views.screening_confirm, name="screening_confirm"),
    path(
        "screenings/<int:pk>/apply-version",
        views.screening_apply_version,
        name="screening_apply_version",
    ),
    path(
        "trials/<str:trial_code>/sites/<str:site_code>/screenings/",
        views.screening_log,
        name="screening_log",
    ),
    path(
        "trials/<str:trial_code>/sites/<str:site_code>/screenings/apply-version",
        views.screenings_apply_current_version,
        name="screenings_apply_current_version",
    ),
]
