"""Participants, their identity (kept apart) and electronic signatures."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pghistory
import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q

from trials.study.models import (
    CLINICAL_ROLES,
    IDENTITY_ROLES,
    Membership,
    Role,
    Site,
    Trial,
    TrialSite,
)
from trials.triggers import protect_deletes, touch_updated_at

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    AnyUser = User | AnonymousUser


class ParticipantQuerySet(models.QuerySet["Participant"]):
    def visible_to(self, user: AnyUser) -> ParticipantQuerySet:
        """Participants at the trial sites where the user has a clinical role.

        Sponsors see no participant rows here: their data comes pseudonymized through the API.
        """
        if not user.is_authenticated:
            return self.none()
        memberships = Membership.objects.filter(
            user=user, trial=OuterRef("trial"), role__in=CLINICAL_ROLES
        )
        return self.filter(
            Exists(memberships.filter(site=OuterRef("site")))
            | Exists(memberships.filter(site__isnull=True, role=Role.MONITOR))
        )

    def with_identity_visible_to(self, user: AnyUser) -> ParticipantQuerySet:
        """Participants whose identity (ParticipantContact) the user may see."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(
            Exists(
                Membership.objects.filter(
                    user=user,
                    trial=OuterRef("trial"),
                    site=OuterRef("site"),
                    role__in=IDENTITY_ROLES,
                )
            )
        )

    def at_site(self, trial_site: TrialSite) -> ParticipantQuerySet:
        return self.filter(trial_id=trial_site.trial_id, site_id=trial_site.site_id)


class ParticipantStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    SCREENING = "screening", "Screening"
    SCREEN_FAILED = "screen_failed", "Screen failed"
    ELIGIBLE = "eligible", "Eligible"
    CONSENTED = "consented", "Consented"
    RANDOMIZED = "randomized", "Randomized"
    IN_TREATMENT = "in_treatment", "In treatment"
    FOLLOW_UP = "follow_up", "Follow-up"
    COMPLETED = "completed", "Completed"
    WITHDRAWN = "withdrawn", "Withdrawn"
    LOST_TO_FOLLOW_UP = "lost_to_follow_up", "Lost to follow-up"


@pghistory.track()
class Participant(models.Model):
    Status = ParticipantStatus

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="participants")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="participants")
    number = models.PositiveIntegerField(editable=False)
    study_id = models.CharField(max_length=64, unique=True, editable=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CANDIDATE)
    status_changed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    # Set by the screening app when an investigator signs the verdict, cleared when the
    # verdict changes: consent and randomization read these, never the screening records.
    eligibility_signature = models.ForeignKey(
        "trials.Signature", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    eligibility_data = models.JSONField(
        default=dict, blank=True, help_text="The screening data the investigator signed."
    )

    updated_at = models.DateTimeField(
        auto_now=True, db_index=True, help_text="Set by the database on every write."
    )
    objects = ParticipantQuerySet.as_manager()

    class Meta:
        ordering = ["trial", "site", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "site", "number"],
                name="participant_number_unique",
                violation_error_message="This participant number is already taken at the site.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=ParticipantStatus.values),
                name="participant_status_valid",
                violation_error_message="Unknown participant status.",
            ),
        ]
        indexes = [models.Index(fields=["trial", "site", "status"], name="participant_scope_idx")]
        triggers = [protect_deletes(), touch_updated_at()]

    def __str__(self) -> str:
        return self.study_id


