"""Dating the visits anchored on a dose, after it commits."""

from __future__ import annotations

from celery import shared_task

from trials.queue import IDEMPOTENT
from trials.sessions.services import visits_schedule_after_dosing_id


@shared_task(**IDEMPOTENT)
def schedule_after_dosing(visit_pk: int) -> int:
    """Date the visits anchored on a dosing visit whose dose was just given."""
    return visits_schedule_after_dosing_id(visit_pk)
