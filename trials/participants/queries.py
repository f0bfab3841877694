"""Reads about one participant: the overview page's data and the audit trail."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Prefetch, QuerySet
from pghistory.models import Events

from trials.enrollment.models import (
    IN_STUDY,
    AllocationSlot,
    Consent,
    ConsentFormVersion,
    StudyExit,
    Unblinding,
)
from trials.participants.models import Participant, ParticipantContact
from trials.sessions.models import Visit, VisitFacilitator
from trials.study.models import IDENTITY_ROLES, Role
from trials.study.permissions import may_see_arm, roles_at
from trials.study.sitetime import today_at

if TYPE_CHECKING:
    from trials.participants.models import Participant
    from trials.study.models import AnyUser


@dataclass(frozen=True)
class AuditEntry:
    at: datetime.datetime
    record: str
    record_id: str
    action: str
    username: str
    user_name: str
    reason: str
    changes: list[tuple[str, Any, Any]]
    context_id: str


HIDDEN_FIELDS = {"id", "participant", "participant_id", "updated_at"}
IDENTITY_MODEL = "trials.ParticipantContact"


def _entry(event: Events) -> AuditEntry:
    context = event.pgh_context or {}
    if event.pgh_diff:
        changes = [(name, old, new) for name, (old, new) in sorted(event.pgh_diff.items())]
    else:
        changes = [(name, None, value) for name, value in sorted(event.pgh_data.items())]
    return AuditEntry(
        at=event.pgh_created_at,
        record=event.pgh_obj_model.split(".")[-1],
        record_id=str(event.pgh_obj_id),
        action=event.pgh_label,
        username=context.get("username", "system"),
        user_name=context.get("user_name", context.get("username", "system")),
        reason=context.get("reason", ""),
        changes=[change for change in changes if change[0] not in HIDDEN_FIELDS],
        context_id=str(event.pgh_context_id or event.pgh_slug),
    )


def participant_audit_trail(participant: Participant, *, with_identity: bool) -> list[AuditEntry]:
    """Every recorded change to the participant and the records that point at it, oldest first.

    One query whatever the number of events. Changes to contact details are left out unless the
    reader may see the participant's identity.
    """
    events = Events.objects.references(participant).order_by("pgh_created_at", "pgh_slug")
    if not with_identity:
        events = events.exclude(pgh_obj_model=IDENTITY_MODEL)
    return [_entry(event) for event in events]


@dataclass(frozen=True)
class TimelineItem:
    at: datetime.datetime
    user_name: str
    reason: str
    records: tuple[str, ...]


def timeline(entries: list[AuditEntry], records: set[str]) -> list[TimelineItem]:
    """One line per action (one audit context): when, who, why, and which records it touched."""
    items: dict[str, TimelineItem] = {}
    for entry in entries:
        if entry.record not in records or not entry.reason:
            continue
        item = items.get(entry.context_id)
        if item is None:
            items[entry.context_id] = TimelineItem(
                entry.at, entry.user_name, entry.reason, (entry.record,)
            )
        elif entry.record not in item.records:
            items[entry.context_id] = TimelineItem(
                item.at, item.user_name, item.reason, (*item.records, entry.record)
            )
    return list(items.values())


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


def filtered_participants(
    participants: QuerySet[Participant], *, study_id: str = "", status: str = ""
) -> QuerySet[Participant]:
    """The participant list's rows, narrowed by a part of the study ID and by status, in order."""
    if study_id:
        participants = participants.filter(study_id__icontains=study_id)
    if status:
        participants = participants.filter(status=status)
    return participants.order_by("number")
