"""Consent, randomization, unblinding and leaving the study."""

from __future__ import annotations

import datetime
import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from trials.audit import audit_context, require_reason
from trials.enrollment.models import (
    IN_STUDY,
    AllocationList,
    AllocationSlot,
    Consent,
    ConsentFormVersion,
    StudyExit,
    Unblinding,
)
from trials.enrollment.queries import reconsent_pending
from trials.enrollment.randomization import permuted_blocks, stratum_key
from trials.notifications.models import NotificationKind
from trials.notifications.services import safety_alert
from trials.participants.models import Participant, Signature
from trials.participants.services import participant_change_status, signature_sign
from trials.sessions.services import schedule_from_randomization, visits_cancel_remaining
from trials.study.models import SITE_TEAM, Arm, ProtocolVersion, Role, Trial, TrialSite
from trials.study.permissions import has_site_role, require_role
from trials.study.sitetime import local_date, today_at

if TYPE_CHECKING:
    from django.contrib.auth.models import User


Status = Participant.Status
CONSENT_TAKERS = (Role.COORDINATOR, Role.INVESTIGATOR)
# Single-arm trials still get a list: every participant gets a kit code the same way.
SINGLE_ARM_BLOCKS = [1]


def consent_record(
    *,
    participant: Participant,
    form_version: ConsentFormVersion,
    consented_at: datetime.datetime,
    obtained_by: User,
    participant_confirmed: bool,
    by: User,
) -> Consent:
    """Record informed consent to the form in effect: a first consent, or a re-consent."""
    with transaction.atomic():
        require_role(by, participant, roles=SITE_TEAM)
        participant = (
            Participant.objects.select_for_update(of=("self",))
            .select_related("site", "trial")
            .get(pk=participant.pk)
        )
        _check_consent(participant, form_version, consented_at, obtained_by, participant_confirmed)
        first = participant.status == Status.ELIGIBLE
        reason = "Informed consent recorded" if first else "Re-consent to a new form version"
        with audit_context(by=by, reason=reason):
            consent = Consent(
                participant=participant,
                form_version=form_version,
                consented_at=consented_at,
                obtained_by=obtained_by,
                participant_confirmed=True,
                recorded_by=by,
            )
            consent.full_clean()
            consent.save()
            if first:
                participant_change_status(
                    participant=participant, to_status=Status.CONSENTED, reason=reason, by=by
                )
    return consent


def _check_consent(
    participant: Participant,
    form_version: ConsentFormVersion,
    consented_at: datetime.datetime,
    obtained_by: User,
    participant_confirmed: bool,
) -> None:
    if not participant_confirmed:
        raise ValidationError(
            {"participant_confirmed": "The participant must confirm their consent."}
        )
    today = today_at(participant.site.time_zone)
    current = ConsentFormVersion.objects.current_for(participant.trial, on=today)
    if current is None:
        raise ValidationError("The trial has no consent form in effect.")
    if form_version.pk != current.pk:
        raise ValidationError(
            {"form_version": f"Only the form in effect, {current.label}, can be recorded."}
        )
    if consented_at > timezone.now():
        raise ValidationError({"consented_at": "Consent cannot be given in the future."})
    if local_date(consented_at, participant.site.time_zone) < current.effective_from:
        raise ValidationError(
            {"consented_at": f"{current.label} took effect on {current.effective_from:%Y-%m-%d}."}
        )
    if not has_site_role(
        obtained_by,
        trial_id=participant.trial_id,
        site_id=participant.site_id,
        roles=CONSENT_TAKERS,
    ):
        raise ValidationError(
            {"obtained_by": "Consent is obtained by a coordinator or investigator of the site."}
        )
    _check_consent_stage(participant, current)


def _check_consent_stage(participant: Participant, current: ConsentFormVersion) -> None:
    if participant.status == Status.ELIGIBLE:
        if participant.eligibility_signature_id is None:
            raise ValidationError(
                "An investigator must confirm eligibility (signed) before consent."
            )
        return
    if participant.status not in IN_STUDY:
        raise ValidationError(
            f"A participant who is {participant.get_status_display().lower()} cannot consent."
        )
    if Consent.objects.filter(participant=participant, form_version=current).exists():
        raise ValidationError(f"Consent to {current.label} is already recorded.")


