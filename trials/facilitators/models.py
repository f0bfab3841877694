"""Facilitators (licensed therapists) and their credentials."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pghistory
from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q

from trials.study.models import Membership, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    AnyUser = User | AnonymousUser


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
