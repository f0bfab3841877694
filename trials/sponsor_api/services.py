"""Sponsor API keys and background export jobs.

No trial role writes here. Keys are made by a data manager; a job is asked for by a sponsor's
API key, then claimed, run and resumed as the system, by tasks and the beat.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from trials import queue
from trials.audit import audit_context
from trials.sponsor_api import exports
from trials.sponsor_api.models import ExportJob, SponsorApiKey
from trials.study.models import Sponsor, Trial

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def sponsor_api_key_create(
    *,
    sponsor: Sponsor,
    name: str,
    expires_at: datetime.datetime | None,
    by: User | None,
    actor: str = "system",
) -> tuple[SponsorApiKey, str]:
    """Create a sponsor's API key; returns it with the key itself, which is never stored.

    The create_sponsor_key command creates keys as the system (by=None), which only shell access
    to the server allows; a user needs the admin's permission to add sponsor API keys.
    """
    with transaction.atomic(), audit_context(by=by, reason="API key created", actor=actor):
        if by is not None and not by.has_perm("trials.add_sponsorapikey"):
            raise PermissionDenied("Only a data manager creates sponsor API keys.")
        api_key, key = SponsorApiKey.objects.create_key(
            sponsor=sponsor, name=name, expiry_date=expires_at
        )
    # The library types what its manager returns as its base class.
    return cast(SponsorApiKey, api_key), key


logger = logging.getLogger(__name__)

JOB_FORMATS = ("csv", "ndjson")
TASK_NAME = "trials.sponsor_api.tasks.export_job_run"
# Progress is written to the job row about this often, not on every row.
PROGRESS_EVERY = 5000
# A queued job still waiting after this long lost its message: send it again.
RESUME_AFTER = datetime.timedelta(minutes=5)
# A running job not finished after this long lost its worker: the task's hard time limit
# (trials/sponsor_api/jobs.py) has killed it by then.
STALE_RUNNING_AFTER = datetime.timedelta(seconds=settings.EXPORT_TASK_TIME_LIMIT + 600)
# Runs started (claimed) before a job is given up as failed: a worker lost every time.
MAX_ATTEMPTS = 3
PART_SUFFIX = ".part"


def export_job_create(
    *,
    sponsor: Sponsor,
    api_key: SponsorApiKey | None,
    trial: Trial,
    resource: str,
    fmt: str,
    filters: dict[str, Any],
) -> ExportJob:
    """Save a job for cleaned filters, and queue it once the row has committed.

    Asked for by a sponsor's API key, not a user: only for one of that sponsor's own trials (the
    API resolves the trial among them, another sponsor's is a 404 there).
    """
    if trial.sponsor_id != sponsor.pk:
        raise PermissionDenied("A sponsor exports only its own trials.")
    params = {**filters, "profile": sponsor.export_profile}
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
        queue.after_commit(TASK_NAME, str(job.pk))
    return job


def export_job_path(job: ExportJob) -> Path:
    return Path(settings.EXPORT_ROOT) / f"{job.pk}.{job.format}"


def _claimable(now: datetime.datetime) -> Q:
    stale = Q(status=ExportJob.Status.RUNNING, started_at__lt=now - STALE_RUNNING_AFTER)
    return Q(status=ExportJob.Status.QUEUED) | stale


def _exhausted_error() -> str:
    return f"Gave up after {MAX_ATTEMPTS} attempts: the worker was lost every time."


def export_job_claim(*, job_id: Any, now: datetime.datetime) -> bool:
    """Take a queued (or stale running) job for this run; False when another run has it."""
    # One UPDATE: of two runs at once, PostgreSQL lets exactly one match the row.
    return (
        ExportJob.objects.filter(_claimable(now), pk=job_id, attempts__lt=MAX_ATTEMPTS).update(
            status=ExportJob.Status.RUNNING,
            started_at=now,
            attempts=F("attempts") + 1,
            rows_written=0,
            error="",
            finished_at=None,
        )
        == 1
    )


def _give_up(jobs: Any, now: datetime.datetime) -> int:
    """Fail the claimable jobs that have used every attempt."""
    exhausted = jobs.filter(_claimable(now), attempts__gte=MAX_ATTEMPTS)
    return exhausted.update(
        status=ExportJob.Status.FAILED, error=_exhausted_error(), finished_at=now
    )


def export_job_run(*, job_id: Any) -> ExportJob:
    """Claim the job and write its file; a run that cannot claim it does nothing."""
    now = timezone.now()
    if not export_job_claim(job_id=job_id, now=now):
        if _give_up(ExportJob.objects.filter(pk=job_id), now):
            logger.error("Export job %s failed after %s attempts", job_id, MAX_ATTEMPTS)
        return ExportJob.objects.get(pk=job_id)
    job = ExportJob.objects.select_related("sponsor", "trial").get(pk=job_id)
    # Later writes go through `mine`: a run taken over as stale cannot touch the new one's row.
    mine = ExportJob.objects.filter(pk=job.pk, status=ExportJob.Status.RUNNING, started_at=now)
    final = export_job_path(job)
    try:
        rows, size = _write(job, mine, final)
    except Exception as error:
        logger.exception("Export job %s failed", job.pk)
        mine.update(
            status=ExportJob.Status.FAILED,
            error=f"{type(error).__name__}: the export could not be written.",
            finished_at=timezone.now(),
        )
        raise
    mine.update(
        status=ExportJob.Status.DONE,
        # The profile the file was written under, which downloads are checked against.
        params=job.params | {"profile": job.sponsor.export_profile},
        rows_written=rows,
        rows_total=rows,
        file_name=final.name,
        file_size=size,
        finished_at=timezone.now(),
    )
    job.refresh_from_db()
    return job


def _write(job: ExportJob, mine: Any, final: Path) -> tuple[int, int]:
    started_at = cast(datetime.datetime, job.started_at)  # a claimed job has started
    definition = exports.RESOURCES[job.resource]
    params = exports.validate_params(trial=job.trial, params=job.params)
    total = exports.filtered_queryset(definition, job.trial, params).count()
    mine.update(rows_total=total)
    final.parent.mkdir(parents=True, exist_ok=True)
    part = final.with_name(f"{final.name}.{secrets.token_hex(4)}{PART_SUFFIX}")
    stream = exports.export_stream(
        sponsor=job.sponsor, trial=job.trial, resource=job.resource, fmt=job.format, params=params
    )
    reported = lines = 0
    try:
        with part.open("wb") as file, _progress_saver(job, started_at) as save_progress:
            for chunk in stream:
                file.write(chunk)
                lines += chunk.count(b"\n")
                written = _rows_so_far(job.format, stream.rows, lines, total)
                if written - reported >= PROGRESS_EVERY:
                    reported = written
                    save_progress(reported)
            file.flush()
            os.fsync(file.fileno())
        os.replace(part, final)  # atomic: a reader sees the old file or the whole new one
    finally:
        part.unlink(missing_ok=True)
    return stream.rows, final.stat().st_size


@contextlib.contextmanager
def _progress_saver(
    job: ExportJob, started_at: datetime.datetime
) -> Iterator[Callable[[int], None]]:
    """Saves rows_written while the export streams, on a database connection of its own."""
    # The run's own connection is busy: a CSV is read with COPY, and no other statement can be
    # sent on a connection until its COPY ends. This one commits each UPDATE (autocommit).
    progress_db = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        yield lambda rows: _save_progress(progress_db, job.pk, started_at, rows)
    finally:
        progress_db.close()


def _save_progress(progress_db: Any, job_id: Any, started_at: datetime.datetime, rows: int) -> None:
    table = progress_db.ops.quote_name(ExportJob._meta.db_table)
    with progress_db.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET rows_written = %s"
            " WHERE id = %s AND status = %s AND started_at = %s",
            [rows, job_id, ExportJob.Status.RUNNING.value, started_at],
        )


def _rows_so_far(fmt: str, rows: int, lines: int, total: int) -> int:
    """Rows written so far; a CSV written by COPY counts its rows only at the end."""
    if fmt != "csv":
        return rows
    # Lines minus the header; a quoted value may hold a newline, hence the cap.
    return min(max(lines - 1, 0), total)


def export_jobs_resume(*, now: datetime.datetime | None = None) -> int:
    """Send again the jobs whose message was lost; clear stale temporary files. For beat."""
    now = now or timezone.now()
    if failed := _give_up(ExportJob.objects.all(), now):
        logger.error("%s export jobs failed after %s attempts", failed, MAX_ATTEMPTS)
    lost = ExportJob.objects.filter(
        Q(status=ExportJob.Status.QUEUED, created_at__lt=now - RESUME_AFTER)
        | Q(status=ExportJob.Status.RUNNING, started_at__lt=now - STALE_RUNNING_AFTER)
    ).values_list("pk", flat=True)
    sent = sum(queue.publish(TASK_NAME, str(pk)) for pk in lost)
    _remove_stale_parts(now)
    return sent


def _remove_stale_parts(now: datetime.datetime) -> None:
    root = Path(settings.EXPORT_ROOT)
    if not root.is_dir():
        return
    cutoff = now.timestamp() - STALE_RUNNING_AFTER.total_seconds()
    for part in root.glob(f"*{PART_SUFFIX}"):
        with contextlib.suppress(FileNotFoundError):  # its run renamed or removed it meanwhile
            if part.stat().st_mtime < min(cutoff, time.time()):
                part.unlink(missing_ok=True)
