"""Reminders and alerts as rows with a due time, and every delivery attempt."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from trials.enrollment.models import Unblinding
from trials.facilitators.models import Credential
from trials.participants.models import Participant
from trials.safety.models import AdverseEvent, SuicideRiskScreen
from trials.sessions.models import Visit
from trials.study.models import Trial
from trials.triggers import protect_deletes


class NotificationKind(models.TextChoices):
    REMINDER_48H = "reminder_48h", "Reminder 48 h before (facilitator)"
    REMINDER_24H = "reminder_24h", "Reminder 24 h before (facilitator)"
    PARTICIPANT_REMINDER = "participant_reminder", "Reminder 24 h before (participant)"
    VISIT_MISSED = "visit_missed", "Visit missed"
    SERIOUS_ADVERSE_EVENT = "serious_adverse_event", "Serious adverse event"
    ACTIVE_IDEATION = "active_ideation", "Active suicidal ideation (C-SSRS)"
    UNBLINDING = "unblinding", "Emergency unblinding"
    CREDENTIAL_EXPIRY = "credential_expiry", "Credential expiring"
    DAILY_DIGEST = "daily_digest", "Daily digest"


REMINDER_KINDS = (
    NotificationKind.REMINDER_48H,
    NotificationKind.REMINDER_24H,
    NotificationKind.PARTICIPANT_REMINDER,
)
SAFETY_KINDS = (
    NotificationKind.SERIOUS_ADVERSE_EVENT,
    NotificationKind.ACTIVE_IDEATION,
    NotificationKind.UNBLINDING,
)


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (given up)"
    CANCELLED = "cancelled", "Cancelled"


class Audience(models.TextChoices):
    USER = "user", "Staff member"
    PARTICIPANT = "participant", "Participant"
    SPONSOR_SAFETY = "sponsor_safety", "Sponsor's safety contact"


class NotificationQuerySet(models.QuerySet["Notification"]):
    def pending(self) -> NotificationQuerySet:
        return self.filter(status=NotificationStatus.PENDING)

    def of_visit(self, visit: Visit) -> NotificationQuerySet:
        """A visit's reminders and alerts with every delivery attempt (three queries)."""
        return (
            self.filter(visit=visit)
            .select_related("recipient")
            .prefetch_related("deliveries")
            .order_by("due_at", "pk")
        )


class Notification(models.Model):
    Kind = NotificationKind
    Status = NotificationStatus
    Audience = Audience

    key = models.CharField(
        max_length=200, unique=True, help_text="The event and the recipient: one row for each."
    )
    kind = models.CharField(max_length=30, choices=NotificationKind.choices)
    status = models.CharField(
        max_length=12, choices=NotificationStatus.choices, default=NotificationStatus.PENDING
    )
    audience = models.CharField(max_length=20, choices=Audience.choices)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="notifications",
    )
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, null=True, related_name="+")
    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, null=True, blank=True, related_name="notifications"
    )
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="notifications"
    )
    visit_starts_at = models.DateTimeField(
        null=True, blank=True, help_text="The booked time a reminder is for."
    )
    adverse_event = models.ForeignKey(
        AdverseEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    risk_screen = models.ForeignKey(
        SuicideRiskScreen, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    unblinding = models.ForeignKey(
        Unblinding, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    credential = models.ForeignKey(
        Credential, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True, help_text="What the message is about.")
    due_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=NotificationStatus.values),
                name="notification_status_valid",
                violation_error_message="Unknown notification status.",
            ),
            models.CheckConstraint(
                condition=~Q(audience=Audience.USER) | Q(recipient__isnull=False),
                name="notification_user_has_recipient",
                violation_error_message="A notification to a staff member names the user.",
            ),
            models.CheckConstraint(
                condition=~Q(status=NotificationStatus.SENT) | Q(sent_at__isnull=False),
                name="notification_sent_has_time",
                violation_error_message="A sent notification records when.",
            ),
        ]
        indexes = [
            # The sweep reads only what is pending and due: a small slice of a large table.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="notification_due_idx",
            ),
            models.Index(fields=["visit", "kind"], name="notification_visit_idx"),
        ]
        triggers = [protect_deletes()]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.key})"


class DeliveryOutcome(models.TextChoices):
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Delivery(models.Model):
    """One attempt to send a notification: to whom, when, and what came of it."""

    Outcome = DeliveryOutcome

    notification = models.ForeignKey(
        Notification, on_delete=models.PROTECT, related_name="deliveries"
    )
    attempt = models.PositiveIntegerField()
    attempted_at = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=DeliveryOutcome.choices)
    sent_to = models.CharField(max_length=254, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["notification", "attempt"]
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "attempt"], name="delivery_attempt_unique"
            ),
        ]
        triggers = [protect_deletes()]

    def __str__(self) -> str:
        return f"{self.notification_id} attempt {self.attempt}: {self.outcome}"
