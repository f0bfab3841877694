"""Assessments, suicide-risk screens and adverse events."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import pghistory
from django.conf import settings
from django.db import models
from django.db.models import Q

from trials.participants.models import Participant, Signature
from trials.sessions.models import DosingSession, Visit
from trials.triggers import protect_deletes, touch_updated_at

if TYPE_CHECKING:
    from trials.study.models import AnyUser


@pghistory.track()
class Assessment(models.Model):
    """One rating-scale total (MADRS, CAPS-5, ...) at a scheduled event."""

    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="assessments"
    )
    visit = models.ForeignKey(Visit, on_delete=models.PROTECT, related_name="assessments")
    instrument = models.CharField(max_length=40)
    score = models.DecimalField(max_digits=7, decimal_places=2)
    assessed_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    updated_at = models.DateTimeField(
        auto_now=True, db_index=True, help_text="Set by the database on every write."
    )

    class Meta:
        ordering = ["participant", "assessed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["visit", "instrument"],
                name="assessment_once_per_visit",
                violation_error_message="This instrument is already recorded at this visit.",
            )
        ]
        triggers = [protect_deletes(), touch_updated_at()]

    def __str__(self) -> str:
        return f"{self.instrument} {self.score} ({self.participant})"


@pghistory.track()
class SuicideRiskScreen(models.Model):
    """The C-SSRS screen: ideation questions 1-5 and behaviour (question 6)."""

    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="risk_screens"
    )
    visit = models.ForeignKey(
        Visit, on_delete=models.PROTECT, null=True, blank=True, related_name="risk_screens"
    )
    assessed_at = models.DateTimeField()
    wish_to_be_dead = models.BooleanField(
        help_text="1. Wished you were dead or could go to sleep and not wake up?"
    )
    suicidal_thoughts = models.BooleanField(
        help_text="2. Actually had any thoughts of killing yourself?"
    )
    thoughts_with_method = models.BooleanField(help_text="3. Thought about how you might do this?")
    intent = models.BooleanField(
        help_text="4. Had these thoughts and had some intention of acting on them?"
    )
    plan = models.BooleanField(
        help_text="5. Started to work out or worked out the details; intend to carry it out?"
    )
    recent_behaviour = models.BooleanField(
        help_text="6. Done, started or prepared to do anything to end your life (past 3 months)?"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    updated_at = models.DateTimeField(
        auto_now=True, db_index=True, help_text="Set by the database on every write."
    )

    class Meta:
        ordering = ["participant", "assessed_at"]
        triggers = [protect_deletes(), touch_updated_at()]

    def __str__(self) -> str:
        return f"C-SSRS {self.participant} {self.assessed_at:%Y-%m-%d}"

    @property
    def active_ideation(self) -> bool:
        """Active suicidal ideation: a yes to question 2 or any of 3-5, or recent behaviour."""
        return any(
            (
                self.suicidal_thoughts,
                self.thoughts_with_method,
                self.intent,
                self.plan,
                self.recent_behaviour,
            )
        )


class Severity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class Relatedness(models.TextChoices):
    NOT_RELATED = "not_related", "Not related"
    UNLIKELY = "unlikely", "Unlikely"
    POSSIBLE = "possible", "Possible"
    PROBABLE = "probable", "Probable"
    DEFINITE = "definite", "Definite"


class ActionTaken(models.TextChoices):
    NONE = "none", "None"
    SUPPLEMENT_WITHHELD = "supplement_withheld", "Supplemental dose withheld"
    DOSING_DISCONTINUED = "dosing_discontinued", "Further dosing discontinued"
    TREATMENT_GIVEN = "treatment_given", "Treatment given"
    HOSPITALIZED = "hospitalized", "Hospitalized"
    OTHER = "other", "Other"


class Outcome(models.TextChoices):
    RECOVERED = "recovered", "Recovered"
    RECOVERING = "recovering", "Recovering"
    NOT_RECOVERED = "not_recovered", "Not recovered"
    RECOVERED_WITH_SEQUELAE = "recovered_with_sequelae", "Recovered with sequelae"
    FATAL = "fatal", "Fatal"
    UNKNOWN = "unknown", "Unknown"


SERIOUSNESS_FIELDS = (
    "results_in_death",
    "life_threatening",
    "hospitalization",
    "disability",
    "congenital_anomaly",
    "other_important_event",
)


class AdverseEventQuerySet(models.QuerySet["AdverseEvent"]):
    def visible_to(self, user: AnyUser) -> AdverseEventQuerySet:
        return self.filter(participant__in=Participant.objects.visible_to(user).values("pk"))

    def serious(self) -> AdverseEventQuerySet:
        return self.filter(
            Q(results_in_death=True)
            | Q(life_threatening=True)
            | Q(hospitalization=True)
            | Q(disability=True)
            | Q(congenital_anomaly=True)
            | Q(other_important_event=True)
        )

    def unsigned(self) -> AdverseEventQuerySet:
        return self.filter(review_signature__isnull=True)


@pghistory.track()
class AdverseEvent(models.Model):
    """An adverse event, reviewed and signed by an investigator; serious ones reported fast."""

    Severity = Severity
    Relatedness = Relatedness
    ActionTaken = ActionTaken
    Outcome = Outcome

    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="adverse_events"
    )
    dosing_session = models.ForeignKey(
        DosingSession,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="adverse_events",
    )
    term = models.CharField(max_length=200, help_text="What happened, in medical terms.")
    onset_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    results_in_death = models.BooleanField(default=False)
    life_threatening = models.BooleanField(default=False)
    hospitalization = models.BooleanField(
        default=False, help_text="Requires or prolongs hospitalization."
    )
    disability = models.BooleanField(
        default=False, help_text="Persistent or significant disability."
    )
    congenital_anomaly = models.BooleanField(default=False)
    other_important_event = models.BooleanField(
        default=False, help_text="Other important medical event."
    )
    relatedness = models.CharField(max_length=12, choices=Relatedness.choices)
    action_taken = models.CharField(max_length=20, choices=ActionTaken.choices)
    outcome = models.CharField(max_length=24, choices=Outcome.choices)
    description = models.TextField(blank=True)
    reported_at = models.DateTimeField(auto_now_add=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    review_signature = models.OneToOneField(
        Signature, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    updated_at = models.DateTimeField(
        auto_now=True, db_index=True, help_text="Set by the database on every write."
    )
    objects = AdverseEventQuerySet.as_manager()

    class Meta:
        ordering = ["participant", "onset_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("onset_at")),
                name="adverse_event_ends_after_onset",
                violation_error_message="An event ends after it starts.",
            ),
            models.CheckConstraint(
                condition=~Q(outcome=Outcome.FATAL) | Q(results_in_death=True),
                name="adverse_event_fatal_is_serious",
                violation_error_message="A fatal outcome means the event resulted in death.",
            ),
        ]
        indexes = [models.Index(fields=["participant", "onset_at"], name="adverse_event_idx")]
        triggers = [protect_deletes(), touch_updated_at()]

    def __str__(self) -> str:
        return f"{self.term} ({self.participant})"

    @property
    def is_serious(self) -> bool:
        return any(getattr(self, name) for name in SERIOUSNESS_FIELDS)

    def seriousness_criteria(self) -> list[str]:
        """The seriousness criteria this event meets, by their labels."""
        return [
            str(cast("models.Field[Any, Any]", self._meta.get_field(name)).verbose_name)
            for name in SERIOUSNESS_FIELDS
            if getattr(self, name)
        ]