def participant_randomize(*, participant: Participant, by: User) -> AllocationSlot:
    """Allocate the next concealed slot of the participant's stratum and schedule their visits.

    Trial and site rows are locked first: caps hold and no slot is given twice, whatever the
    number of simultaneous requests.
    """
    with transaction.atomic(), audit_context(by=by, reason="Randomized"):
        require_role(by, participant, roles=SITE_TEAM)
        trial = Trial.objects.select_for_update().get(pk=participant.trial_id)
        trial_site = (
            TrialSite.objects.select_for_update(of=("self",))
            .select_related("site")
            .get(trial=trial, site_id=participant.site_id)
        )
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        version = ProtocolVersion.objects.current_for(trial)
        _check_randomizable(participant, trial, trial_site, version)
        version = cast(ProtocolVersion, version)  # _check_randomizable refused None
        now = timezone.now()
        [slot] = allocations_give(
            trial=trial, trial_site=trial_site, version=version, given=[(participant, now)], by=by
        )
        participant_change_status(
            participant=participant,
            to_status=Status.RANDOMIZED,
            reason="Randomized",
            by=by,
            at=now,
        )
        schedule_from_randomization(
            participant=participant,
            version=version,
            randomized_on=local_date(now, trial_site.site.time_zone),
        )
    return slot


def _check_randomizable(
    participant: Participant, trial: Trial, trial_site: TrialSite, version: ProtocolVersion | None
) -> None:
    if participant.status != Status.CONSENTED:
        raise ValidationError(
            "Only an eligible participant, confirmed by an investigator and consented, can be "
            f"randomized; this one is {participant.get_status_display().lower()}."
        )
    if participant.eligibility_signature_id is None:
        raise ValidationError("An investigator must confirm eligibility before randomization.")
    if reconsent_pending(participant):
        raise ValidationError("Consent to the form now in effect must be recorded first.")
    if version is None:
        raise ValidationError("The trial has no protocol loaded.")
    if not trial_site.is_active:
        raise ValidationError("This site is not active in the trial.")
    randomized = AllocationSlot.objects.filter(
        allocation_list__trial=trial, participant__isnull=False
    )
    if randomized.count() >= trial.target_enrollment:
        raise ValidationError(
            f"The trial is full: its target enrollment of {trial.target_enrollment} is reached."
        )
    at_site = randomized.filter(participant__site_id=trial_site.site_id).count()
    if trial_site.enrollment_cap is not None and at_site >= trial_site.enrollment_cap:
        raise ValidationError(
            f"This site is full: its enrollment cap of {trial_site.enrollment_cap} is reached."
        )


def allocations_give(
    *,
    trial: Trial,
    trial_site: TrialSite,
    version: ProtocolVersion,
    given: Sequence[tuple[Participant, datetime.datetime]],
    by: User,
) -> list[AllocationSlot]:
    """Give participants of one trial site, in order, the next free slots of their strata's lists.

    The allocation alone, at the moments given: `participant_randomize` checks, locks, moves
    the status and schedules around it; the demo seeder (registry/demo.py) gives thousands
    at once. Lists are made and extended from their recorded seed as needed. It checks no role
    of its own: its callers do (the seeder acts as the system).
    """
    strata: dict[str, list[tuple[Participant, datetime.datetime]]] = {}
    for participant, at in given:
        strata.setdefault(_stratum(trial_site, participant, version), []).append((participant, at))
    slots: dict[int, AllocationSlot] = {}
    for key, members in strata.items():
        free = _free_slots(trial, _allocation_list(trial, key, version), len(members))
        for (participant, at), slot in zip(members, free, strict=True):
            slot.participant, slot.allocated_at, slot.allocated_by = participant, at, by
            slot.save(update_fields=["participant", "allocated_at", "allocated_by"])
            slots[participant.pk] = slot
    return [slots[participant.pk] for participant, _ in given]


def _stratum(trial_site: TrialSite, participant: Participant, version: ProtocolVersion) -> str:
    scheme = version.content["randomization"]
    values: dict[str, object] = {}
    for name in scheme["stratify_by"] if scheme else []:
        value = trial_site.site.code if name == "site" else participant.eligibility_data.get(name)
        if value is None:
            raise ValidationError(f"Stratification needs '{name}', not recorded at screening.")
        values[name] = value
    return stratum_key(values)


