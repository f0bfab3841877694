"""Trials, sites, people and participants: the registry's domain core."""

from __future__ import annotations

import zoneinfo
from typing import TYPE_CHECKING

import pghistory
import pgtrigger
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from rest_framework_api_key.models import AbstractAPIKey

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser

TRIAL_CODE_PATTERN = r"^[A-Z0-9-]+$"
SITE_CODE_PATTERN = r"^[A-Z0-9]+$"
TIME_ZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]


def protect_deletes() -> pgtrigger.Protect:
    """A database trigger refusing DELETE: clinical records are never lost."""
    return pgtrigger.Protect(name="protect_deletes", operation=pgtrigger.Delete)


class Role(models.TextChoices):
    COORDINATOR = "coordinator", "Coordinator"
    FACILITATOR = "facilitator", "Facilitator"
    INVESTIGATOR = "investigator", "Investigator"
    MONITOR = "monitor", "Monitor"
    SPONSOR = "sponsor", "Sponsor"


# Roles that work with participants' clinical records (site-scoped, or trial-wide for monitors).
CLINICAL_ROLES = (Role.COORDINATOR, Role.FACILITATOR, Role.INVESTIGATOR, Role.MONITOR)
# Roles that may see who a participant is (name, contact details): the site's care team only.
IDENTITY_ROLES = (Role.COORDINATOR, Role.FACILITATOR, Role.INVESTIGATOR)
# Roles that work across every site of a trial.
TRIAL_WIDE_ROLES = (Role.MONITOR, Role.SPONSOR)


@pghistory.track()
class Sponsor(models.Model):
    name = models.CharField(max_length=200, unique=True)
    safety_contact_email = models.EmailField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


@pghistory.track(exclude=["hashed_key"])
class SponsorApiKey(AbstractAPIKey):
    """A sponsor's key to the read-only API: stored hashed, shown once, can expire or be revoked."""

    sponsor = models.ForeignKey(Sponsor, on_delete=models.PROTECT, related_name="api_keys")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "sponsor API key"
        verbose_name_plural = "sponsor API keys"


class TrialQuerySet(models.QuerySet["Trial"]):
    def visible_to(self, user: AnyUser) -> TrialQuerySet:
        """Trials in which the user holds any membership; for a sponsor API key, its sponsor's."""
        if not user.is_authenticated:
            return self.none()
        if getattr(user, "is_sponsor_key", False):
            return self.filter(sponsor_id=user.sponsor_id)
        return self.filter(Exists(Membership.objects.filter(user=user, trial=OuterRef("pk"))))


