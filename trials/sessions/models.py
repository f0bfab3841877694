"""Visits and the schedule, dosing sessions with vitals, therapy sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pghistory
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from trials.facilitators.models import Facilitator
from trials.participants.models import Participant, Signature
from trials.study.models import ProtocolVersion
from trials.triggers import protect_deletes, touch_updated_at

if TYPE_CHECKING:
    import datetime

    from trials.study.models import AnyUser


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


class SessionStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    GIVEN = "given", "Dose given"
    NOT_GIVEN = "not_given", "Not given"


class PregnancyTest(models.TextChoices):
    NOT_APPLICABLE = "not_applicable", "Not applicable"
    NEGATIVE = "negative", "Negative"
    POSITIVE = "positive", "Positive"


class Route(models.TextChoices):
    ORAL = "oral", "Oral"
    SUBLINGUAL = "sublingual", "Sublingual"
    INTRAVENOUS = "intravenous", "Intravenous"


class DosingSessionQuerySet(models.QuerySet["DosingSession"]):
    def visible_to(self, user: AnyUser) -> DosingSessionQuerySet:
        return self.filter(participant__in=Participant.objects.visible_to(user).values("pk"))


@pghistory.track()
class DosingSession(models.Model):
    """The log of one supervised dosing session: checks before, the dose, the day, the release.

    `revision` counts saved changes; a facilitator's signature covers one revision, so an edit
    after signing leaves the earlier signatures on record but no longer valid.
    """

    Status = SessionStatus

    visit = models.OneToOneField(Visit, on_delete=models.PROTECT, related_name="dosing_session")
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        max_length=12, choices=SessionStatus.choices, default=SessionStatus.IN_PROGRESS
    )
    revision = models.PositiveIntegerField(default=1)
    # Before the dose
    eligibility_confirmed = models.BooleanField(default=False)
    consent_current = models.BooleanField(default=False)
    medications_stopped = models.BooleanField(
        default=False, help_text="Contraindicated medications confirmed stopped."
    )
    washout_days = models.PositiveSmallIntegerField(null=True, blank=True)
    pregnancy_test = models.CharField(
        max_length=16, choices=PregnancyTest.choices, default=PregnancyTest.NOT_APPLICABLE
    )
    predose_systolic = models.PositiveSmallIntegerField(null=True, blank=True)
    predose_diastolic = models.PositiveSmallIntegerField(null=True, blank=True)
    predose_heart_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    predose_temperature = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    vitals_override = models.OneToOneField(
        Signature,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="An investigator's signed permission to dose despite pre-dose vitals.",
    )
    # The dose
    kit_code = models.CharField(max_length=20, blank=True)
    lot_number = models.CharField(max_length=40, blank=True)
    route = models.CharField(max_length=12, choices=Route.choices, default=Route.ORAL)
    dosed_at = models.DateTimeField(null=True, blank=True, help_text="T0: time of dose.")
    supplemental_dosed_at = models.DateTimeField(null=True, blank=True)
    supplemental_lot_number = models.CharField(max_length=40, blank=True)
    # The day and the release
    interventions = models.TextField(blank=True)
    rescue_medication = models.TextField(blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    release_alert_and_oriented = models.BooleanField(default=False)
    release_vitals_stable = models.BooleanField(default=False)
    release_escort_arranged = models.BooleanField(default=False)
    not_given_reason = models.TextField(blank=True)
    notes = models.TextField(blank=True, help_text="Kept from sponsors.")
    started_at = models.DateTimeField(auto_now_add=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    updated_at = models.DateTimeField(
        auto_now=True, db_index=True, help_text="Set by the database on every write."
    )
    objects = DosingSessionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=SessionStatus.values),
                name="dosing_session_status_valid",
                violation_error_message="Unknown session status.",
            ),
            models.CheckConstraint(
                condition=~Q(status=SessionStatus.GIVEN)
                | (Q(dosed_at__isnull=False) & ~Q(kit_code="") & ~Q(lot_number="")),
                name="dosing_session_given_has_dose",
                violation_error_message="A given dose records its kit, lot and time.",
            ),
            models.CheckConstraint(
                condition=Q(supplemental_dosed_at__isnull=True)
                | Q(supplemental_dosed_at__gt=models.F("dosed_at")),
                name="dosing_session_supplement_after_dose",
                violation_error_message="A supplemental dose comes after the first dose.",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gt=models.F("dosed_at")),
                name="dosing_session_ends_after_dose",
                violation_error_message="The session ends after the dose.",
            ),
        ]
        triggers = [protect_deletes(), touch_updated_at()]

    def __str__(self) -> str:
        return f"Dosing session {self.visit}"


@pghistory.track()
class VitalSign(models.Model):
    """One row of the vitals grid."""

    dosing_session = models.ForeignKey(
        DosingSession, on_delete=models.PROTECT, related_name="vitals"
    )
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="+")
    measured_at = models.DateTimeField()
    systolic = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(40), MaxValueValidator(300)]
    )
    diastolic = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(20), MaxValueValidator(200)]
    )
    heart_rate = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(20), MaxValueValidator(250)]
    )
    temperature = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(30), MaxValueValidator(45)],
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    updated_at = models.DateTimeField(
        auto_now=True, db_index=True, help_text="Set by the database on every write."
    )

    class Meta:
        ordering = ["dosing_session", "measured_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(systolic__gt=models.F("diastolic")),
                name="vital_sign_systolic_above_diastolic",
                violation_error_message="Systolic pressure is above diastolic.",
            )
        ]
        triggers = [touch_updated_at()]

    def __str__(self) -> str:
        return f"{self.systolic}/{self.diastolic} {self.heart_rate} bpm at {self.measured_at:%H:%M}"


@pghistory.track()
class SessionSignature(models.Model):
    """A facilitator's signature on one revision of a dosing session log."""

    dosing_session = models.ForeignKey(
        DosingSession, on_delete=models.PROTECT, related_name="signatures"
    )
    signature = models.OneToOneField(Signature, on_delete=models.PROTECT, related_name="+")
    facilitator = models.ForeignKey(Facilitator, on_delete=models.PROTECT, related_name="+")
    revision = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["dosing_session", "facilitator", "revision"],
                name="session_signature_once_per_revision",
                violation_error_message="You already signed this version of the log.",
            )
        ]
        triggers = [protect_deletes()]

    def __str__(self) -> str:
        return f"{self.facilitator} signed revision {self.revision}"


