"""Writes with rules for screening: start, record data, re-evaluate, confirm. Each audited."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from screening import rules
from screening.eligibility import evaluator_for
from screening.models import Screening, ScreeningEvaluation, Verdict
from trials.audit import audit_context, require_reason
from trials.participants.models import Participant, Signature
from trials.participants.services import (
    participant_change_status,
    participant_record_eligibility,
    signature_sign,
)
from trials.study.models import SITE_TEAM, ProtocolVersion, Role, TrialSite
from trials.study.permissions import require_role

if TYPE_CHECKING:
    from django.contrib.auth.models import User

Status = Participant.Status
STATUS_FOR_VERDICT = {
    Verdict.ELIGIBLE: Status.ELIGIBLE,
    Verdict.INELIGIBLE: Status.SCREEN_FAILED,
    Verdict.INCOMPLETE: Status.SCREENING,
}
SCREENABLE = (Status.CANDIDATE, Status.SCREEN_FAILED)
# Who records screening data; coordinators start a screening, investigators sign the verdict.
RECORDERS = SITE_TEAM


def screening_start(*, participant: Participant, by: User) -> Screening:
    """Open a screening for a candidate (or a screen failure) under the current protocol."""
    with transaction.atomic(), audit_context(by=by, reason="Screening started"):
        require_role(by, participant, roles=(Role.COORDINATOR,))
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        if participant.status not in SCREENABLE:
            raise ValidationError(
                f"A participant who is {participant.get_status_display().lower()} cannot start "
                "a screening."
            )
        version = ProtocolVersion.objects.current_for(participant.trial)
        if version is None:
            raise ValidationError("The trial has no protocol loaded: screening cannot start.")
        Screening.objects.filter(participant=participant, closed_at__isnull=True).update(
            closed_at=timezone.now()
        )
        screening = Screening(participant=participant, protocol_version=version, started_by=by)
        screening.full_clean()
        screening.save()
        participant_change_status(
            participant=participant, to_status=Status.SCREENING, reason="Screening started", by=by
        )
        _evaluate(screening, version=version, data={}, by=by, reason="Screening started")
    return screening


def changed_fields(saved: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Names of saved values that the new data change or clear (adding a value is no change)."""
    return [name for name, value in saved.items() if new.get(name) != value]


def screening_record(
    *, screening: Screening, values: dict[str, Any], by: User, reason: str = ""
) -> Screening:
    """Record screening data and evaluate it; changing a saved value needs a reason."""
    with transaction.atomic():
        screening = _locked_open(screening)
        require_role(by, screening.participant, roles=RECORDERS)
        data = {
            name: value for name, value in {**screening.data, **values}.items() if value is not None
        }
        changed = changed_fields(screening.data, data)
        if changed:
            reason = require_reason(reason)
        if data == screening.data:
            return screening
        _clean(screening.protocol_version, data)
        with audit_context(by=by, reason=reason or "Screening data recorded"):
            _evaluate(
                screening,
                version=screening.protocol_version,
                data=data,
                by=by,
                reason=reason or "Screening data recorded",
            )
    return screening


def screening_apply_version(
    *, screening: Screening, version: ProtocolVersion, by: User, reason: str
) -> Screening:
    """Re-evaluate an open screening under another protocol version; old verdicts are kept."""
    reason = require_reason(reason)
    with transaction.atomic(), audit_context(by=by, reason=reason):
        screening = _locked_open(screening)
        require_role(by, screening.participant, roles=RECORDERS)
        if version.trial_id != screening.participant.trial_id:
            raise ValidationError("That protocol version belongs to another trial.")
        if version.pk == screening.protocol_version_id:
            raise ValidationError(f"The screening is already under version {version.number}.")
        _clean(version, screening.data)
        _evaluate(screening, version=version, data=screening.data, by=by, reason=reason)
    return screening


def screenings_apply_current_version(
    *, trial_site: TrialSite, by: User, reason: str
) -> tuple[list[Screening], dict[str, dict[str, list[str]]]]:
    """Move every open screening at a trial site to the current protocol version.

    Returns the screenings moved and, by study ID, the field errors of those whose data do not
    fit the new version: they stay under their version until their data are corrected. Each
    screening moves in a transaction of its own; the role is checked once before any.
    """
    require_role(by, trial_site, roles=RECORDERS)
    version = ProtocolVersion.objects.current_for(trial_site.trial)
    if version is None:
        raise ValidationError("The trial has no protocol loaded.")
    pending = (
        Screening.objects.at_site(trial_site)
        .open()
        .exclude(protocol_version=version)
        .select_related("participant")
    )
    moved, refused = [], {}
    for screening in pending:
        try:
            moved.append(
                screening_apply_version(screening=screening, version=version, by=by, reason=reason)
            )
        except ValidationError as error:
            refused[screening.participant.study_id] = error.message_dict
    return moved, refused


