"""Celery tasks for reminders and alerts: thin adapters over the services, each safe to run twice
or at once."""

from __future__ import annotations

from celery import shared_task

from trials.notifications import services as notifications
from trials.queue import IDEMPOTENT
from trials.sessions.services import visits_schedule_pending


@shared_task(**IDEMPOTENT)
def deliver_notifications(pks: list[int]) -> int:
    """The fast path for alerts: send these rows now (the sweep would, a minute later)."""
    return notifications.notifications_deliver(pks)


@shared_task(**IDEMPOTENT)
def send_due_notifications() -> int:
    return notifications.notifications_send_due()


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