@pghistory.track()
class Trial(models.Model):
    code = models.CharField(
        max_length=40,
        unique=True,
        validators=[RegexValidator(TRIAL_CODE_PATTERN, "Use capital letters, digits and '-'.")],
    )
    title = models.CharField(max_length=300)
    sponsor = models.ForeignKey(Sponsor, on_delete=models.PROTECT, related_name="trials")
    indication = models.CharField(max_length=200)
    compound = models.CharField(max_length=100)
    phase = models.CharField(max_length=20)
    target_enrollment = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    facilitators_per_dosing_session = models.PositiveSmallIntegerField(
        default=2, validators=[MinValueValidator(1)]
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = TrialQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=TRIAL_CODE_PATTERN),
                name="trial_code_format",
                violation_error_message="A trial code uses capital letters, digits and '-'.",
            ),
            models.CheckConstraint(
                condition=Q(target_enrollment__gte=1),
                name="trial_target_enrollment_positive",
                violation_error_message="The target enrollment must be at least 1.",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class ProtocolVersionQuerySet(models.QuerySet["ProtocolVersion"]):
    def current_for(self, trial: Trial) -> ProtocolVersion | None:
        """The trial's newest protocol version, the one new screenings are evaluated under."""
        return self.filter(trial=trial).order_by("-number").first()


@pghistory.track()
class ProtocolVersion(models.Model):
    """One loaded protocol file: normalized content, the original text, who loaded it."""

    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="protocol_versions")
    number = models.PositiveIntegerField()
    content = models.JSONField()
    content_hash = models.CharField(max_length=64)
    source = models.TextField(help_text="The protocol file exactly as loaded.")
    source_name = models.CharField(max_length=255, blank=True)
    loaded_at = models.DateTimeField(auto_now_add=True)
    loaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = ProtocolVersionQuerySet.as_manager()

    class Meta:
        ordering = ["trial", "-number"]
        get_latest_by = "number"
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "number"],
                name="protocol_version_number_unique",
                violation_error_message="This trial already has a version with that number.",
            ),
            models.UniqueConstraint(
                fields=["trial", "content_hash"],
                name="protocol_version_content_unique",
                violation_error_message="This protocol content is already loaded for the trial.",
            ),
            models.CheckConstraint(
                condition=Q(number__gte=1),
                name="protocol_version_number_positive",
                violation_error_message="Version numbers start at 1.",
            ),
        ]
        triggers = [protect_deletes()]

    def __str__(self) -> str:
        return f"{self.trial.code} v{self.number}"

    def summary(self, *, created: bool = True) -> str:
        """One line: what was loaded, or that loading it again changed nothing."""
        if not created:
            return f"{self.trial.code}: identical to version {self.number}, nothing changed"
        content = self.content
        return (
            f"{self.trial.code} version {self.number} loaded: {len(content['arms'])} arms, "
            f"{len(content['screening']['fields'])} screening fields, "
            f"{len(content['screening']['criteria'])} criteria, "
            f"{len(content['schedule'])} schedule events (sha256 {self.content_hash[:12]})"
        )


@pghistory.track()
class Arm(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="arms")
    code = models.CharField(max_length=40)
    label = models.CharField(max_length=200)
    dose_mg = models.JSONField(help_text="Doses in mg: a first dose and an optional supplement.")

    class Meta:
        ordering = ["trial", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "code"],
                name="arm_code_unique_in_trial",
                violation_error_message="Arm codes are unique within a trial.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.trial.code} {self.code}"


@pghistory.track()
class Site(models.Model):
    code = models.CharField(
        max_length=12,
        unique=True,
        validators=[RegexValidator(SITE_CODE_PATTERN, "Use capital letters and digits.")],
        help_text="Short code used in study IDs, for example 'LON'.",
    )
    name = models.CharField(max_length=200)
    time_zone = models.CharField(max_length=64, choices=TIME_ZONE_CHOICES)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=SITE_CODE_PATTERN),
                name="site_code_format",
                violation_error_message="A site code uses capital letters and digits.",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code} – {self.name}"


class TrialSiteQuerySet(models.QuerySet["TrialSite"]):
    def visible_to(self, user: AnyUser) -> TrialSiteQuerySet:
        """Trial sites whose participants the user may see: same scope as Participant.visible_to."""
        if not user.is_authenticated:
            return self.none()
        memberships = Membership.objects.filter(
            user=user, trial=OuterRef("trial"), role__in=CLINICAL_ROLES
        )
        return self.filter(
            Exists(memberships.filter(site=OuterRef("site")))
            | Exists(memberships.filter(site__isnull=True, role=Role.MONITOR))
        )


