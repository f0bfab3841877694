"""The schedule: visits made from the protocol's events, booked and rescheduled."""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from trials.audit import audit_context, require_reason
from trials.credentials import qualification
from trials.models import (
    Facilitator,
    Membership,
    Participant,
    ProtocolVersion,
    Role,
    Visit,
    VisitFacilitator,
)
from trials.services.notifications import reminders_cancel, reminders_plan

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

RANDOMIZATION = "randomization"


def local_date(moment: datetime.datetime, time_zone: str) -> datetime.date:
    """The calendar day a moment falls on at a site."""
    return moment.astimezone(ZoneInfo(time_zone)).date()


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
    visits = []
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
        visit.full_clean(validate_constraints=False)
        visits.append(visit)
    # The unique (participant, event_code) constraint makes a second run a no-op, not a copy.
    return Visit.objects.bulk_create(visits, ignore_conflicts=True)


def visit_book(
    *,
    visit: Visit,
    starts_at: datetime.datetime,
    room: str,
    facilitators: Sequence[Facilitator],
    by: AbstractBaseUser,
    reason: str = "",
) -> Visit:
    """Book (or reschedule) a visit. Outside its window, or changing a booking, needs a reason."""
    with transaction.atomic():
        visit = (
            Visit.objects.select_for_update(of=("self",))
            .select_related("participant__site")
            .get(pk=visit.pk)
        )
        if visit.status not in (Visit.Status.SCHEDULED, Visit.Status.BOOKED):
            raise ValidationError(
                f"A visit that is {visit.get_status_display().lower()} cannot be booked."
            )
        day = local_date(starts_at, visit.participant.site.time_zone)
        outside = not (visit.window_start <= day <= visit.window_end)
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


def _assign(visit: Visit, facilitators: Sequence[Facilitator], by: AbstractBaseUser) -> None:
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
    remaining = Visit.objects.filter(
        participant=participant,
        status__in=[Visit.Status.AWAITING_DOSING, Visit.Status.SCHEDULED, Visit.Status.BOOKED],
    )
    reminders_cancel(list(remaining.values_list("pk", flat=True)), "The visit is cancelled.")
    return remaining.update(status=Visit.Status.CANCELLED)


def today_at(site_time_zone: str) -> datetime.date:
    """Today's date at the site."""
    return local_date(timezone.now(), site_time_zone)


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
    events = {event["code"]: event for event in dosing_visit.protocol_version.content["schedule"]}
    waiting = Visit.objects.select_for_update().filter(
        participant_id=dosing_visit.participant_id,
        anchor=dosing_visit.event_code,
        status=Visit.Status.AWAITING_DOSING,
    )
    scheduled = 0
    for visit in waiting:
        for name, value in _dates(events[visit.event_code], dosed_on).items():
            setattr(visit, name, value)
        visit.status = Visit.Status.SCHEDULED
        visit.save(update_fields=["target_date", "window_start", "window_end", "status"])
        scheduled += 1
    return scheduled


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
        if session is None or session.dosed_at is None:
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
