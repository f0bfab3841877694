"""Recording assessments, risk screens and adverse events, and their review."""

from __future__ import annotations

import datetime
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from trials.audit import audit_context, require_reason
from trials.notifications.models import NotificationKind
from trials.notifications.services import safety_alert
from trials.participants.models import Participant, Signature
from trials.participants.services import signature_sign
from trials.safety.models import SERIOUSNESS_FIELDS, AdverseEvent, Assessment, SuicideRiskScreen
from trials.sessions.models import DosingSession, Visit
from trials.study.models import CARE_TEAM, Role
from trials.study.permissions import require_role

if TYPE_CHECKING:
    from django.contrib.auth.models import User


logger = logging.getLogger(__name__)
Kind = NotificationKind
# Who records safety data; only investigators review adverse events.
RECORDERS = CARE_TEAM

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
    score: Decimal | int,
    assessed_at: datetime.datetime,
    by: User,
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
        require_role(by, visit.participant, roles=RECORDERS)
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
    by: User,
) -> SuicideRiskScreen:
    """Record a C-SSRS screen; active suicidal ideation alerts the site's investigators at once."""
    with transaction.atomic(), audit_context(by=by, reason="C-SSRS screen recorded"):
        require_role(by, participant, roles=RECORDERS)
        screen = SuicideRiskScreen(
            participant=participant, visit=visit, assessed_at=assessed_at, recorded_by=by, **answers
        )
        screen.full_clean()
        screen.save()
        if screen.active_ideation:
            safety_alert(kind=Kind.ACTIVE_IDEATION, participant=participant, risk_screen=screen)
    return screen


def _check_session(participant: Participant, session: DosingSession | None) -> None:
    if session is not None and session.participant_id != participant.pk:
        raise ValidationError({"dosing_session": "That session is another participant's."})


def adverse_event_report(
    *, participant: Participant, values: dict[str, Any], by: User
) -> AdverseEvent:
    """Report an adverse event; a serious one is flagged for expedited reporting."""
    _check_session(participant, values.get("dosing_session"))
    with transaction.atomic(), audit_context(by=by, reason="Adverse event reported"):
        require_role(by, participant, roles=RECORDERS)
        event = AdverseEvent(participant=participant, reported_by=by, **_ae_values(values))
        event.full_clean()
        event.save()
        _alert_if_serious(event)
    return event


def _alert_if_serious(event: AdverseEvent) -> None:
    """A serious event alerts the investigators and the sponsor, once, when it becomes serious."""
    if event.is_serious:
        safety_alert(
            kind=Kind.SERIOUS_ADVERSE_EVENT, participant=event.participant, adverse_event=event
        )


def _ae_values(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(AE_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown adverse event field." for name in sorted(unknown)})
    for name in ("onset_at", "ended_at"):
        if values.get(name) is not None and values[name] > timezone.now():
            raise ValidationError({name: "This time is in the future."})
    return values


def adverse_event_update(
    *, event: AdverseEvent, values: dict[str, Any], reason: str, by: User
) -> AdverseEvent:
    """Correct or follow up an adverse event: reason required; an investigator signs again."""
    reason = require_reason(reason)
    with transaction.atomic(), audit_context(by=by, reason=reason):
        event = AdverseEvent.objects.select_for_update().get(pk=event.pk)
        require_role(by, event.participant, roles=RECORDERS)
        _check_session(event.participant, values.get("dosing_session", event.dosing_session))
        for name, value in _ae_values(values).items():
            setattr(event, name, value)
        event.review_signature = None  # the review covered the record as it was
        event.full_clean()
        event.save()
        _alert_if_serious(event)
    return event


def adverse_event_review(*, event: AdverseEvent, investigator: User, password: str) -> Signature:
    """The site's investigator reviews and signs the adverse event as recorded."""
    with transaction.atomic():
        event = (
            AdverseEvent.objects.select_for_update().select_related("participant").get(pk=event.pk)
        )
        participant = event.participant
        require_role(investigator, participant, roles=(Role.INVESTIGATOR,))
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
