"""Celery tasks for background export jobs."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from trials.sponsor_api import services as export_jobs

# Longer than other tasks: a whole trial may take a while. Below the broker's visibility timeout.
TIME_LIMIT = settings.EXPORT_TASK_TIME_LIMIT


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=TIME_LIMIT,
    soft_time_limit=TIME_LIMIT - 60,
)
def export_job_run(job_id: str) -> str:
    """Write one export job's file, once: a duplicate message finds the job claimed."""
    return export_jobs.export_job_run(job_id=job_id).status


@shared_task(acks_late=True, reject_on_worker_lost=True)
def export_jobs_resume() -> int:
    """Send again the jobs whose message was lost (for the beat schedule)."""
    return export_jobs.export_jobs_resume()