def _allocation_list(trial: Trial, key: str, version: ProtocolVersion) -> AllocationList:
    scheme = version.content["randomization"]
    allocation_list = AllocationList.objects.filter(trial=trial, stratum=key).first()
    if allocation_list is None:
        arms = [arm["code"] for arm in version.content["arms"]]
        allocation_list = AllocationList.objects.create(
            trial=trial,
            stratum=key,
            seed=secrets.token_hex(16),
            ratio=scheme["ratio"] if scheme else {arms[0]: 1},
            block_sizes=scheme["block_sizes"] if scheme else SINGLE_ARM_BLOCKS,
        )
    return allocation_list


def _free_slots(trial: Trial, allocation_list: AllocationList, count: int) -> list[AllocationSlot]:
    """The list's next `count` free slots, in sequence, the list extended as often as needed."""
    free = allocation_list.slots.filter(participant__isnull=True).order_by("sequence")
    slots = list(free[:count])
    while len(slots) < count:
        _extend(trial, allocation_list)
        slots = list(free[:count])
    return slots


def _extend(trial: Trial, allocation_list: AllocationList) -> None:
    """Generate more of the list: the same seed continues the same sequence."""
    existing = allocation_list.slots.count()
    arms = {arm.code: arm for arm in Arm.objects.filter(trial=trial)}
    wanted = existing + max(trial.target_enrollment, 1)
    generated = permuted_blocks(
        allocation_list.seed, allocation_list.ratio, allocation_list.block_sizes, wanted
    )
    AllocationSlot.objects.bulk_create(
        AllocationSlot(
            allocation_list=allocation_list,
            sequence=slot.sequence,
            block=slot.block,
            arm=arms[slot.arm],
            kit_code=slot.kit_code,
        )
        for slot in generated[existing:]
    )


def participant_unblind(
    *, participant: Participant, investigator: User, password: str, reason: str
) -> Unblinding:
    """Emergency unblinding: an investigator of the site, a reason, a signature; sponsor told."""
    reason = require_reason(reason)
    with transaction.atomic(), audit_context(by=investigator, reason=reason):
        participant = Participant.objects.select_for_update().get(pk=participant.pk)
        require_role(investigator, participant, roles=(Role.INVESTIGATOR,))
        if not AllocationSlot.objects.filter(participant=participant).exists():
            raise ValidationError("This participant has not been randomized.")
        if Unblinding.objects.filter(participant=participant).exists():
            raise ValidationError("This participant is already unblinded.")
        signature = signature_sign(
            participant=participant,
            signer=investigator,
            password=password,
            meaning=Signature.Meaning.EMERGENCY_UNBLINDING,
            statement=reason,
        )
        unblinding = Unblinding.objects.create(
            participant=participant,
            signature=signature,
            reason=reason,
            unblinded_at=signature.signed_at,
        )
        safety_alert(
            kind=NotificationKind.UNBLINDING, participant=participant, unblinding=unblinding
        )
    return unblinding


EXIT_STATUS = {
    StudyExit.Kind.COMPLETED: Status.COMPLETED,
    StudyExit.Kind.WITHDRAWN: Status.WITHDRAWN,
    StudyExit.Kind.LOST_TO_FOLLOW_UP: Status.LOST_TO_FOLLOW_UP,
}


def participant_exit(
    *,
    participant: Participant,
    kind: str,
    reason: str,
    details: str,
    exited_on: datetime.date,
    by: User,
) -> StudyExit:
    """Record completion, withdrawal or loss to follow-up; remaining visits are cancelled."""
    with transaction.atomic():
        require_role(by, participant, roles=SITE_TEAM)
        participant = (
            Participant.objects.select_for_update(of=("self",))
            .select_related("site")
            .get(pk=participant.pk)
        )
        if exited_on > today_at(participant.site.time_zone):
            raise ValidationError({"exited_on": "The date cannot be in the future."})
        study_exit = StudyExit(
            participant=participant,
            kind=kind,
            reason=reason,
            details=details.strip(),
            exited_on=exited_on,
            recorded_by=by,
        )
        study_exit.full_clean(exclude=["participant"])
        label = f"{StudyExit.Kind(kind).label}: {StudyExit.Reason(reason).label}"
        with audit_context(by=by, reason=f"{label}. {details}".strip()):
            participant_change_status(
                participant=participant,
                to_status=EXIT_STATUS[StudyExit.Kind(kind)],
                reason=label,
                by=by,
            )
            study_exit.save()
            visits_cancel_remaining(participant=participant)
    return study_exit