@pghistory.track()
class TrialSite(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="trial_sites")
    site = models.ForeignKey(Site, on_delete=models.PROTECT, related_name="trial_sites")
    is_active = models.BooleanField(default=False)
    activated_on = models.DateField(null=True, blank=True)
    enrollment_cap = models.PositiveIntegerField(
        null=True, blank=True, help_text="Most participants this site may randomize; empty: no cap."
    )
    # Study ID numbers come from this counter, read under a row lock, and it never goes back:
    # a number once given is never given again, even if the candidate goes no further.
    next_participant_number = models.PositiveIntegerField(default=1, editable=False)

    objects = TrialSiteQuerySet.as_manager()

    class Meta:
        ordering = ["trial", "site"]
        constraints = [
            models.UniqueConstraint(
                fields=["trial", "site"],
                name="trial_site_unique",
                violation_error_message="This site already takes part in the trial.",
            ),
            models.CheckConstraint(
                condition=Q(is_active=False) | Q(activated_on__isnull=False),
                name="trial_site_active_has_date",
                violation_error_message="An active site needs an activation date.",
            ),
            models.CheckConstraint(
                condition=Q(next_participant_number__gte=1),
                name="trial_site_counter_positive",
                violation_error_message="Participant numbers start at 1.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.trial.code} at {self.site.code}"


@pghistory.track()
class Membership(models.Model):
    """What one user may do in one trial, at one site (or trial-wide for monitors and sponsors)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    trial = models.ForeignKey(Trial, on_delete=models.PROTECT, related_name="memberships")
    site = models.ForeignKey(
        Site, on_delete=models.PROTECT, null=True, blank=True, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["trial", "site", "role"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "trial", "site", "role"],
                nulls_distinct=False,
                name="membership_unique",
                violation_error_message="This user already has this role here.",
            ),
            models.CheckConstraint(
                condition=Q(role__in=[role.value for role in Role]),
                name="membership_role_valid",
                violation_error_message="Unknown role.",
            ),
            models.CheckConstraint(
                condition=Q(site__isnull=False) | Q(role__in=[r.value for r in TRIAL_WIDE_ROLES]),
                name="membership_site_role_has_site",
                violation_error_message="Coordinators, facilitators and investigators need a site.",
            ),
            models.CheckConstraint(
                condition=~Q(role=Role.SPONSOR) | Q(site__isnull=True),
                name="membership_sponsor_trial_wide",
                violation_error_message="A sponsor membership covers the whole trial, not a site.",
            ),
        ]

    def __str__(self) -> str:
        where = self.site.code if self.site_id else "all sites"
        return f"{self.user} – {self.get_role_display()} – {self.trial.code} ({where})"


@pghistory.track()
class Facilitator(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="facilitator"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["user__last_name", "user__first_name"]

    def __str__(self) -> str:
        return self.user.get_full_name() or self.user.get_username()


@pghistory.track()
class Credential(models.Model):
    class Kind(models.TextChoices):
        LICENCE = "licence", "Professional licence"
        TRAINING = "training", "Training record"

    facilitator = models.ForeignKey(
        Facilitator, on_delete=models.PROTECT, related_name="credentials"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    licence_type = models.CharField(max_length=100, blank=True, help_text="For example 'LCSW'.")
    licence_number = models.CharField(max_length=60, blank=True)
    jurisdiction = models.CharField(max_length=100, blank=True)
    programme = models.CharField(max_length=200, blank=True)
    hours = models.PositiveIntegerField(null=True, blank=True)
    completed_on = models.DateField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["facilitator", "kind", "-expires_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["licence", "training"]),
                name="credential_kind_valid",
                violation_error_message="Unknown credential kind.",
            ),
            models.CheckConstraint(
                condition=~Q(kind="licence")
                | (
                    ~Q(licence_type="")
                    & ~Q(licence_number="")
                    & ~Q(jurisdiction="")
                    & Q(expires_on__isnull=False)
                ),
                name="credential_licence_complete",
                violation_error_message=(
                    "A licence needs its type, number, jurisdiction and expiry date."
                ),
            ),
            models.CheckConstraint(
                condition=~Q(kind="training")
                | (~Q(programme="") & Q(hours__isnull=False) & Q(completed_on__isnull=False)),
                name="credential_training_complete",
                violation_error_message=(
                    "A training record needs its programme, hours and completion date."
                ),
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.LICENCE:
            return f"{self.licence_type} {self.licence_number} ({self.jurisdiction})"
        return f"{self.programme} ({self.hours} h)"


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
        triggers = [protect_deletes()]

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


class AuditedUser(get_user_model()):  # type: ignore[misc]
    """The user model seen by the audit trail: the triggers live in this app's migrations."""

    class Meta:
        proxy = True


# Who edits accounts is audited too; password hashes and login times are not history.
pghistory.track(exclude=["password", "last_login"], model_name="UserEvent")(AuditedUser)