class TherapySessionQuerySet(models.QuerySet["TherapySession"]):
    def visible_to(self, user: AnyUser) -> TherapySessionQuerySet:
        return self.filter(participant__in=Participant.objects.visible_to(user).values("pk"))


@pghistory.track()
class TherapySession(models.Model):
    """A preparation or integration session: attended or missed, and what was worked on."""

    visit = models.OneToOneField(Visit, on_delete=models.PROTECT, related_name="therapy_session")
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="+")
    attended = models.BooleanField()
    started_at = models.DateTimeField(null=True, blank=True)
    duration_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    facilitator = models.ForeignKey(
        Facilitator, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    participant_state = models.TextField(blank=True, help_text="Mood, readiness, concerns.")
    themes = models.TextField(blank=True, help_text="What was prepared for or integrated.")
    plan = models.TextField(blank=True, help_text="Agreed next steps.")
    missed_reason = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    updated_at = models.DateTimeField(
        auto_now=True, db_index=True, help_text="Set by the database on every write."
    )
    objects = TherapySessionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(attended=False)
                | Q(started_at__isnull=False, duration_minutes__gt=0, facilitator__isnull=False),
                name="therapy_session_attended_complete",
                violation_error_message="An attended session needs start, length, facilitator.",
            ),
            models.CheckConstraint(
                condition=Q(attended=True) | ~Q(missed_reason=""),
                name="therapy_session_missed_has_reason",
                violation_error_message="A missed session records why.",
            ),
        ]
        triggers = [protect_deletes(), touch_updated_at()]

    def __str__(self) -> str:
        return f"{self.visit} ({'attended' if self.attended else 'missed'})"
