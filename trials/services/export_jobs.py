"""Background export jobs: a sponsor asks for a large export, a worker writes it to a file.

A job is a row first and a Celery message second: the message is sent after the row commits,
and a lost one (Redis down, worker killed) is found again by `export_jobs_resume`. Running a
job is idempotent: each run writes its own temporary file and renames it over the final name
only when complete, so two runs, or a run after a crash, leave one correct file.
"""

from __future__ import annotations

import datetime
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import serializers

from trials import exports
from trials.models import ExportJob, Sponsor, SponsorApiKey, Trial

logger = logging.getLogger(__name__)

JOB_FORMATS = ("csv", "ndjson")
TASK_NAME = "trials.api.jobs.export_job_run"
# Progress is written to the job row about this often, not on every row.
PROGRESS_EVERY = 5000
# A queued job still waiting after this long lost its message: send it again.
RESUME_AFTER = datetime.timedelta(minutes=5)
# A running job not finished after this long lost its worker (above the task's time limit).
STALE_RUNNING_AFTER = datetime.timedelta(minutes=70)
PART_SUFFIX = ".part"


class ExportJobRequestSerializer(serializers.Serializer):
    """What a job exports; the filters are the listing's (`trials.exports.validate_params`)."""

    resource = serializers.ChoiceField(choices=())
    format = serializers.ChoiceField(choices=JOB_FORMATS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["resource"].choices = sorted(exports.RESOURCES)


def _clean(trial: Trial, data: Any) -> tuple[str, str, dict[str, str]]:
    """(resource, format, params as JSON) from a request body; ValidationError by field."""
    if not isinstance(data, dict):
        raise serializers.ValidationError({"non_field_errors": ["Send a JSON object."]})
    errors: dict[str, Any] = {}
    request = ExportJobRequestSerializer(data=data)
    if not request.is_valid():
        errors.update(request.errors)
    filters = {name: data.get(name) for name in exports.PARAM_NAMES if name != "format"}
    try:
        params = exports.validate_params(trial=trial, params=filters)
    except serializers.ValidationError as error:
        errors.update(error.detail if isinstance(error.detail, dict) else {"params": error.detail})
    if errors:
        raise serializers.ValidationError(errors)
    values = {name: _json_value(getattr(params, name)) for name in filters}
    stored = {name: value for name, value in values.items() if value is not None}
    return request.validated_data["resource"], request.validated_data["format"], stored


def _json_value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime.date) else value


def export_job_create(
    *, sponsor: Sponsor, api_key: SponsorApiKey | None, trial: Trial, data: Any
) -> ExportJob:
    """Validate a job request, save the job, and queue it once the row has committed."""
    resource, fmt, params = _clean(trial, data)
    with transaction.atomic():
        job = ExportJob(
            sponsor=sponsor,
            api_key=api_key,
            trial=trial,
            resource=resource,
            format=fmt,
            params=params,
        )
        job.full_clean()
        job.save()
        transaction.on_commit(lambda: export_job_enqueue(job.pk))
    return job


def export_job_enqueue(job_id: Any) -> bool:
    """Send the job's message now; False (logged) when the broker cannot take it."""
    from celery import current_app

    try:
        current_app.send_task(TASK_NAME, args=[str(job_id)])
    except Exception:  # kombu and redis raise many kinds; export_jobs_resume covers them all
        logger.warning("Could not queue export job %s; it will be resumed", job_id, exc_info=True)
        return False
    return True


def export_job_path(job: ExportJob) -> Path:
    return Path(settings.EXPORT_ROOT) / f"{job.pk}.{job.format}"


def export_job_run(*, job_id: Any) -> ExportJob:
    """Write the job's file; safe to run again, or at once in two workers."""
    job = ExportJob.objects.select_related("sponsor", "trial").get(pk=job_id)
    final = export_job_path(job)
    if job.status == ExportJob.Status.DONE and final.exists():
        return job
    now = timezone.now()
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.RUNNING, started_at=now, rows_written=0, error=""
    )
    try:
        rows, size = _write(job, final)
    except Exception as error:
        logger.exception("Export job %s failed", job.pk)
        ExportJob.objects.filter(pk=job.pk).update(
            status=ExportJob.Status.FAILED,
            error=f"{type(error).__name__}: the export could not be written.",
            finished_at=timezone.now(),
        )
        raise
    ExportJob.objects.filter(pk=job.pk).update(
        status=ExportJob.Status.DONE,
        rows_written=rows,
        rows_total=rows,
        file_name=final.name,
        file_size=size,
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


def _write(job: ExportJob, final: Path) -> tuple[int, int]:
    definition = exports.RESOURCES[job.resource]
    params = exports.validate_params(trial=job.trial, params=job.params)
    total = exports.filtered_queryset(definition, job.trial, params).count()
    ExportJob.objects.filter(pk=job.pk).update(rows_total=total)
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_name(f"{final.name}.{secrets.token_hex(4)}{PART_SUFFIX}")
    stream = exports.export_stream(
        sponsor=job.sponsor, trial=job.trial, resource=job.resource, fmt=job.format, params=params
    )
    reported = 0
    try:
        with part.open("wb") as file:
            for chunk in stream:
                file.write(chunk)
                if stream.rows - reported >= PROGRESS_EVERY:
                    reported = stream.rows
                    ExportJob.objects.filter(pk=job.pk).update(rows_written=reported)
            file.flush()
            os.fsync(file.fileno())
        os.replace(part, final)  # atomic: a reader sees the old file or the whole new one
    finally:
        part.unlink(missing_ok=True)
    return stream.rows, final.stat().st_size


def export_jobs_resume(*, now: datetime.datetime | None = None) -> int:
    """Send again the jobs whose message was lost; clear stale temporary files. For beat."""
    now = now or timezone.now()
    lost = ExportJob.objects.filter(
        Q(status=ExportJob.Status.QUEUED, created_at__lt=now - RESUME_AFTER)
        | Q(status=ExportJob.Status.RUNNING, started_at__lt=now - STALE_RUNNING_AFTER)
    ).values_list("pk", flat=True)
    sent = sum(export_job_enqueue(pk) for pk in lost)
    _remove_stale_parts(now)
    return sent


def _remove_stale_parts(now: datetime.datetime) -> None:
    root = Path(settings.EXPORT_ROOT)
    if not root.is_dir():
        return
    cutoff = now.timestamp() - STALE_RUNNING_AFTER.total_seconds()
    for part in root.glob(f"*{PART_SUFFIX}"):
        if part.stat().st_mtime < min(cutoff, time.time()):
            part.unlink(missing_ok=True)
