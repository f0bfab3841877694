"""Reads about enrollment: whether a participant must consent again."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trials.enrollment.models import (
    Consent,
    ConsentFormVersion,
)
from trials.participants.models import Participant
from trials.study.sitetime import today_at

if TYPE_CHECKING:
    pass


def reconsent_pending(participant: Participant) -> bool:
    """A form version took effect that this participant in the study has not consented to."""
    form = ConsentFormVersion.objects.current_for(
        participant.trial, on=today_at(participant.site.time_zone)
    )
    return (
        form is None
        or not Consent.objects.filter(participant=participant, form_version=form).exists()
    )
