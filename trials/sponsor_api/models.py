"""Sponsor API keys, export requests (the access log) and background export jobs."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pghistory
from django.db import models
from django.db.models import Q
from rest_framework_api_key.models import AbstractAPIKey

from trials.study.models import Sponsor, Trial
from trials.triggers import protect_deletes

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    AnyUser = User | AnonymousUser


@pghistory.track(exclude=["hashed_key"])
class SponsorApiKey(AbstractAPIKey):
    """A sponsor's key to the read-only API: stored hashed, shown once, can expire or be revoked."""

    sponsor = models.ForeignKey(Sponsor, on_delete=models.PROTECT, related_name="api_keys")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "sponsor API key"
        verbose_name_plural = "sponsor API keys"


class ExportRequest(models.Model):
    """One export read by a sponsor's key: who, what, how many rows. Append-only."""

    sponsor = models.ForeignKey(Sponsor, on_delete=models.PROTECT, related_name="export_requests")
    api_key = models.ForeignKey(
        SponsorApiKey, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    trial = models.ForeignKey(
        Trial, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    resource = models.CharField(max_length=40)
    format = models.CharField(max_length=10)
    query = models.CharField(max_length=1000, blank=True, help_text="The query string as sent.")
    rows = models.PositiveIntegerField(null=True, blank=True, help_text="Empty until finished.")
    status_code = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [models.Index(fields=["sponsor", "started_at"], name="export_request_idx")]
        triggers = [protect_deletes()]

    def __str__(self) -> str:
        return f"{self.sponsor} {self.resource}.{self.format} at {self.started_at:%Y-%m-%d %H:%M}"


class ExportJobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ExportJob(models.Model):
    """A large export written to a file by a worker, downloaded by the same sponsor."""

    Status = ExportJobStatus

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sponsor = models.ForeignKey(Sponsor, on_delete=models.PROTECT, related_name="export_jobs")
    api_key = models.ForeignKey(
        SponsorApiKey, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="+")
    resource = models.CharField(max_length=40)
    format = models.CharField(max_length=10)
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=10, choices=ExportJobStatus.choices, default=ExportJobStatus.QUEUED
    )
    rows_total = models.PositiveIntegerField(null=True, blank=True)
    rows_written = models.PositiveIntegerField(default=0)
    file_name = models.CharField(max_length=300, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=ExportJobStatus.values),
                name="export_job_status_valid",
                violation_error_message="Unknown export job status.",
            ),
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(status__in=["queued", "running"]),
                name="export_job_open_idx",
            )
        ]
        triggers = [protect_deletes()]

    def __str__(self) -> str:
        return f"Export {self.id} ({self.resource}.{self.format}, {self.status})"
