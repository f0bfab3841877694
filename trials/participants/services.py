"""Registering participants, their identity, lifecycle changes and signatures."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from trials.audit import audit_context, require_reason
from trials.participants.models import (
    PARTICIPANT_TRANSITIONS,
    Participant,
    ParticipantContact,
    Signature,
)
from trials.study.models import CARE_TEAM, Role, TrialSite
from trials.study.permissions import require_role

if TYPE_CHECKING:
    from django.contrib.auth.models import User


CONTACT_FIELDS = (
    "given_name",
    "family_name",
    "date_of_birth",
    "phone",
    "email",
    "address",
    "may_contact",
)


def study_id_for(trial_site: TrialSite, number: int) -> str:
    """The study ID printed on every record: <TRIAL>-<SITE>-<NNNN>."""
    return f"{trial_site.trial.code}-{trial_site.site.code}-{number:04d}"


def participant_create(*, trial_site: TrialSite, contact: dict[str, Any], by: User) -> Participant:
    """Register a candidate at an active trial site, with their identity kept apart."""
    with transaction.atomic(), audit_context(by=by, reason="Candidate registered"):
        require_role(by, trial_site, roles=(Role.COORDINATOR,))
        # The row lock serialises number allocation: two coordinators never get the same number.
        locked = (
            TrialSite.objects.select_for_update()
            .select_related("trial", "site")
            .get(pk=trial_site.pk)
        )
        if not locked.is_active:
            raise ValidationError(
                "This site is not active in the trial: it cannot take candidates."
            )
        number = locked.next_participant_number
        participant = Participant(
            trial=locked.trial,
            site=locked.site,
            number=number,
            study_id=study_id_for(locked, number),
            status=Participant.Status.CANDIDATE,
            status_changed_at=timezone.now(),
            created_by=by,
        )
        participant.full_clean()
        participant.save()
        details = ParticipantContact(participant=participant, **_contact_values(contact))
        details.full_clean()
        details.save()
        locked.next_participant_number = number + 1
        locked.save(update_fields=["next_participant_number"])
    return participant


def _contact_values(contact: dict[str, Any]) -> dict[str, Any]:
    unknown = set(contact) - set(CONTACT_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown contact field." for name in sorted(unknown)})
    return {name: contact[name] for name in CONTACT_FIELDS if name in contact}


def participant_contact_update(
    *, participant: Participant, changes: dict[str, Any], reason: str, by: User
) -> ParticipantContact:
    """Correct a participant's identifying details; the reason is mandatory and audited."""
    reason = require_reason(reason)
    with transaction.atomic(), audit_context(by=by, reason=reason):
        require_role(by, participant, roles=(Role.COORDINATOR,))
        contact = ParticipantContact.objects.select_for_update().get(participant=participant)
        for name, value in _contact_values(changes).items():
            setattr(contact, name, value)
        contact.full_clean()
        contact.save()
    return contact


def allowed_transitions(status: str) -> frozenset[str]:
    """The statuses a participant in `status` may move to."""
    return PARTICIPANT_TRANSITIONS.get(status, frozenset())


def participant_change_status(
    *,
    participant: Participant,
    to_status: str,
    reason: str,
    by: User,
    at: datetime.datetime | None = None,
) -> Participant:
    """Move a participant along the lifecycle; a move the lifecycle does not allow is refused.

    Only the site's care team moves a participant; the services that call it (screening,
    consent, randomization, the dose, exits) check their own, narrower roles first.
    """
    reason = require_reason(reason)
    if to_status not in Participant.Status.values:
        raise ValidationError({"status": f"Unknown status '{to_status}'."})
    with transaction.atomic(), audit_context(by=by, reason=reason):
        require_role(by, participant, roles=CARE_TEAM)
        locked = Participant.objects.select_for_update().get(pk=participant.pk)
        if to_status not in allowed_transitions(locked.status):
            raise ValidationError(
                {
                    "status": (
                        f"A participant who is {locked.get_status_display().lower()} cannot "
                        f"become {Participant.Status(to_status).label.lower()}."
                    )
                }
            )
        locked.status = to_status
        locked.status_changed_at = at or timezone.now()
        locked.save(update_fields=["status", "status_changed_at"])
    participant.status, participant.status_changed_at = locked.status, locked.status_changed_at
    return locked


def signature_sign(
    *,
    participant: Participant,
    signer: User,
    password: str,
    meaning: str,
    statement: str = "",
) -> Signature:
    """Sign electronically: the signer re-enters their password; name, time and meaning are kept.

    Call inside the transaction that records what is signed, from the service that checked the
    signer's role there.
    """
    if not signer.check_password(password or ""):
        raise ValidationError({"password": "The password is not correct: nothing was signed."})
    signature = Signature(
        participant=participant,
        signer=signer,
        printed_name=signer.get_full_name() or signer.get_username(),
        meaning=meaning,
        statement=statement.strip(),
        signed_at=timezone.now(),
    )
    signature.full_clean()
    signature.save()
    return signature


def participant_record_eligibility(
    *, participant: Participant, signature: Signature | None, data: dict[str, Any]
) -> None:
    """Record the investigator's signed verdict on the participant (None withdraws it).

    Called by the screening app inside its own transaction and audit context.
    """
    Participant.objects.filter(pk=participant.pk).update(
        eligibility_signature=signature, eligibility_data=data if signature else {}
    )
    participant.eligibility_signature = signature
    participant.eligibility_data = data if signature else {}
