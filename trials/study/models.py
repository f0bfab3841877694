"""Trials, protocol versions, arms, sites, trial-sites, sponsors, memberships and roles."""

from __future__ import annotations

import secrets
import zoneinfo
from typing import TYPE_CHECKING, cast

import pghistory
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q

from trials.triggers import protect_deletes

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    from trials.sponsor_api.authentication import SponsorClient

    AnyUser = User | AnonymousUser


SITE_CODE_PATTERN = r"^[A-Z0-9]+$"
TIME_ZONE_CHOICES = [(name, name) for name in sorted(zoneinfo.available_timezones())]


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
# The site staff who run a participant's path through the study: register, screen, consent,
# randomize, book visits, withdraw.
SITE_TEAM = (Role.COORDINATOR, Role.INVESTIGATOR)
# The site staff who care for participants at visits: log sessions, record safety data.
CARE_TEAM = (Role.COORDINATOR, Role.FACILITATOR, Role.INVESTIGATOR)


class ExportProfile(models.TextChoices):
    SAFE_HARBOR = "safe_harbor", "Safe Harbor: every date reduced to its year"
    LIMITED = "limited", "Limited data set: dates kept (under a data use agreement)"


def new_pseudonym_secret() -> str:
    return secrets.token_hex(32)


@pghistory.track(exclude=["pseudonym_secret"])
class Sponsor(models.Model):
    ExportProfile = ExportProfile

    name = models.CharField(max_length=200, unique=True)
    safety_contact_email = models.EmailField(blank=True)
    export_profile = models.CharField(
        max_length=12,
        choices=ExportProfile.choices,
        default=ExportProfile.SAFE_HARBOR,
        help_text="How much of each date the sponsor's exports carry.",
    )
    pseudonym_secret = models.CharField(
        max_length=64,
        default=new_pseudonym_secret,
        editable=False,
        help_text="Keys the sponsor's participant pseudonyms; never shown or exported.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(export_profile__in=ExportProfile.values),
                name="sponsor_export_profile_valid",
                violation_error_message="Unknown export profile.",
            )
        ]

    def __str__(self) -> str:
        return self.name


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


@pghistory.track()
class Membership(models.Model):
    """What one user may do in one trial, at one site (or trial-wide for monitors and sponsors)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    trial = models.ForeignKey("trials.Trial", on_delete=models.PROTECT, related_name="memberships")
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
        where = cast(Site, self.site).code if self.site_id else "all sites"
        return f"{self.user} – {self.get_role_display()} – {self.trial.code} ({where})"


class AuditedUser(get_user_model()):  # type: ignore[misc]  # a base class from a call
    """The user model seen by the audit trail: the triggers live in this app's migrations."""

    class Meta:
        proxy = True


# Who edits accounts is audited too; password hashes and login times are not history.
pghistory.track(exclude=["password", "last_login"], model_name="UserEvent")(AuditedUser)


TRIAL_CODE_PATTERN = r"^[A-Z0-9-]+$"


class TrialQuerySet(models.QuerySet["Trial"]):
    def visible_to(self, user: AnyUser) -> TrialQuerySet:
        """Trials in which the user holds any membership; for a sponsor API key, its sponsor's."""
        if not user.is_authenticated:
            return self.none()
        if getattr(user, "is_sponsor_key", False):
            return self.filter(sponsor_id=cast("SponsorClient", user).sponsor_id)
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
    open_label = models.BooleanField(
        default=False, help_text="No randomization section in the protocol: arms are not masked."
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