# The lifecycle, in one place. A status not listed as a key is final.
S = Participant.Status
PARTICIPANT_TRANSITIONS: dict[str, frozenset[str]] = {
    S.CANDIDATE: frozenset({S.SCREENING, S.WITHDRAWN}),
    S.SCREENING: frozenset({S.ELIGIBLE, S.SCREEN_FAILED, S.WITHDRAWN}),
    # Re-evaluation under a new protocol version, or new data, can reopen a verdict.
    S.ELIGIBLE: frozenset({S.SCREENING, S.SCREEN_FAILED, S.CONSENTED, S.WITHDRAWN}),
    # An investigator may override an ineligible verdict; a candidate may be re-screened.
    S.SCREEN_FAILED: frozenset({S.SCREENING, S.ELIGIBLE}),
    S.CONSENTED: frozenset({S.RANDOMIZED, S.WITHDRAWN}),
    S.RANDOMIZED: frozenset({S.IN_TREATMENT, S.WITHDRAWN}),
    S.IN_TREATMENT: frozenset({S.FOLLOW_UP, S.COMPLETED, S.WITHDRAWN, S.LOST_TO_FOLLOW_UP}),
    S.FOLLOW_UP: frozenset({S.COMPLETED, S.WITHDRAWN, S.LOST_TO_FOLLOW_UP}),
}
del S


class ParticipantContactQuerySet(models.QuerySet["ParticipantContact"]):
    def visible_to(self, user: AnyUser) -> ParticipantContactQuerySet:
        """Contacts of participants whose identity the user may see (never sponsors or monitors)."""
        return self.filter(
            participant__in=Participant.objects.with_identity_visible_to(user).values("pk")
        )


@pghistory.track()
class ParticipantContact(models.Model):
    """Everything that identifies a participant, kept apart from the clinical record."""

    participant = models.OneToOneField(
        Participant, on_delete=models.PROTECT, primary_key=True, related_name="contact"
    )
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    address = models.TextField(blank=True)
    may_contact = models.BooleanField(
        default=False, help_text="Agreed to be contacted by phone or e-mail about visits."
    )
    updated_at = models.DateTimeField(auto_now=True)

    objects = ParticipantContactQuerySet.as_manager()

    class Meta:
        triggers = [protect_deletes()]

    def __str__(self) -> str:
        return f"Contact of {self.participant_id}"


class SignatureMeaning(models.TextChoices):
    ELIGIBILITY_CONFIRMED = "eligibility_confirmed", "Eligibility confirmed"
    INELIGIBILITY_OVERRIDDEN = "ineligibility_overridden", "Ineligible verdict overridden"
    EMERGENCY_UNBLINDING = "emergency_unblinding", "Emergency unblinding"
    VITALS_OVERRIDE = "vitals_override", "Dosing permitted despite pre-dose vitals"
    DOSING_LOG_SIGNED = "dosing_log_signed", "Dosing session log signed"
    ADVERSE_EVENT_REVIEWED = "adverse_event_reviewed", "Adverse event reviewed"


class SignatureQuerySet(models.QuerySet["Signature"]):
    def visible_to(self, user: AnyUser) -> SignatureQuerySet:
        """Signatures on records of participants the user may see."""
        return self.filter(participant__in=Participant.objects.visible_to(user).values("pk"))


@pghistory.track()
class Signature(models.Model):
    """An electronic signature (21 CFR 11.50): who signed, when, and what the signature means.

    The signer re-entered their password to sign. The printed name is kept as it was when they
    signed, so a later change of account name does not rewrite what was signed.
    """

    Meaning = SignatureMeaning

    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="signatures"
    )
    signer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    printed_name = models.CharField(max_length=300)
    meaning = models.CharField(max_length=40, choices=Meaning.choices)
    statement = models.TextField(blank=True, help_text="The signer's justification, if any.")
    signed_at = models.DateTimeField()

    objects = SignatureQuerySet.as_manager()

    class Meta:
        ordering = ["signed_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(meaning__in=SignatureMeaning.values),
                name="signature_meaning_valid",
                violation_error_message="Unknown signature meaning.",
            ),
            models.CheckConstraint(
                condition=~Q(meaning=SignatureMeaning.INELIGIBILITY_OVERRIDDEN) | ~Q(statement=""),
                name="signature_override_justified",
                violation_error_message="An override needs a written justification.",
            ),
        ]
        triggers = [
            protect_deletes(),
            pgtrigger.Protect(name="signatures_are_final", operation=pgtrigger.Update),
        ]

    def __str__(self) -> str:
        when = f"{self.signed_at:%Y-%m-%d %H:%M} UTC"
        return f"{self.get_meaning_display()}: {self.printed_name}, {when}"
