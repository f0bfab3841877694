"""Screening records: a candidate's screening data, every evaluation of it, the confirmation."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pghistory
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import connection, models
from django.db.models import Q

from screening import rules
from trials.participants.models import Participant, Signature
from trials.study.models import ProtocolVersion
from trials.triggers import protect_deletes, touch_updated_at

if TYPE_CHECKING:
    from trials.study.models import AnyUser, TrialSite


# While a participant is in one of these, their open screening may still change.
SCREENING_STATUSES = (
    Participant.Status.SCREENING,
    Participant.Status.ELIGIBLE,
    Participant.Status.SCREEN_FAILED,
)


class Verdict(models.TextChoices):
    ELIGIBLE = rules.ELIGIBLE, "Eligible"
    INELIGIBLE = rules.INELIGIBLE, "Ineligible"
    INCOMPLETE = rules.INCOMPLETE, "Incomplete"


def criterion_ids() -> ArrayField:
    return ArrayField(models.CharField(max_length=40), default=list, blank=True)


class ScreeningQuerySet(models.QuerySet["Screening"]):
    def visible_to(self, user: AnyUser) -> ScreeningQuerySet:
        """Screenings of participants the user may see."""
        return self.filter(participant__in=Participant.objects.visible_to(user).values("pk"))

    def at_site(self, trial_site: TrialSite) -> ScreeningQuerySet:
        return self.filter(
            participant__trial_id=trial_site.trial_id, participant__site_id=trial_site.site_id
        )

    def open(self) -> ScreeningQuerySet:
        return self.filter(closed_at__isnull=True, participant__status__in=SCREENING_STATUSES)

    def failure_counts(self) -> list[tuple[str, int]]:
        """(criterion id, number of these screenings failing it), most frequent first."""
        ids_sql, params = self.order_by().values("pk").query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT criterion, count(*) FROM screening_screening AS s,"
                " unnest(s.failed) AS criterion"
                f" WHERE s.id IN ({ids_sql}) GROUP BY criterion ORDER BY count(*) DESC, criterion",
                params,
            )
            return [(criterion, count) for criterion, count in cursor.fetchall()]

    def for_log(self) -> ScreeningQuerySet:
        """With what the screening log shows, in one query."""
        return self.select_related("participant", "protocol_version", "confirmation").order_by(
            "-started_at"
        )


@pghistory.track()
class Screening(models.Model):
    """One screening of a candidate: the data recorded so far and the current verdict.

    The verdict columns repeat the latest evaluation so lists can filter on them; every
    evaluation itself is kept in ScreeningEvaluation.
    """

    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="screenings"
    )
    protocol_version = models.ForeignKey(
        ProtocolVersion, on_delete=models.PROTECT, related_name="screenings"
    )
    data = models.JSONField(default=dict, blank=True)
    result = models.CharField(max_length=12, choices=Verdict.choices, default=Verdict.INCOMPLETE)
    failed = criterion_ids()
    missing = criterion_ids()
    missing_fields = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    confirmation = models.OneToOneField(
        Signature, on_delete=models.PROTECT, null=True, blank=True, related_name="screening"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(
        auto_now=True, db_index=True, help_text="Set by the database on every write."
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    objects = ScreeningQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant"],
                condition=Q(closed_at__isnull=True),
                name="screening_one_open_per_participant",
                violation_error_message="This participant already has an open screening.",
            ),
            models.CheckConstraint(
                condition=Q(result__in=Verdict.values),
                name="screening_result_valid",
                violation_error_message="Unknown verdict.",
            ),
        ]
        indexes = [models.Index(fields=["result"], name="screening_result_idx")]
        triggers = [protect_deletes(), touch_updated_at()]

    def __str__(self) -> str:
        return f"Screening of {self.participant.study_id}"

    @property
    def is_open(self) -> bool:
        """Data can still change: not closed, and the participant has not moved on to consent."""
        return self.closed_at is None and self.participant.status in SCREENING_STATUSES


class ScreeningEvaluationQuerySet(models.QuerySet["ScreeningEvaluation"]):
    def visible_to(self, user: AnyUser) -> ScreeningEvaluationQuerySet:
        return self.filter(screening__in=Screening.objects.visible_to(user).values("pk"))


@pghistory.track()
class ScreeningEvaluation(models.Model):
    """One verdict: the data as evaluated, under which protocol version, by whom, when."""

    screening = models.ForeignKey(Screening, on_delete=models.PROTECT, related_name="evaluations")
    participant = models.ForeignKey(Participant, on_delete=models.PROTECT, related_name="+")
    protocol_version = models.ForeignKey(
        ProtocolVersion, on_delete=models.PROTECT, related_name="+"
    )
    data = models.JSONField()
    result = models.CharField(max_length=12, choices=Verdict.choices)
    failed = criterion_ids()
    missing = criterion_ids()
    missing_fields = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    evaluated_at = models.DateTimeField()
    evaluated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    objects = ScreeningEvaluationQuerySet.as_manager()

    class Meta:
        ordering = ["-evaluated_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(result__in=Verdict.values),
                name="screening_evaluation_result_valid",
                violation_error_message="Unknown verdict.",
            )
        ]
        triggers = [protect_deletes()]

    def __str__(self) -> str:
        return f"{self.get_result_display()} under {self.protocol_version}"
