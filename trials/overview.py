"""What a participant's page shows, read in a fixed number of queries whatever their history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db.models import Prefetch

from trials.audit import TimelineItem, participant_audit_trail, timeline
from trials.models import (
    IDENTITY_ROLES,
    IN_STUDY,
    AllocationSlot,
    Consent,
    ConsentFormVersion,
    Participant,
    ParticipantContact,
    Role,
    StudyExit,
    Unblinding,
    Visit,
    VisitFacilitator,
)
from trials.permissions import may_see_arm, roles_at
from trials.services.schedule import today_at

if TYPE_CHECKING:
    from trials.models import AnyUser

Status = Participant.Status
SITE_TEAM = {Role.COORDINATOR, Role.INVESTIGATOR}
TIMELINE_RECORDS = {
    "Participant",
    "Screening",
    "Signature",
    "Consent",
    "AllocationSlot",
    "Unblinding",
    "StudyExit",
    "Visit",
}


@dataclass
class Overview:
    participant: Participant
    roles: frozenset[str]
    contact: ParticipantContact | None
    screening: object | None
    consents: list[Consent]
    consent_form: ConsentFormVersion | None
    needs_reconsent: bool
    allocation: AllocationSlot | None
    show_arm: bool
    unblinding: Unblinding | None
    visits: list[Visit]
    study_exit: StudyExit | None
    timeline: list[TimelineItem]

    @property
    def is_site_team(self) -> bool:
        return bool(self.roles & SITE_TEAM)

    @property
    def can_start_screening(self) -> bool:
        screenable = self.participant.status in (Status.CANDIDATE, Status.SCREEN_FAILED)
        return Role.COORDINATOR in self.roles and screenable

    @property
    def can_consent(self) -> bool:
        first = (
            self.participant.status == Status.ELIGIBLE
            and self.participant.eligibility_signature_id is not None
        )
        return (
            self.is_site_team and self.consent_form is not None and (first or self.needs_reconsent)
        )

    @property
    def can_randomize(self) -> bool:
        return (
            self.is_site_team
            and self.participant.status == Status.CONSENTED
            and not self.needs_reconsent
        )

    @property
    def can_unblind(self) -> bool:
        return (
            Role.INVESTIGATOR in self.roles and self.allocation is not None and not self.unblinding
        )

    @property
    def can_exit(self) -> bool:
        final = (Status.COMPLETED, Status.WITHDRAWN, Status.LOST_TO_FOLLOW_UP)
        return self.is_site_team and self.participant.status not in final


def participant_overview(participant: Participant, user: AnyUser) -> Overview:
    """Everything the participant page shows, as this user may see it."""
    roles = roles_at(user, trial_id=participant.trial_id, site_id=participant.site_id)
    identity = bool(roles & set(IDENTITY_ROLES))
    consents = list(participant.consents.select_related("form_version", "obtained_by"))
    consent_form = ConsentFormVersion.objects.current_for(
        participant.trial, on=today_at(participant.site.time_zone)
    )
    allocation = (
        AllocationSlot.objects.filter(participant=participant).select_related("arm").first()
    )
    unblinding = Unblinding.objects.filter(participant=participant).first()
    return Overview(
        participant=participant,
        roles=roles,
        contact=ParticipantContact.objects.filter(participant=participant).first()
        if identity
        else None,
        # Screenings belong to the screening app: reached through the reverse relation only.
        screening=participant.screenings.select_related("protocol_version", "confirmation")
        .order_by("-started_at")
        .first(),
        consents=consents,
        consent_form=consent_form,
        needs_reconsent=participant.status in IN_STUDY
        and consent_form is not None
        and all(c.form_version_id != consent_form.pk for c in consents),
        allocation=allocation,
        show_arm=may_see_arm(roles, participant, unblinded=unblinding is not None),
        unblinding=unblinding,
        visits=list(
            participant.visits.prefetch_related(
                Prefetch(
                    "assignments", VisitFacilitator.objects.select_related("facilitator__user")
                )
            )
        ),
        study_exit=StudyExit.objects.filter(participant=participant).first(),
        timeline=timeline(
            participant_audit_trail(participant, with_identity=identity), TIMELINE_RECORDS
        ),
    )
