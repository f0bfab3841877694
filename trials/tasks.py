"""Celery tasks: thin adapters over the services, each safe to run twice or at once.

Tasks that acknowledge late (`acks_late`, `reject_on_worker_lost`) are redelivered when a
worker dies mid-run; they may be, because running one again does no work twice.
"""

from __future__ import annotations

from celery import shared_task

from trials.services import notifications
from trials.services.schedule import visits_schedule_after_dosing_id, visits_schedule_pending

IDEMPOTENT = {"acks_late": True, "reject_on_worker_lost": True}


@shared_task(**IDEMPOTENT)
def deliver_notifications(pks: list[int]) -> int:
    """The fast path for alerts: send these rows now (the sweep would, a minute later)."""
    return notifications.notifications_deliver(pks)


@shared_task(**IDEMPOTENT)
def send_due_notifications() -> int:
    return notifications.notifications_send_due()


@shared_task(**IDEMPOTENT)
def schedule_after_dosing(visit_pk: int) -> int:
    """Date the visits anchored on a dosing visit whose dose was just given."""
    return visits_schedule_after_dosing_id(visit_pk)


@shared_task(**IDEMPOTENT)
def reconcile() -> dict[str, int]:
    """Whatever a lost message left undone: anchored visits, then reminders for bookings."""
    return {
        "visits_scheduled": visits_schedule_pending(),
        "reminders_planned": notifications.reminders_plan_upcoming(),
    }


@shared_task(**IDEMPOTENT)
def mark_missed_visits() -> int:
    return notifications.visits_mark_missed()


@shared_task(**IDEMPOTENT)
def alert_expiring_credentials() -> int:
    return notifications.credential_expiry_alerts()


@shared_task(**IDEMPOTENT)
def plan_daily_digests() -> int:
    return notifications.digests_plan()


import trials.api.jobs  # noqa: F401,E402  (export job tasks, registered with the worker)
