"""Writes about facilitators: their private calendar link."""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from trials.audit import audit_context
from trials.facilitators.models import Facilitator

if TYPE_CHECKING:
    from django.contrib.auth.models import User


CALENDAR_TOKEN_BYTES = 32


def facilitator_calendar_reset(*, facilitator: Facilitator, by: User) -> str:
    """Give the facilitator a new secret calendar feed token; the old feed URL stops working.

    The link is the facilitator's own, not a trial's: only they replace it, whatever their roles.
    """
    reason = "Calendar link replaced" if facilitator.calendar_token else "Calendar link created"
    token = secrets.token_urlsafe(CALENDAR_TOKEN_BYTES)
    with transaction.atomic(), audit_context(by=by, reason=reason):
        if facilitator.user_id != by.pk:
            raise PermissionDenied("Only the facilitator replaces their own calendar link.")
        facilitator.calendar_token, facilitator.calendar_token_set_at = token, timezone.now()
        facilitator.full_clean()
        facilitator.save(update_fields=["calendar_token", "calendar_token_set_at"])
    return token
