"""Reads for facilitators: sessions, calendar feed, credential summaries and qualification."""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast
from zoneinfo import ZoneInfo

import icalendar
from django.db.models import Prefetch, Q, QuerySet

from trials.facilitators.models import Credential, Facilitator
from trials.sessions.models import EventKind, Visit, VisitFacilitator, VisitStatus
from trials.study.models import Membership, ProtocolVersion, Role, Site, Trial
from trials.study.sitetime import local_date

if TYPE_CHECKING:
    from trials.study.models import AnyUser


EXPIRY_WARNING_DAYS = 30


@dataclass(frozen=True)
class Qualification:
    qualified: bool
    problems: tuple[str, ...]


def credential_state(credential: Credential, on: datetime.date) -> str:
    """'valid', 'expiring' (within 30 days) or 'lapsed'."""
    if credential.expires_on is None:
        return "valid"
    if credential.expires_on < on:
        return "lapsed"
    if credential.expires_on <= on + datetime.timedelta(days=EXPIRY_WARNING_DAYS):
        return "expiring"
    return "valid"


def qualification(
    credentials: Iterable[Credential], requirements: Mapping[str, Any], on: datetime.date
) -> Qualification:
    """Check a facilitator's credentials against the protocol's facilitator_requirements."""
    credentials = list(credentials)
    problems = []
    licences = [c for c in credentials if c.kind == Credential.Kind.LICENCE]
    if requirements.get("licensed", True):
        if not licences:
            problems.append("no professional licence on record")
        elif all(credential_state(c, on) == "lapsed" for c in licences):
            latest = max(cast(datetime.date, c.expires_on) for c in licences)  # lapsed: dated
            problems.append(f"licence lapsed on {latest:%Y-%m-%d}")
    hours = sum(
        c.hours or 0
        for c in credentials
        if c.kind == Credential.Kind.TRAINING
        and c.completed_on is not None
        and c.completed_on <= on
        and credential_state(c, on) != "lapsed"
    )
    needed = requirements.get("min_training_hours", 0)
    if hours < needed:
        problems.append(f"{hours} training hours of the {needed} required")
    return Qualification(not problems, tuple(problems))


SESSION_KINDS = (EventKind.PREPARATION, EventKind.DOSING, EventKind.INTEGRATION)
SESSION_LENGTHS = {EventKind.DOSING: datetime.timedelta(hours=8)}
DEFAULT_SESSION_LENGTH = datetime.timedelta(minutes=90)
# Sessions of the past month stay in the feed, so calendar apps keep them and see cancellations.
FEED_PAST_DAYS = 30
FEED_STATUSES = {
    VisitStatus.BOOKED: icalendar.STATUS.CONFIRMED,
    VisitStatus.COMPLETED: icalendar.STATUS.CONFIRMED,
    VisitStatus.MISSED: icalendar.STATUS.CONFIRMED,
    VisitStatus.CANCELLED: icalendar.STATUS.CANCELLED,
}
STATE_LABELS = {
    "valid": "Valid",
    "expiring": f"Expires within {EXPIRY_WARNING_DAYS} days",
    "lapsed": "Lapsed",
}


def facilitator_of(user: AnyUser) -> Facilitator | None:
    """The user's facilitator record, or None; cached on the user for the rest of the request."""
    try:
        return user.facilitator  # type: ignore[union-attr]  # signed-in users only (login_required)
    except Facilitator.DoesNotExist:
        return None


def assigned_sessions(facilitator: Facilitator) -> QuerySet[Visit]:
    """Therapy sessions the facilitator is assigned to, at sites where they still may see them."""
    return (
        Visit.objects.visible_to(facilitator.user)
        .filter(kind__in=SESSION_KINDS, assignments__facilitator=facilitator)
        .select_related("participant__site", "participant__trial")
    )


@dataclass(frozen=True)
class Session:
    visit: Visit
    co_facilitators: list[Facilitator]


def _when(visit: Visit) -> datetime.datetime:
    if visit.starts_at is not None:
        return visit.starts_at
    # A visit to book has its target date.
    midnight = datetime.datetime.combine(cast(datetime.date, visit.target_date), datetime.time.min)
    return midnight.replace(tzinfo=ZoneInfo(visit.participant.site.time_zone))


def _not_past(visit: Visit, now: datetime.datetime) -> bool:
    site_today = local_date(now, visit.participant.site.time_zone)
    if visit.starts_at is not None:
        return local_date(visit.starts_at, visit.participant.site.time_zone) >= site_today
    return cast(datetime.date, visit.window_end) >= site_today


def upcoming_sessions(facilitator: Facilitator, *, now: datetime.datetime) -> list[Session]:
    """Booked or to-book sessions from today (at each site) on, soonest first (two queries)."""
    # Local midnight anywhere is less than a day ago; the exact cut is made per site below.
    since = now - datetime.timedelta(days=1)
    visits = (
        assigned_sessions(facilitator)
        .filter(
            Q(status=VisitStatus.BOOKED, starts_at__gte=since)
            | Q(status=VisitStatus.SCHEDULED, window_end__gte=since.date())
        )
        .prefetch_related(
            Prefetch("assignments", VisitFacilitator.objects.select_related("facilitator__user"))
        )
    )
    upcoming = sorted((v for v in visits if _not_past(v, now)), key=lambda v: (_when(v), v.pk))
    return [
        Session(
            visit,
            [a.facilitator for a in visit.assignments.all() if a.facilitator_id != facilitator.pk],
        )
        for visit in upcoming
    ]


