"""The API, version 1: everything under /api/v1/."""

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from screening import api as screening_api
from trials.sponsor_api import api as export_api
from trials.sponsor_api import fhir as fhir_api
from trials.sponsor_api import jobs as jobs_api
from trials.sponsor_api import odm as odm_api
from trials.sponsor_api.exports import RESOURCES

app_name = "api"

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema"), name="docs"),
    path("trials/", export_api.TrialList.as_view(), name="trial_list"),
    *[
        path(
            f"trials/<str:code>/{resource}/",
            export_api.export_view(resource),
            name=f"trial_{resource.replace('-', '_')}",
        )
        for resource in RESOURCES
    ],
    path(
        "trials/<str:code>/eligibility",
        screening_api.trial_eligibility,
        name="trial_eligibility",
    ),
    path("trials/<str:code>/odm", odm_api.trial_odm, name="trial_odm"),
    path("trials/<str:code>/fhir", fhir_api.trial_fhir, name="trial_fhir"),
    path("trials/<str:code>/exports", jobs_api.trial_export_jobs, name="trial_export_jobs"),
    path(
        "trials/<str:code>/exports/<uuid:job_id>",
        jobs_api.trial_export_job,
        name="trial_export_job",
    ),
    path(
        "trials/<str:code>/exports/<uuid:job_id>/file",
        jobs_api.trial_export_job_file,
        name="trial_export_job_file",
    ),
]
