"""Consent, randomization lists and allocation, unblinding and exits."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import pghistory
from django.conf import settings
from django.db import models
from django.db.models import Exists, ExpressionWrapper, OuterRef, Q, Subquery

from trials.participants.models import Participant, Signature
from trials.study.models import Arm, Trial
from trials.triggers import protect_deletes, touch_updated_at

if TYPE_CHECKING:
    from trials.study.models import AnyUser


# Participants still taking part: a new consent form version concerns them.
IN_STUDY = (
    Participant.Status.CONSENTED,
    Participant.Status.RANDOMIZED,
    Participant.Status.IN_TREATMENT,
    Participant.Status.FOLLOW_UP,
)


class ConsentFormVersionQuerySet(models.QuerySet["ConsentFormVersion"]):
    def current_for(self, trial: Trial, on: datetime.date) -> ConsentFormVersion | None:
        """The version in effect on that day: the latest whose effective date has come."""
        return self.filter(trial=trial, effective_from__lte=on).order_by("-effective_from").first()


@pghistory.track()
class ConsentFormVersion(models.Model):
    """An approved informed consent form. The newest in effect is the only one recordable."""

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="consent_forms")
    label = models.CharField(max_length=40, help_text="For example 'ICF v2.1'.")
    approved_on = models.DateField(help_text="Ethics committee / IRB approval date.")
    effective_from = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ConsentFormVersionQuerySet.as_manager()

    class Meta:
        ordering = ["trial", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "label"],
                name="consent_form_label_unique",
                violation_error_message="This trial already has a consent form with that label.",
            ),
            models.UniqueConstraint(
                fields=["trial", "effective_from"],
                name="consent_form_effective_unique",
                violation_error_message="Another version takes effect on the same day.",
            ),
            models.CheckConstraint(
                condition=Q(effective_from__gte=models.F("approved_on")),
                name="consent_form_effective_after_approval",
                violation_error_message="A form cannot take effect before it is approved.",
            ),
        ]
        triggers = [protect_deletes()]

    def __str__(self) -> str:
        return f"{self.trial.code} {self.label}"


@pghistory.track()
class Consent(models.Model):
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="consents")
    form_version = models.ForeignKey(
        ConsentFormVersion, on_delete=models.PROTECT, related_name="consents"
    )
    consented_at = models.DateTimeField(help_text="When the participant gave consent.")
    obtained_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    participant_confirmed = models.BooleanField(
        help_text="The participant signed the form and confirmed they understood it."
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    updated_at = models.DateTimeField(
        auto_now=True, db_index=True, help_text="Set by the database on every write."
    )

    class Meta:
        ordering = ["participant", "-consented_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "form_version"],
                name="consent_once_per_form_version",
                violation_error_message="Consent to this form version is already recorded.",
            ),
            models.CheckConstraint(
                condition=Q(participant_confirmed=True),
                name="consent_confirmed_by_participant",
                violation_error_message="Consent needs the participant's confirmation.",
            ),
        ]
        triggers = [protect_deletes(), touch_updated_at()]

    def __str__(self) -> str:
        return f"{self.participant} consented to {self.form_version.label}"


def needs_reconsent(on: datetime.date) -> ExpressionWrapper:
    """Annotation for participants: in the study, without consent to the form now in effect."""
    in_effect = ConsentFormVersion.objects.filter(
        trial=OuterRef("trial"), effective_from__lte=on
    ).order_by("-effective_from")
    current_for_consent = (
        ConsentFormVersion.objects.filter(trial=OuterRef(OuterRef("trial")), effective_from__lte=on)
        .order_by("-effective_from")
        .values("pk")[:1]
    )
    consented_to_current = Consent.objects.filter(
        participant=OuterRef("pk"), form_version=Subquery(current_for_consent)
    )
    return ExpressionWrapper(
        Q(status__in=IN_STUDY) & Exists(in_effect) & ~Exists(consented_to_current),
        output_field=models.BooleanField(),
    )


@pghistory.track()
class AllocationList(models.Model):
    """The concealed, seeded randomization list of one stratum, in permuted blocks."""

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="allocation_lists")
    stratum = models.CharField(max_length=300, help_text="For example 'site=LON'; 'all' if none.")
    seed = models.CharField(max_length=64, help_text="Recorded so the list can be regenerated.")
    ratio = models.JSONField()
    block_sizes = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trial", "stratum"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "stratum"],
                name="allocation_list_one_per_stratum",
                violation_error_message="This stratum already has its list.",
            )
        ]
        triggers = [protect_deletes()]

    def __str__(self) -> str:
        return f"{self.trial.code} {self.stratum}"


class AllocationSlotQuerySet(models.QuerySet["AllocationSlot"]):
    def visible_to(self, user: AnyUser) -> AllocationSlotQuerySet:
        return self.filter(participant__in=Participant.objects.visible_to(user).values("pk"))


@pghistory.track()
class AllocationSlot(models.Model):
    """One place in a list: its arm (concealed), its kit code, and who was given it."""

    allocation_list = models.ForeignKey(
        AllocationList, on_delete=models.PROTECT, related_name="slots"
    )
    sequence = models.PositiveIntegerField()
    block = models.PositiveIntegerField()
    arm = models.ForeignKey(Arm, on_delete=models.PROTECT, related_name="+")
    kit_code = models.CharField(max_length=20, unique=True)
    # One participant per slot and one slot per participant: an allocation is never given twice.
    participant = models.OneToOneField(
        Participant, on_delete=models.PROTECT, null=True, blank=True, related_name="allocation"
    )
    allocated_at = models.DateTimeField(null=True, blank=True)
    allocated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    updated_at = models.DateTimeField(
        auto_now=True, db_index=True, help_text="Set by the database on every write."
    )
    objects = AllocationSlotQuerySet.as_manager()

    class Meta:
        ordering = ["allocation_list", "sequence"]
        constraints = [
            models.UniqueConstraint(
                fields=["allocation_list", "sequence"],
                name="allocation_slot_sequence_unique",
                violation_error_message="This place in the list already exists.",
            ),
            models.CheckConstraint(
                condition=Q(participant__isnull=True, allocated_at__isnull=True)
                | Q(participant__isnull=False, allocated_at__isnull=False),
                name="allocation_slot_given_with_time",
                violation_error_message="An allocation records when it was given.",
            ),
        ]
        indexes = [
            models.Index(
                fields=["allocation_list", "sequence"],
                condition=Q(participant__isnull=True),
                name="allocation_slot_free_idx",
            )
        ]
        triggers = [protect_deletes(), touch_updated_at()]

    def __str__(self) -> str:
        return self.kit_code


@pghistory.track()
class Unblinding(models.Model):
    """An emergency unblinding of one participant's arm, signed by an investigator."""

    participant = models.OneToOneField(
        Participant, on_delete=models.PROTECT, related_name="unblinding"
    )
    signature = models.OneToOneField(Signature, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    unblinded_at = models.DateTimeField()

    class Meta:
        triggers = [protect_deletes()]

    def __str__(self) -> str:
        return f"Unblinding of {self.participant}"


class ExitKind(models.TextChoices):
    COMPLETED = "completed", "Completed"
    WITHDRAWN = "withdrawn", "Withdrawn"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up", "Lost to follow-up"


class ExitReason(models.TextChoices):
    COMPLETED_PER_PROTOCOL = "completed_per_protocol", "Completed per protocol"
    WITHDREW_CONSENT = "withdrew_consent", "Participant withdrew consent"
    ADVERSE_EVENT = "adverse_event", "Adverse event"
    LACK_OF_EFFICACY = "lack_of_efficacy", "Lack of efficacy"
    PROTOCOL_DEVIATION = "protocol_deviation", "Protocol deviation"
    INVESTIGATOR_DECISION = "investigator_decision", "Investigator's decision"
    PREGNANCY = "pregnancy", "Pregnancy"
    DEATH = "death", "Death"
    SPONSOR_DECISION = "sponsor_decision", "Study stopped by the sponsor"
    UNREACHABLE = "unreachable", "Could not be reached"
    OTHER = "other", "Other (see details)"


@pghistory.track()
class StudyExit(models.Model):
    """How and why a participant left the study. Their data stay."""

    Kind = ExitKind
    Reason = ExitReason

    participant = models.OneToOneField(
        Participant, on_delete=models.PROTECT, related_name="study_exit"
    )
    kind = models.CharField(max_length=20, choices=ExitKind.choices)
    reason = models.CharField(max_length=30, choices=ExitReason.choices)
    details = models.TextField(blank=True)
    exited_on = models.DateField()
    recorded_at = models.DateTimeField(auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    updated_at = models.DateTimeField(
        auto_now=True, db_index=True, help_text="Set by the database on every write."
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=ExitKind.values) & Q(reason__in=ExitReason.values),
                name="study_exit_codes_valid",
                violation_error_message="Unknown exit kind or reason.",
            ),
            models.CheckConstraint(
                condition=~Q(reason=ExitReason.OTHER) | ~Q(details=""),
                name="study_exit_other_explained",
                violation_error_message="Explain an 'other' reason in the details.",
            ),
        ]
        triggers = [protect_deletes(), touch_updated_at()]

    def __str__(self) -> str:
        return f"{self.participant}: {self.get_kind_display()} ({self.get_reason_display()})"
