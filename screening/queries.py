"""Reads of screening records for trials' dashboard, registered from screening/apps.py."""

from __future__ import annotations

from django.db.models import Count, Exists, F, Func, OuterRef, Q, QuerySet

from screening.models import Screening
from trials.participants.models import Participant


def screened() -> Q:
    """Participants with a screening, open or closed: the CONSORT flow's first step."""
    return Q(Exists(Screening.objects.filter(participant=OuterRef("pk"))))


def failed_criteria(failed: QuerySet[Participant], limit: int) -> list[tuple[str, int]]:
    """The criteria most often failed in these participants' open screenings, with how many
    participants fail each, most first: one query."""
    rows = (
        failed.filter(screenings__closed_at__isnull=True)
        .annotate(criterion=Func(F("screenings__failed"), function="unnest"))
        .order_by()
        .values("criterion")
        .annotate(count=Count("pk", distinct=True))
        .order_by("-count", "criterion")[:limit]
    )
    return [(row["criterion"], row["count"]) for row in rows]
