"""The API, version 1: everything under /api/v1/."""

from django.urls import path

from screening import api as screening_api
from trials.api import fhir as fhir_api
from trials.api import odm as odm_api

app_name = "api"

urlpatterns = [
    path(
        "trials/<str:code>/eligibility",
        screening_api.trial_eligibility,
        name="trial_eligibility",
    ),
    path("trials/<str:code>/odm", odm_api.trial_odm, name="trial_odm"),
    path("trials/<str:code>/fhir", fhir_api.trial_fhir, name="trial_fhir"),
]
