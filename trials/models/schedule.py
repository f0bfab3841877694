"""The schedule: the protocol's events for each randomized participant, as visits to book."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pghistory
from django.conf import settings
from django.db import models
from django.db.models import Q

from trials.models.access import Facilitator
from trials.models.participants import Participant
from trials.models.trials import ProtocolVersion
from trials.models.triggers import protect_deletes

if TYPE_CHECKING:
    import datetime

    from trials.models.access import AnyUser


class EventKind(models.TextChoices):
    PREPARATION = "preparation", "Preparation"
    DOSING = "dosing", "Dosing"
    INTEGRATION = "integration", "Integration"
    ASSESSMENT = "assessment", "Assessment"
    FOLLOW_UP = "follow_up", "Follow-up"


class VisitStatus(models.TextChoices):
    AWAITING_DOSING = "awaiting_dosing", "Awaiting dosing"
    SCHEDULED = "scheduled", "To book"
    BOOKED = "booked", "Booked"
    COMPLETED = "completed", "Completed"
    MISSED = "missed", "Missed"
    CANCELLED = "cancelled", "Cancelled"


# Statuses whose dates are known.
DATED = (VisitStatus.SCHEDULED, VisitStatus.BOOKED, VisitStatus.COMPLETED, VisitStatus.MISSED)


class VisitQuerySet(models.QuerySet["Visit"]):
    def visible_to(self, user: AnyUser) -> VisitQuerySet:
        return self.filter(participant__in=Participant.objects.visible_to(user).values("pk"))

    def due_between(self, first: datetime.date, last: datetime.date) -> VisitQuerySet:
        """Visits still to do whose window is open on some day between first and last."""
        return self.filter(
            status__in=[VisitStatus.SCHEDULED, VisitStatus.BOOKED],
            window_start__lte=last,
            window_end__gte=first,
        )


@pghistory.track()
class Visit(models.Model):
    """One protocol event for one participant: target date and window in the site's time zone."""

    Kind = EventKind
    Status = VisitStatus

    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="visits")
    protocol_version = models.ForeignKey(
        ProtocolVersion, on_delete=models.PROTECT, related_name="+"
    )
    event_code = models.CharField(max_length=40)
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    label = models.CharField(max_length=200)
    anchor = models.CharField(max_length=40, help_text="'randomization' or a dosing event code.")
    day = models.IntegerField(help_text="Days from the anchor's actual date.")
    status = models.CharField(max_length=20, choices=VisitStatus.choices)
    target_date = models.DateField(null=True, blank=True)
    window_start = models.DateField(null=True, blank=True)
    window_end = models.DateField(null=True, blank=True)
    starts_at = models.DateTimeField(null=True, blank=True)
    room = models.CharField(max_length=100, blank=True)
    facilitators = models.ManyToManyField(
        Facilitator, through="VisitFacilitator", related_name="visits", blank=True
    )
    sequence = models.PositiveSmallIntegerField(help_text="The event's place in the protocol.")

    objects = VisitQuerySet.as_manager()

    class Meta:
        ordering = ["participant", "sequence"]
        constraints = [
            # Scheduling by a request, a task and a sweep at once still makes each visit once.
            models.UniqueConstraint(
                fields=["participant", "event_code"],
                name="visit_once_per_event",
                violation_error_message="This participant already has this visit.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=VisitStatus.values),
                name="visit_status_valid",
                violation_error_message="Unknown visit status.",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=DATED)
                | Q(
                    target_date__isnull=False,
                    window_start__lte=models.F("target_date"),
                    window_end__gte=models.F("target_date"),
                ),
                name="visit_dated_within_window",
                violation_error_message="A scheduled visit has a target date inside its window.",
            ),
            models.CheckConstraint(
                condition=~Q(status=VisitStatus.BOOKED) | Q(starts_at__isnull=False),
                name="visit_booked_has_time",
                violation_error_message="A booked visit has a date and time.",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "window_start"], name="visit_due_idx"),
            # The reminder planner (booked, starting soon) and the missed sweep (window closed).
            models.Index(fields=["status", "starts_at"], name="visit_booked_idx"),
            models.Index(fields=["status", "window_end"], name="visit_window_end_idx"),
        ]
        triggers = [protect_deletes()]

    def __str__(self) -> str:
        return f"{self.participant} {self.event_code}"


@pghistory.track()
class VisitFacilitator(models.Model):
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="assignments")
    facilitator = models.ForeignKey(Facilitator, on_delete=models.PROTECT, related_name="+")
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="+")
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["visit", "facilitator"],
                name="visit_facilitator_unique",
                violation_error_message="This facilitator is already on this visit.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.facilitator} on {self.visit}"
