"""Background export jobs over the API: ask for one, follow its progress, download its file."""

from __future__ import annotations

import json
from typing import Any, cast

from django.core.exceptions import ValidationError
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import (
    api_view,
    parser_classes,
    permission_classes,
    renderer_classes,
)
from rest_framework.exceptions import APIException, NotFound
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from trials.sponsor_api import services as export_jobs
from trials.sponsor_api.api import IsSponsorKey
from trials.sponsor_api.http import JSONBodyParser, bad_request
from trials.sponsor_api.models import ExportJob, SponsorApiKey
from trials.sponsor_api.odm import sponsor_trial_or_404
from trials.sponsor_api.serializers import export_job_request
from trials.sponsor_api.streaming import export_request_log


class ExportGone(APIException):
    status_code = status.HTTP_410_GONE
    default_code = "gone"


def profile_changed(job: ExportJob) -> bool:
    """The file was written under another export profile than the sponsor's current one."""
    return job.params.get("profile") != job.sponsor.export_profile


class ExportJobSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    file_url = serializers.SerializerMethodField()

    class Meta:
        model = ExportJob
        fields = [
            "id",
            "url",
            "resource",
            "format",
            "params",
            "status",
            "rows_written",
            "rows_total",
            "file_size",
            "file_url",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ]

    def _path(self, job: ExportJob, name: str) -> str:
        path = reverse(f"api:{name}", args=[job.trial.code, job.pk])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_url(self, job: ExportJob) -> str:
        return self._path(job, "trial_export_job")

    def get_file_url(self, job: ExportJob) -> str | None:
        if job.status != ExportJob.Status.DONE or profile_changed(job):
            return None
        return self._path(job, "trial_export_job_file")


JOB_REQUEST = inline_serializer(
    "ExportJobRequest",
    {
        "resource": serializers.CharField(help_text="A resource of the listing, e.g. vitals."),
        "format": serializers.ChoiceField(choices=export_jobs.JOB_FORMATS),
        "updated_since": serializers.DateTimeField(required=False),
        "site": serializers.CharField(required=False, help_text="A site code, e.g. LON."),
        "date_from": serializers.DateField(required=False),
        "date_to": serializers.DateField(required=False),
    },
)


@extend_schema(
    summary="Start a background export job",
    request=JOB_REQUEST,
    responses={
        202: ExportJobSerializer,
        400: OpenApiResponse(description="Field errors, e.g. {'format': ['...']}."),
        401: OpenApiResponse(description="No or bad API key."),
        404: OpenApiResponse(description="No such trial for this sponsor."),
    },
    tags=["exports"],
)
@api_view(["POST"])
@parser_classes([JSONBodyParser])
@permission_classes([IsSponsorKey])
def trial_export_jobs(request: Request, code: str) -> Response:
    """POST /api/v1/trials/<code>/exports: 202 with the queued job."""
    sponsor, trial = sponsor_trial_or_404(request, code)
    resource, fmt, filters = export_job_request(trial, request.data)
    try:
        job = export_jobs.export_job_create(
            sponsor=sponsor,
            api_key=getattr(request.user, "api_key", None),
            trial=trial,
            resource=resource,
            fmt=fmt,
            filters=filters,
        )
    except ValidationError as error:
        raise bad_request(error) from None
    body = ExportJobSerializer(job, context={"request": request}).data
    return Response(body, status=status.HTTP_202_ACCEPTED, headers={"Location": body["url"]})


def _job(request: Request, code: str, job_id: Any) -> ExportJob:
    sponsor, trial = sponsor_trial_or_404(request, code)
    jobs = ExportJob.objects.select_related("trial", "sponsor").filter(sponsor=sponsor, trial=trial)
    return get_object_or_404(jobs, pk=job_id)


@extend_schema(
    summary="An export job's status and progress",
    responses={200: ExportJobSerializer, 404: OpenApiResponse(description="No such job.")},
    tags=["exports"],
)
@api_view(["GET"])
@permission_classes([IsSponsorKey])
def trial_export_job(request: Request, code: str, job_id: Any) -> Response:
    """GET /api/v1/trials/<code>/exports/<uuid>."""
    job = _job(request, code, job_id)
    return Response(ExportJobSerializer(job, context={"request": request}).data)


class AnyFileRenderer(BaseRenderer):
    """Lets a client ask for the file's own type (text/csv, ...); errors are rendered as JSON."""

    media_type = "*/*"
    format = "file"

    def render(self, data: Any, accepted_media_type: Any = None, renderer_context: Any = None):
        return json.dumps(data).encode() if data is not None else b""


@extend_schema(
    summary="Download a finished export job's file",
    responses={
        (200, "text/csv"): OpenApiResponse(OpenApiTypes.BINARY, description="The CSV file."),
        (200, "application/x-ndjson"): OpenApiResponse(
            OpenApiTypes.BINARY, description="The NDJSON file."
        ),
        404: OpenApiResponse(description="No such job, or its file is not ready."),
        410: OpenApiResponse(
            description="The file was written under another export profile than the sponsor's."
        ),
    },
    tags=["exports"],
)
@api_view(["GET"])
@renderer_classes([JSONRenderer, AnyFileRenderer])
@permission_classes([IsSponsorKey])
def trial_export_job_file(request: Request, code: str, job_id: Any) -> FileResponse:
    """GET /api/v1/trials/<code>/exports/<uuid>/file: streamed from disk, logged."""
    started_at = timezone.now()
    job = _job(request, code, job_id)
    path = export_jobs.export_job_path(job)
    if job.status != ExportJob.Status.DONE or not path.exists():
        raise NotFound(f"The export is {job.get_status_display().lower()}, not ready to download.")
    if profile_changed(job):
        raise ExportGone(
            f"This file was written under the {job.params.get('profile') or 'an earlier'} export"
            f" profile; the sponsor's profile is now {job.sponsor.export_profile}."
            " Start a new export."
        )
    content_type = "text/csv" if job.format == "csv" else "application/x-ndjson"
    name = f"{job.trial.code}-{job.resource}.{job.format}"
    response = FileResponse(
        path.open("rb"), as_attachment=True, filename=name, content_type=content_type
    )
    export_request_log(
        sponsor=job.sponsor,
        api_key=cast("SponsorApiKey | None", request.auth),  # what SponsorKeyAuthentication sets
        trial=job.trial,
        resource=job.resource,
        fmt=job.format,
        query=f"job={job.pk}",
        status_code=200,
        rows=job.rows_written,
        started_at=started_at,
    )
    return response