def session_length(visit: Visit) -> datetime.timedelta:
    """How long a session is planned to take: a dosing day, or a therapy hour and a half."""
    return SESSION_LENGTHS.get(EventKind(visit.kind), DEFAULT_SESSION_LENGTH)


def _event(visit: Visit, stamp: datetime.datetime) -> icalendar.Event:
    # Study ID, kind, place and window only: a calendar is no place for who the participant is.
    site = visit.participant.site
    starts_at = cast(datetime.datetime, visit.starts_at).astimezone(datetime.UTC)  # feed: booked
    return icalendar.Event.new(
        uid=f"visit-{visit.pk}@dyad",
        stamp=stamp,
        start=starts_at,
        end=starts_at + session_length(visit),
        summary=f"{visit.get_kind_display()}: {visit.participant.study_id}",
        location=", ".join(part for part in (site.name, visit.room) if part),
        description=(
            f"{visit.label} ({visit.participant.trial.code})\n"
            f"Window: {visit.window_start:%Y-%m-%d} to {visit.window_end:%Y-%m-%d} "
            f"({site.time_zone})"
        ),
        status=FEED_STATUSES[VisitStatus(visit.status)],
    )


def sessions_calendar(facilitator: Facilitator, *, now: datetime.datetime) -> icalendar.Calendar:
    """The facilitator's sessions from a month ago on, as an iCalendar feed (one query)."""
    visits = (
        assigned_sessions(facilitator)
        .filter(
            status__in=list(FEED_STATUSES),
            starts_at__gte=now - datetime.timedelta(days=FEED_PAST_DAYS),
        )
        .order_by("starts_at", "pk")
    )
    calendar = icalendar.Calendar.new(
        prodid="-//Dyad//Facilitator sessions//EN",
        uid=f"facilitator-{facilitator.pk}@dyad",
        name="Dyad sessions",
        method="PUBLISH",
        refresh_interval=datetime.timedelta(hours=1),
    )
    calendar.add("X-PUBLISHED-TTL", datetime.timedelta(hours=1))
    stamp = now.astimezone(datetime.UTC)
    for visit in visits:
        calendar.add_component(_event(visit, stamp))
    return calendar


@dataclass(frozen=True)
class CredentialLine:
    credential: Credential
    state: str

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]


@dataclass(frozen=True)
class TrialQualification:
    trial: Trial
    sites: list[Site]
    protocol_number: int | None
    verdict: Qualification | None


@dataclass(frozen=True)
class CredentialSummary:
    on: datetime.date
    licences: list[CredentialLine]
    trainings: list[CredentialLine]
    training_hours: int
    trials: list[TrialQualification]


def _current_requirements(trial_ids: set[int]) -> dict[int, Mapping[str, Any]]:
    versions = (
        ProtocolVersion.objects.filter(trial_id__in=trial_ids)
        .order_by("trial_id", "-number")
        .distinct("trial_id")
        .values("trial_id", "number", "content__trial__facilitator_requirements")
    )
    return {row["trial_id"]: row for row in versions}


def _verdict(
    version: Mapping[str, Any] | None, credentials: list[Credential], on: datetime.date
) -> Qualification | None:
    if version is None:
        return None
    requirements = version["content__trial__facilitator_requirements"] or {}
    return qualification(credentials, requirements, on)


def _trial_qualifications(
    facilitator: Facilitator, credentials: list[Credential], viewer: AnyUser, on: datetime.date
) -> list[TrialQualification]:
    memberships = (
        Membership.objects.filter(user_id=facilitator.user_id, role=Role.FACILITATOR)
        .filter(trial__in=Trial.objects.visible_to(viewer))
        .select_related("trial", "site")
        .order_by("trial__code", "site__code")
    )
    sites: dict[Trial, list[Site]] = {}
    for membership in memberships:
        sites.setdefault(membership.trial, []).append(cast(Site, membership.site))  # at a site
    versions = _current_requirements({trial.pk for trial in sites})
    return [
        TrialQualification(
            trial=trial,
            sites=trial_sites,
            protocol_number=versions[trial.pk]["number"] if trial.pk in versions else None,
            verdict=_verdict(versions.get(trial.pk), credentials, on),
        )
        for trial, trial_sites in sites.items()
    ]


def facilitator_credentials(
    facilitator: Facilitator, *, viewer: AnyUser, on: datetime.date
) -> CredentialSummary:
    """Credentials and their state on a day; the verdict in each trial shared with the viewer."""
    credentials = list(facilitator.credentials.all())
    lines = [CredentialLine(c, credential_state(c, on)) for c in credentials]
    return CredentialSummary(
        on=on,
        licences=[line for line in lines if line.credential.kind == Credential.Kind.LICENCE],
        trainings=[line for line in lines if line.credential.kind == Credential.Kind.TRAINING],
        training_hours=sum(c.hours or 0 for c in credentials if c.kind == Credential.Kind.TRAINING),
        trials=_trial_qualifications(facilitator, credentials, viewer, on),
    )
