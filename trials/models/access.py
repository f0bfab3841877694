"""Who works where: sponsors, sites, roles and memberships, facilitators and credentials."""

from __future__ import annotations

import secrets
import zoneinfo
from typing import TYPE_CHECKING

import pghistory
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Exists, OuterRef, Q
from rest_framework_api_key.models import AbstractAPIKey

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    AnyUser = AbstractBaseUser | AnonymousUser

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


@pghistory.track(exclude=["hashed_key"])
class SponsorApiKey(AbstractAPIKey):
    """A sponsor's key to the read-only API: stored hashed, shown once, can expire or be revoked."""

    sponsor = models.ForeignKey(Sponsor, on_delete=models.PROTECT, related_name="api_keys")

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "sponsor API key"
        verbose_name_plural = "sponsor API keys"


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
        where = self.site.code if self.site_id else "all sites"
        return f"{self.user} – {self.get_role_display()} – {self.trial.code} ({where})"


# Roles that may read a facilitator's credentials at the sites where they facilitate.
CREDENTIAL_READERS = (Role.COORDINATOR, Role.INVESTIGATOR, Role.MONITOR)


class FacilitatorQuerySet(models.QuerySet["Facilitator"]):
    def visible_to(self, user: AnyUser) -> FacilitatorQuerySet:
        """The user's own record, and facilitators at the sites they coordinate or monitor."""
        if not user.is_authenticated:
            return self.none()
        reader = Membership.objects.filter(
            user=user, trial=OuterRef("trial"), role__in=CREDENTIAL_READERS
        ).filter(Q(site=OuterRef("site")) | Q(site__isnull=True, role=Role.MONITOR))
        facilitates = Membership.objects.filter(user=OuterRef("user"), role=Role.FACILITATOR)
        return self.filter(Q(user=user) | Exists(facilitates.filter(Exists(reader))))

    def at_site(self, *, trial_id: int, site_id: int) -> FacilitatorQuerySet:
        """Facilitators holding a facilitator membership at this trial site."""
        return self.filter(
            Exists(
                Membership.objects.filter(
                    user=OuterRef("user"),
                    trial_id=trial_id,
                    site_id=site_id,
                    role=Role.FACILITATOR,
                )
            )
        ).select_related("user")


# The calendar token is a secret: it stays out of the audit history.
@pghistory.track(exclude=["calendar_token"])
class Facilitator(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="facilitator"
    )
    # The secret in the facilitator's calendar feed URL; replacing it revokes the old URL.
    calendar_token = models.CharField(max_length=64, unique=True, null=True, blank=True)
    # Audited in the token's place: when the link was created or replaced.
    calendar_token_set_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = FacilitatorQuerySet.as_manager()

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


class AuditedUser(get_user_model()):  # type: ignore[misc]
    """The user model seen by the audit trail: the triggers live in this app's migrations."""

    class Meta:
        proxy = True


# Who edits accounts is audited too; password hashes and login times are not history.
pghistory.track(exclude=["password", "last_login"], model_name="UserEvent")(AuditedUser)
