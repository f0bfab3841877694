"""Scheduling and booking visits; logging dosing and therapy sessions.

Every service acting for a user checks their role at the participant's site. The scheduling
functions without a user run inside such a service's transaction (randomization, exits) or as
the system: the task dating the visits after a dose, and its reconciliation.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, Field, OuterRef
from django.utils import timezone

from trials.audit import audit_context, require_reason
from trials.enrollment.models import AllocationSlot
from trials.enrollment.queries import reconsent_pending
from trials.facilitators.models import Facilitator
from trials.facilitators.queries import qualification
from trials.notifications.services import reminders_cancel, reminders_plan
from trials.participants.models import Participant, Signature
from trials.participants.services import participant_change_status, signature_sign
from trials.queue import after_commit
from trials.sessions.models import (
    DosingSession,
    SessionSignature,
    TherapySession,
    Visit,
    VisitFacilitator,
    VitalSign,
)
from trials.study.models import CARE_TEAM, SITE_TEAM, Membership, ProtocolVersion, Role
from trials.study.permissions import require_role
from trials.study.sitetime import local_date

if TYPE_CHECKING:
    from django.contrib.auth.models import User


RANDOMIZATION = "randomization"
# Rows per statement when schedules are written for many participants at once.
BATCH_SIZE = 2000


def _dates(event: dict[str, Any], anchor_date: datetime.date) -> dict[str, datetime.date]:
    target = anchor_date + datetime.timedelta(days=event["day"])
    early, late = event["window"]
    return {
        "target_date": target,
        "window_start": target + datetime.timedelta(days=early),
        "window_end": target + datetime.timedelta(days=late),
    }


def schedule_from_randomization(
    *, participant: Participant, version: ProtocolVersion, randomized_on: datetime.date
) -> list[Visit]:
    """Every protocol event becomes a visit: dated if anchored on randomization, else waiting."""
    return schedules_from_randomization(version=version, randomized=[(participant, randomized_on)])


def schedules_from_randomization(
    *, version: ProtocolVersion, randomized: Sequence[tuple[Participant, datetime.date]]
) -> list[Visit]:
    """`schedule_from_randomization` for many participants, in one insert (the demo seeder's)."""
    visits = []
    for participant, randomized_on in randomized:
        for sequence, event in enumerate(version.content["schedule"], start=1):
            on_randomization = event["anchor"] == RANDOMIZATION
            visit = Visit(
                participant=participant,
                protocol_version=version,
                event_code=event["code"],
                kind=event["kind"],
                label=event["label"],
                anchor=event["anchor"],
                day=event["day"],
                sequence=sequence,
                status=Visit.Status.SCHEDULED if on_randomization else Visit.Status.AWAITING_DOSING,
                **(_dates(event, randomized_on) if on_randomization else {}),
            )
            # Not the foreign keys: participant and version are at hand, no query per visit.
            visit.full_clean(
                exclude=["participant", "protocol_version"], validate_constraints=False
            )
            visits.append(visit)
    # The unique (participant, event_code) constraint makes a second run a no-op, not a copy.
    return Visit.objects.bulk_create(visits, ignore_conflicts=True, batch_size=BATCH_SIZE)


def visit_book(
    *,
    visit: Visit,
    starts_at: datetime.datetime,
    room: str,
    facilitators: Sequence[Facilitator],
    by: User,
    reason: str = "",
) -> Visit:
    """Book (or reschedule) a visit. Outside its window, or changing a booking, needs a reason."""
    with transaction.atomic():
        visit = (
            Visit.objects.select_for_update(of=("self",))
            .select_related("participant__site")
            .get(pk=visit.pk)
        )
        require_role(by, visit.participant, roles=SITE_TEAM)
        if visit.status not in (Visit.Status.SCHEDULED, Visit.Status.BOOKED):
            raise ValidationError(
                f"A visit that is {visit.get_status_display().lower()} cannot be booked."
            )
        day = local_date(starts_at, visit.participant.site.time_zone)
        # A scheduled or booked visit has its window.
        start, end = cast(datetime.date, visit.window_start), cast(datetime.date, visit.window_end)
        outside = not (start <= day <= end)
        if outside or visit.status == Visit.Status.BOOKED:
            reason = _reason_for_booking(reason, outside, visit)
        _check_facilitators(visit.participant, facilitators)
        if visit.kind == Visit.Kind.DOSING:
            check_dosing_team(visit, facilitators, on=day)
        with audit_context(by=by, reason=reason or "Visit booked"):
            visit.starts_at, visit.room, visit.status = starts_at, room, Visit.Status.BOOKED
            visit.full_clean()
            visit.save()
            _assign(visit, facilitators, by)
            reminders_plan(visit)
    return visit


def _reason_for_booking(reason: str, outside: bool, visit: Visit) -> str:
    if not (reason or "").strip():
        message = (
            f"This day is outside the window ({visit.window_start:%Y-%m-%d} to "
            f"{visit.window_end:%Y-%m-%d}): give the reason."
            if outside
            else "Give the reason for rescheduling."
        )
        raise ValidationError({"reason": message})
    return require_reason(reason)


def _check_facilitators(participant: Participant, facilitators: Sequence[Facilitator]) -> None:
    at_site = set(
        Membership.objects.filter(
            trial_id=participant.trial_id, site_id=participant.site_id, role=Role.FACILITATOR
        ).values_list("user_id", flat=True)
    )
    strangers = [str(f) for f in facilitators if f.user_id not in at_site]
    if strangers:
        raise ValidationError(
            {"facilitators": f"Not facilitators at this site: {', '.join(strangers)}."}
        )


def _assign(visit: Visit, facilitators: Sequence[Facilitator], by: User) -> None:
    wanted = {facilitator.pk for facilitator in facilitators}
    VisitFacilitator.objects.filter(visit=visit).exclude(facilitator_id__in=wanted).delete()
    present = set(
        VisitFacilitator.objects.filter(visit=visit).values_list("facilitator_id", flat=True)
    )
    VisitFacilitator.objects.bulk_create(
        VisitFacilitator(
            visit=visit, facilitator_id=pk, participant_id=visit.participant_id, assigned_by=by
        )
        for pk in sorted(wanted - present)
    )


def visits_cancel_remaining(*, participant: Participant) -> int:
    """Cancel the visits not yet done (the participant left the study); returns how many."""
    return visits_cancel_remaining_for(participants=[participant])


def visits_cancel_remaining_for(*, participants: Sequence[Participant]) -> int:
    """`visits_cancel_remaining` for many participants at once (the demo seeder's)."""
    remaining = Visit.objects.filter(
        participant__in=participants,
        status__in=[Visit.Status.AWAITING_DOSING, Visit.Status.SCHEDULED, Visit.Status.BOOKED],
    )
    reminders_cancel(list(remaining.values_list("pk", flat=True)), "The visit is cancelled.")
    return remaining.update(status=Visit.Status.CANCELLED)


def check_dosing_team(visit: Visit, facilitators: Sequence[Facilitator], on: datetime.date) -> None:
    """A dosing session needs the protocol's number of facilitators, each with valid credentials."""
    protocol = visit.protocol_version.content["trial"]
    needed = protocol["facilitators_per_dosing_session"]
    problems = []
    credentials = {
        facilitator.pk: list(facilitator.credentials.all()) for facilitator in facilitators
    }
    for facilitator in facilitators:
        verdict = qualification(
            credentials[facilitator.pk], protocol["facilitator_requirements"], on
        )
        if not verdict.qualified:
            problems.append(f"{facilitator} cannot be assigned: {'; '.join(verdict.problems)}.")
    if len(facilitators) < needed:
        problems.append(
            f"A dosing session needs {needed} facilitators; {len(facilitators)} chosen."
        )
    if problems:
        raise ValidationError({"facilitators": problems})


def visits_schedule_after_dosing(*, dosing_visit: Visit, dosed_on: datetime.date) -> int:
    """Date the visits anchored on a dosing event from its actual day; returns how many.

    Only visits still awaiting dosing change, so running it twice schedules nothing twice.
    """
    return visits_schedule_after_doses(doses=[(dosing_visit, dosed_on)])


def visits_schedule_after_doses(*, doses: Sequence[tuple[Visit, datetime.date]]) -> int:
    """`visits_schedule_after_dosing` for many doses at once (the demo seeder's); the dosing
    visits come with their protocol version."""
    if not doses:
        return 0
    anchors = {
        (visit.participant_id, visit.event_code): (
            day,
            {event["code"]: event for event in visit.protocol_version.content["schedule"]},
        )
        for visit, day in doses
    }
    candidates = Visit.objects.select_for_update().filter(
        participant_id__in={participant for participant, _ in anchors},
        anchor__in={code for _, code in anchors},
        status=Visit.Status.AWAITING_DOSING,
    )
    # One update per set of dates: visits of the same event dosed on the same day share them.
    dated: dict[tuple[tuple[str, datetime.date], ...], list[int]] = defaultdict(list)
    for visit in candidates:
        if (visit.participant_id, visit.anchor) in anchors:
            dosed_on, events = anchors[(visit.participant_id, visit.anchor)]
            dated[tuple(_dates(events[visit.event_code], dosed_on).items())].append(visit.pk)
    for dates, pks in dated.items():
        Visit.objects.filter(pk__in=pks).update(**dict(dates), status=Visit.Status.SCHEDULED)
    return sum(len(pks) for pks in dated.values())


SCHEDULER = "Dyad (scheduler)"


def visits_schedule_after_dosing_id(visit_pk: int) -> int:
    """The task's entry: date what waits on this dosing visit, from the dose's day at the site.

    Locks the dosing visit, so the task and the reconciliation running at once take turns and
    the second finds nothing left to do.
    """
    with transaction.atomic():
        visit = (
            Visit.objects.select_for_update(of=("self",))
            .select_related("participant__site", "protocol_version", "dosing_session")
            .filter(pk=visit_pk, kind=Visit.Kind.DOSING)
            .first()
        )
        session = getattr(visit, "dosing_session", None) if visit else None
        if visit is None or session is None or session.dosed_at is None:
            return 0
        with audit_context(by=None, reason="Scheduled from the dose", actor=SCHEDULER):
            return visits_schedule_after_dosing(
                dosing_visit=visit,
                dosed_on=local_date(session.dosed_at, visit.participant.site.time_zone),
            )


def visits_schedule_pending() -> int:
    """Reconciliation: every dosed visit whose anchored visits still wait gets them dated."""
    waiting = Visit.objects.filter(
        participant=OuterRef("participant"),
        anchor=OuterRef("event_code"),
        status=Visit.Status.AWAITING_DOSING,
    )
    dosed = (
        Visit.objects.filter(kind=Visit.Kind.DOSING, dosing_session__dosed_at__isnull=False)
        .filter(Exists(waiting))
        .values_list("pk", flat=True)
    )
    return sum(visits_schedule_after_dosing_id(pk) for pk in list(dosed))


Status = Participant.Status
IN_TREATMENT = (Status.RANDOMIZED, Status.IN_TREATMENT)
# What a facilitator fills in before and after the dose; the dose itself has its own service.
PREDOSE_FIELDS = (
    "eligibility_confirmed",
    "consent_current",
    "medications_stopped",
    "washout_days",
    "pregnancy_test",
    "predose_systolic",
    "predose_diastolic",
    "predose_heart_rate",
    "predose_temperature",
)
DAY_FIELDS = (
    "interventions",
    "rescue_medication",
    "ended_at",
    "release_alert_and_oriented",
    "release_vitals_stable",
    "release_escort_arranged",
    "notes",
)
LOG_FIELDS = PREDOSE_FIELDS + DAY_FIELDS
PREDOSE_LIMITS = (
    ("predose_systolic", "max_systolic_bp", "systolic blood pressure"),
    ("predose_diastolic", "max_diastolic_bp", "diastolic blood pressure"),
    ("predose_heart_rate", "max_heart_rate", "heart rate"),
)


def _team(visit: Visit) -> list[Facilitator]:
    return [
        assignment.facilitator
        for assignment in VisitFacilitator.objects.filter(visit=visit)
        .select_related("facilitator__user")
        .prefetch_related("facilitator__credentials")
    ]


def dosing_session_start(*, visit: Visit, by: User) -> DosingSession:
    """Open the log of a booked dosing visit of a randomized participant."""
    with transaction.atomic(), audit_context(by=by, reason="Dosing session started"):
        visit = (
            Visit.objects.select_for_update(of=("self",))
            .select_related("participant", "protocol_version")
            .get(pk=visit.pk)
        )
        require_role(by, visit.participant, roles=CARE_TEAM)
        if visit.kind != Visit.Kind.DOSING:
            raise ValidationError("This visit is not a dosing session.")
        if visit.participant.status not in IN_TREATMENT:
            raise ValidationError("Dosing needs a randomized participant.")
        if visit.status != Visit.Status.BOOKED:
            raise ValidationError(
                f"A visit that is {visit.get_status_display().lower()} cannot start: book it first."
            )
        if DosingSession.objects.filter(visit=visit).exists():
            raise ValidationError("This visit's dosing session is already open.")
        session = DosingSession(visit=visit, participant=visit.participant, started_by=by)
        session.full_clean()
        session.save()
    return session


def _not_in_future(field: str, moment: datetime.datetime | None) -> None:
    # The log records what happened: a time still to come is a typing error.
    if moment is not None and moment > timezone.now():
        raise ValidationError({field: "This time is in the future."})


def _signed(session: DosingSession) -> bool:
    return SessionSignature.objects.filter(
        dosing_session=session, revision=session.revision
    ).exists()


def _lock(session: DosingSession) -> DosingSession:
    return (
        DosingSession.objects.select_for_update(of=("self",))
        .select_related("visit__protocol_version", "participant__site")
        .get(pk=session.pk)
    )


def _changing(session: DosingSession, values: dict[str, Any]) -> list[str]:
    """Saved values the change would alter (filling an empty field is not a change)."""

    def untouched(name: str) -> bool:
        saved = getattr(session, name)
        return saved in (None, "", False) or (
            saved == cast("Field[Any, Any]", DosingSession._meta.get_field(name)).default
        )

    return [
        name
        for name, value in values.items()
        if not untouched(name) and getattr(session, name) != value
    ]


def _revise(session: DosingSession, values: dict[str, Any], reason: str) -> str:
    """Apply values; changing saved values or a signed log needs a reason and a new revision."""
    changed, signed = _changing(session, values), _signed(session)
    if changed or signed:
        reason = require_reason(reason)
    for name, value in values.items():
        setattr(session, name, value)
    if signed:
        session.revision += 1  # the signatures given stay on record, for the old revision
    return reason


def dosing_session_update(
    *, session: DosingSession, values: dict[str, Any], by: User, reason: str = ""
) -> DosingSession:
    """Fill in the checklist, the day's notes or the release; saved values change with a reason."""
    unknown = set(values) - set(LOG_FIELDS)
    if unknown:
        raise ValidationError({name: "Not part of the session log." for name in sorted(unknown)})
    _not_in_future("ended_at", values.get("ended_at"))
    with transaction.atomic():
        session = _lock(session)
        require_role(by, session.participant, roles=CARE_TEAM)
        reason = _revise(session, values, reason)
        session.full_clean()
        with audit_context(by=by, reason=reason or "Dosing session log updated"):
            session.save()
    return session


def predose_problems(session: DosingSession) -> list[str]:
    """Why the dose cannot be given yet (empty when it can)."""
    participant = session.participant
    problems = []
    if participant.eligibility_signature_id is None:
        problems.append("Eligibility is no longer confirmed by an investigator.")
    if reconsent_pending(participant):
        problems.append("The participant must re-consent to the form now in effect.")
    if not (session.eligibility_confirmed and session.consent_current):
        problems.append("Confirm eligibility and consent on the checklist.")
    if not session.medications_stopped or session.washout_days is None:
        problems.append("Confirm contraindicated medications stopped, with the washout days.")
    if session.pregnancy_test == "positive":
        problems.append("A positive pregnancy test excludes dosing.")
    problems.extend(_vitals_problems(session))
    return problems


def vitals_out_of_range(session: DosingSession) -> list[str]:
    """Pre-dose vitals above the protocol's dosing_safety limits."""
    limits = session.visit.protocol_version.content["trial"]["dosing_safety"]
    return [
        f"Pre-dose {label} {getattr(session, field)} is above the limit of {limits[limit]}."
        for field, limit, label in PREDOSE_LIMITS
        if limits.get(limit) is not None and (getattr(session, field) or 0) > limits[limit]
    ]


def _vitals_problems(session: DosingSession) -> list[str]:
    if None in (session.predose_systolic, session.predose_diastolic, session.predose_heart_rate):
        return ["Record the pre-dose blood pressure and heart rate."]
    if session.vitals_override_id is not None:
        return []
    out = vitals_out_of_range(session)
    return [*out, "An investigator must override before dosing."] if out else []


def dosing_session_override_vitals(
    *, session: DosingSession, investigator: User, password: str, reason: str
) -> Signature:
    """An investigator permits dosing despite out-of-range pre-dose vitals: signed, with reason."""
    reason = require_reason(reason)
    with transaction.atomic(), audit_context(by=investigator, reason=reason):
        session = _lock(session)
        participant = session.participant
        require_role(investigator, participant, roles=(Role.INVESTIGATOR,))
        if not vitals_out_of_range(session):
            raise ValidationError("The pre-dose vitals are within the limits: no override needed.")
        signature = signature_sign(
            participant=participant,
            signer=investigator,
            password=password,
            meaning=Signature.Meaning.VITALS_OVERRIDE,
            statement=reason,
        )
        session.vitals_override = signature
        session.save(update_fields=["vitals_override"])
    return signature


def dosing_session_give_dose(
    *,
    session: DosingSession,
    kit_code: str,
    lot_number: str,
    dosed_at: datetime.datetime,
    route: str,
    by: User,
) -> DosingSession:
    """Record the dose (T0). The kit must be the participant's own: the arm is never shown."""
    _not_in_future("dosed_at", dosed_at)
    with transaction.atomic():
        session = _lock(session)
        require_role(by, session.participant, roles=CARE_TEAM)
        if session.status != DosingSession.Status.IN_PROGRESS:
            raise ValidationError("The dose of this session is already recorded.")
        problems = predose_problems(session)
        check_dosing_team(
            session.visit,
            _team(session.visit),
            on=local_date(dosed_at, session.participant.site.time_zone),
        )
        if problems:
            raise ValidationError(problems)
        allocated = AllocationSlot.objects.get(participant=session.participant)
        if kit_code.strip().upper() != allocated.kit_code:
            raise ValidationError({"kit_code": "This is not the kit allocated to the participant."})
        with audit_context(by=by, reason="Dose given"):
            session.kit_code, session.lot_number = allocated.kit_code, lot_number
            session.dosed_at, session.route = dosed_at, route
            session.status = DosingSession.Status.GIVEN
            session.full_clean()
            session.save()
            _after_dose(session, by)
    return session


def _after_dose(session: DosingSession, by: User) -> None:
    visit = session.visit
    visit.status = Visit.Status.COMPLETED
    visit.save(update_fields=["status"])
    reminders_cancel([visit.pk], "The dose is given.")
    if session.participant.status == Status.RANDOMIZED:
        participant_change_status(
            participant=session.participant,
            to_status=Status.IN_TREATMENT,
            reason="First dose given",
            by=by,
        )
    # The visits anchored on this dose are dated by a task after commit (and by the
    # reconciliation if the message is lost): trials.sessions.services.
    after_commit("trials.sessions.tasks.schedule_after_dosing", visit.pk)


def dosing_session_supplement(
    *, session: DosingSession, dosed_at: datetime.datetime, lot_number: str, by: User
) -> DosingSession:
    """Record the optional supplemental dose where the protocol's arms have one."""
    _not_in_future("supplement_at", dosed_at)
    with transaction.atomic():
        session = _lock(session)
        require_role(by, session.participant, roles=CARE_TEAM)
        arm = AllocationSlot.objects.select_related("arm").get(participant=session.participant).arm
        if len(arm.dose_mg) < 2:
            raise ValidationError("The protocol has no supplemental dose.")
        if session.status != DosingSession.Status.GIVEN:
            raise ValidationError("Record the first dose before the supplement.")
        if session.supplemental_dosed_at is not None:
            raise ValidationError("The supplemental dose is already recorded.")
        with audit_context(by=by, reason="Supplemental dose given"):
            session.supplemental_dosed_at, session.supplemental_lot_number = dosed_at, lot_number
            session.full_clean()
            session.save()
    return session


def dosing_session_not_given(*, session: DosingSession, reason: str, by: User) -> DosingSession:
    """The session ended without a dose (refused, unwell, safety): the reason is recorded."""
    reason = require_reason(reason)
    with transaction.atomic(), audit_context(by=by, reason=reason):
        session = _lock(session)
        require_role(by, session.participant, roles=CARE_TEAM)
        if session.status != DosingSession.Status.IN_PROGRESS:
            raise ValidationError("The dose of this session is already recorded.")
        session.status, session.not_given_reason = DosingSession.Status.NOT_GIVEN, reason
        session.save(update_fields=["status", "not_given_reason"])
    return session


def vital_sign_add(
    *, session: DosingSession, values: dict[str, Any], by: User, reason: str = ""
) -> VitalSign:
    """Add a row to the vitals grid; after signing it needs a reason and new signatures."""
    _not_in_future("measured_at", values.get("measured_at"))
    with transaction.atomic():
        session = _lock(session)
        require_role(by, session.participant, roles=CARE_TEAM)
        if session.status == DosingSession.Status.NOT_GIVEN:
            raise ValidationError("This session ended without a dose.")
        vital = VitalSign(
            dosing_session=session, participant=session.participant, recorded_by=by, **values
        )
        vital.full_clean()
        reason = _revise(session, {}, reason)
        with audit_context(by=by, reason=reason or "Vital signs recorded"):
            vital.save()
            session.save(update_fields=["revision"])
    return vital


def dosing_session_sign(*, session: DosingSession, signer: User, password: str) -> SessionSignature:
    """An assigned facilitator signs the complete log (this revision of it)."""
    with transaction.atomic():
        session = _lock(session)
        require_role(signer, session.participant, roles=CARE_TEAM)
        facilitator = Facilitator.objects.filter(user=signer).first()
        if (
            facilitator is None
            or not VisitFacilitator.objects.filter(
                visit=session.visit, facilitator=facilitator
            ).exists()
        ):
            raise ValidationError("Only a facilitator of this session signs its log.")
        if session.status == DosingSession.Status.IN_PROGRESS:
            raise ValidationError("Record the dose, or why it was not given, before signing.")
        if session.status == DosingSession.Status.GIVEN and not _released(session):
            raise ValidationError("Complete the end time and the release checklist first.")
        if SessionSignature.objects.filter(
            dosing_session=session, facilitator=facilitator, revision=session.revision
        ).exists():
            raise ValidationError("You already signed this version of the log.")
        with audit_context(by=signer, reason="Dosing session log signed"):
            signature = signature_sign(
                participant=session.participant,
                signer=signer,
                password=password,
                meaning=Signature.Meaning.DOSING_LOG_SIGNED,
            )
            return SessionSignature.objects.create(
                dosing_session=session,
                signature=signature,
                facilitator=facilitator,
                revision=session.revision,
            )


def _released(session: DosingSession) -> bool:
    return session.ended_at is not None and all(
        (
            session.release_alert_and_oriented,
            session.release_vitals_stable,
            session.release_escort_arranged,
        )
    )


THERAPY_KINDS = (Visit.Kind.PREPARATION, Visit.Kind.INTEGRATION)


def therapy_session_record(*, visit: Visit, values: dict[str, Any], by: User) -> TherapySession:
    """Log a preparation or integration session: attended, or missed with the reason."""
    with transaction.atomic():
        visit = (
            Visit.objects.select_for_update(of=("self",))
            .select_related("participant")
            .get(pk=visit.pk)
        )
        require_role(by, visit.participant, roles=CARE_TEAM)
        if visit.kind not in THERAPY_KINDS:
            raise ValidationError("Only preparation and integration sessions are logged here.")
        if visit.status == Visit.Status.AWAITING_DOSING:
            raise ValidationError(
                f"This session follows {visit.anchor}, which has not been given yet."
            )
        if visit.status not in (Visit.Status.SCHEDULED, Visit.Status.BOOKED):
            raise ValidationError(f"This visit is {visit.get_status_display().lower()}.")
        session = TherapySession(
            visit=visit, participant=visit.participant, recorded_by=by, **values
        )
        session.full_clean(exclude=["visit"])
        reason = (
            "Session attended" if session.attended else f"Session missed: {session.missed_reason}"
        )
        with audit_context(by=by, reason=reason):
            session.save()
            visit.status = Visit.Status.COMPLETED if session.attended else Visit.Status.MISSED
            visit.save(update_fields=["status"])
            reminders_cancel([visit.pk], "The session is logged.")
    return session
