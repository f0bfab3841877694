"""Reads for pages that show a visit's reminders with their delivery attempts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trials.notifications.models import Notification
from trials.sessions.models import Visit
from trials.study.models import IDENTITY_ROLES
from trials.study.permissions import roles_at

if TYPE_CHECKING:
    from trials.study.models import AnyUser


def notifications_context(user: AnyUser, visit: Visit) -> dict:
    """The visit's reminders and alerts with their deliveries, for `trials/_notifications.html`."""
    participant = visit.participant
    roles = roles_at(user, trial_id=participant.trial_id, site_id=participant.site_id)
    return {
        "notifications": list(Notification.objects.of_visit(visit)),
        "show_identity": bool(roles & set(IDENTITY_ROLES)),
    }
