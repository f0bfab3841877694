"""Safety data: assessments, suicide-risk screens with their alert, adverse events and review."""

from __future__ import annotations

import datetime
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from trials.audit import audit_context, require_reason
from trials.models import (
    SERIOUSNESS_FIELDS,
    AdverseEvent,
    Assessment,
    DosingSession,
    Participant,
    Role,
    Signature,
    SuicideRiskScreen,
    Visit,
)
from trials.permissions import ensure_site_role
from trials.services.participants import signature_sign

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

AE_FIELDS = (
    "term",
    "onset_at",
    "ended_at",
    "severity",
    *SERIOUSNESS_FIELDS,
    "relatedness",
    "action_taken",
    "outcome",
    "description",
    "dosing_session",
)


def assessment_record(
    *,
    visit: Visit,
    instrument: str,
    score: Decimal,
    assessed_at: datetime.datetime,
    by: AbstractBaseUser,
) -> Assessment:
    """Record a rating-scale total at a visit whose protocol event lists the instrument."""
    content = visit.protocol_version.content
    event = next(e for e in content["schedule"] if e["code"] == visit.event_code)
    if instrument not in event["instruments"]:
        listed = ", ".join(event["instruments"]) or "none"
        raise ValidationError(
            {"instrument": f"{instrument} is not collected at {visit.label} (listed: {listed})."}
        )
    spec = next(i for i in content["instruments"] if i["code"] == instrument)
    if isinstance(score, bool) or not isinstance(score, int | Decimal):
        raise ValidationError({"score": f"A {instrument} total is a number."})
    if not spec["min"] <= score <= spec["max"]:
        raise ValidationError(
            {"score": f"A {instrument} total is between {spec['min']} and {spec['max']}."}
        )
    if visit.status not in (Visit.Status.SCHEDULED, Visit.Status.BOOKED, Visit.Status.COMPLETED):
        raise ValidationError(f"This visit is {visit.get_status_display().lower()}.")
    with transaction.atomic(), audit_context(by=by, reason=f"{instrument} recorded"):
        assessment = Assessment(
            participant=visit.participant,
            visit=visit,
            instrument=instrument,
            score=score,
            assessed_at=assessed_at,
            recorded_by=by,
        )
        assessment.full_clean()
        assessment.save()
    return assessment


def risk_screen_record(
    *,
    participant: Participant,
    visit: Visit | None,
    answers: dict[str, bool],
    assessed_at: datetime.datetime,
    by: AbstractBaseUser,
) -> SuicideRiskScreen:
    """Record a C-SSRS screen; active suicidal ideation alerts the site's investigators at once."""
    with transaction.atomic(), audit_context(by=by, reason="C-SSRS screen recorded"):
        screen = SuicideRiskScreen(
            participant=participant, visit=visit, assessed_at=assessed_at, recorded_by=by, **answers
        )
        screen.full_clean()
        screen.save()
        if screen.active_ideation:
            transaction.on_commit(lambda: _alert_investigators(screen))
    return screen


def site_investigator_emails(participant: Participant) -> list[str]:
    """E-mail addresses of the investigators at the participant's site."""
    return list(
        get_user_model()
        .objects.filter(
            memberships__trial_id=participant.trial_id,
            memberships__site_id=participant.site_id,
            memberships__role=Role.INVESTIGATOR,
            is_active=True,
        )
        .exclude(email="")
        .values_list("email", flat=True)
        .distinct()
    )


def _alert_investigators(screen: SuicideRiskScreen) -> None:
    participant = screen.participant
    recipients = site_investigator_emails(participant)
    if not recipients:
        logger.error(
            "No investigator e-mail at %s to alert about %s's C-SSRS screen",
            participant.site.code,
            participant.study_id,
        )
        return
    send_mail(
        subject=f"[Dyad] URGENT: active suicidal ideation reported for {participant.study_id}",
        message=(
            f"A C-SSRS screen recorded at {screen.assessed_at:%Y-%m-%d %H:%M} UTC for "
            f"{participant.study_id} ({participant.trial.code}, site {participant.site.code}) "
            "indicates active suicidal ideation. Assess the participant now.\n"
        ),
        from_email=None,
        recipient_list=recipients,
    )


def _check_session(participant: Participant, session: DosingSession | None) -> None:
    if session is not None and session.participant_id != participant.pk:
        raise ValidationError({"dosing_session": "That session is another participant's."})


def adverse_event_report(
    *, participant: Participant, values: dict[str, Any], by: AbstractBaseUser
) -> AdverseEvent:
    """Report an adverse event; a serious one is flagged for expedited reporting."""
    _check_session(participant, values.get("dosing_session"))
    with transaction.atomic(), audit_context(by=by, reason="Adverse event reported"):
        event = AdverseEvent(participant=participant, reported_by=by, **_ae_values(values))
        event.full_clean()
        event.save()
    return event


def _ae_values(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(AE_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown adverse event field." for name in sorted(unknown)})
    for name in ("onset_at", "ended_at"):
        if values.get(name) is not None and values[name] > timezone.now():
            raise ValidationError({name: "This time is in the future."})
    return values


def adverse_event_update(
    *, event: AdverseEvent, values: dict[str, Any], reason: str, by: AbstractBaseUser
) -> AdverseEvent:
    """Correct or follow up an adverse event: reason required; an investigator signs again."""
    reason = require_reason(reason)
    with transaction.atomic(), audit_context(by=by, reason=reason):
        event = AdverseEvent.objects.select_for_update().get(pk=event.pk)
        _check_session(event.participant, values.get("dosing_session", event.dosing_session))
        for name, value in _ae_values(values).items():
            setattr(event, name, value)
        event.review_signature = None  # the review covered the record as it was
        event.full_clean()
        event.save()
    return event


def adverse_event_review(
    *, event: AdverseEvent, investigator: AbstractBaseUser, password: str
) -> Signature:
    """The site's investigator reviews and signs the adverse event as recorded."""
    with transaction.atomic():
        event = (
            AdverseEvent.objects.select_for_update().select_related("participant").get(pk=event.pk)
        )
        participant = event.participant
        ensure_site_role(
            investigator,
            participant,
            (Role.INVESTIGATOR,),
            "Only an investigator at this site reviews adverse events.",
        )
        if event.review_signature_id is not None:
            raise ValidationError("This adverse event is already signed.")
        with audit_context(by=investigator, reason="Adverse event reviewed"):
            signature = signature_sign(
                participant=participant,
                signer=investigator,
                password=password,
                meaning=Signature.Meaning.ADVERSE_EVENT_REVIEWED,
            )
            event.review_signature = signature
            event.save(update_fields=["review_signature"])
    return signature