def screening_confirm(
    *, screening: Screening, investigator: User, password: str, statement: str = ""
) -> Signature:
    """An investigator signs the verdict: confirms eligibility or overrides an ineligible one."""
    with transaction.atomic():
        screening = _locked_open(screening)
        participant = screening.participant
        require_role(investigator, participant, roles=(Role.INVESTIGATOR,))
        if screening.confirmation_id is not None:
            raise ValidationError("This verdict is already signed.")
        meaning = _meaning_for(screening, statement)
        reason = statement.strip() or Signature.Meaning(meaning).label
        with audit_context(by=investigator, reason=reason):
            signature = signature_sign(
                participant=participant,
                signer=investigator,
                password=password,
                meaning=meaning,
                statement=statement,
            )
            screening.confirmation = signature
            screening.save(update_fields=["confirmation", "updated_at"])
            participant_record_eligibility(
                participant=participant, signature=signature, data=screening.data
            )
            if meaning == Signature.Meaning.INELIGIBILITY_OVERRIDDEN:
                participant_change_status(
                    participant=participant,
                    to_status=Status.ELIGIBLE,
                    reason=reason,
                    by=investigator,
                )
    return signature


def _meaning_for(screening: Screening, statement: str) -> str:
    if screening.result == Verdict.ELIGIBLE:
        return Signature.Meaning.ELIGIBILITY_CONFIRMED
    if screening.result == Verdict.INELIGIBLE:
        if len(statement.strip()) < 10:
            raise ValidationError(
                {"statement": "Overriding an ineligible verdict needs a written justification."}
            )
        return Signature.Meaning.INELIGIBILITY_OVERRIDDEN
    raise ValidationError("The screening is incomplete: record the missing data before signing.")


def _locked_open(screening: Screening) -> Screening:
    locked = (
        Screening.objects.select_for_update(of=("self",))
        .select_related("participant", "protocol_version")
        .get(pk=screening.pk)
    )
    if locked.closed_at is not None:
        raise ValidationError("This screening is closed: it can no longer change.")
    if not locked.is_open:
        raise ValidationError(
            f"The participant is {locked.participant.get_status_display().lower()}: "
            "their screening can no longer change."
        )
    return locked


def _clean(version: ProtocolVersion, data: dict[str, Any]) -> dict[str, object]:
    clean, errors = rules.clean_values(version.content["screening"]["fields"], data)
    if errors:
        raise ValidationError(errors)
    return clean


def _evaluate(
    screening: Screening,
    *,
    version: ProtocolVersion,
    data: dict[str, Any],
    by: User,
    reason: str,
) -> ScreeningEvaluation:
    verdict = evaluator_for(version)(_clean(version, data))
    evaluation = ScreeningEvaluation.objects.create(
        screening=screening,
        participant=screening.participant,
        protocol_version=version,
        data=data,
        result=verdict.result,
        failed=list(verdict.failed),
        missing=list(verdict.missing),
        missing_fields=list(verdict.missing_fields),
        evaluated_at=timezone.now(),
        evaluated_by=by,
    )
    screening.protocol_version = version
    screening.data = data
    screening.result, screening.failed = verdict.result, list(verdict.failed)
    screening.missing, screening.missing_fields = (
        list(verdict.missing),
        list(verdict.missing_fields),
    )
    # A signature covers the verdict it was given on: any new evaluation needs a new signature.
    screening.confirmation = None
    screening.save()
    if screening.participant.eligibility_signature_id is not None:
        participant_record_eligibility(participant=screening.participant, signature=None, data={})
    _participant_follows(screening.participant, verdict.result, by, reason)
    return evaluation


def _participant_follows(participant: Participant, result: str, by: User, reason: str) -> None:
    target = STATUS_FOR_VERDICT[Verdict(result)]
    if participant.status != target:
        participant_change_status(participant=participant, to_status=target, reason=reason, by=by)
