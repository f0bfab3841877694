"""The text of each kind of reminder and alert."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.template.loader import render_to_string

from trials.enrollment.models import needs_reconsent
from trials.notifications.models import Audience, Notification, NotificationKind
from trials.participants.models import Participant, ParticipantContact
from trials.safety.models import AdverseEvent
from trials.sessions.models import Visit
from trials.sponsor_api.pseudonyms import pseudonym
from trials.study.models import Membership, Role

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from trials.enrollment.models import Unblinding
    from trials.facilitators.models import Credential
    from trials.safety.models import SuicideRiskScreen
    from trials.study.models import Trial

# A notification's kind and audience say which of its nullable links are set; the casts
# below read those links.
Kind = NotificationKind


class NoAddress(Exception):
    """The recipient has no e-mail address: the attempt fails and is retried later."""


@dataclass(frozen=True)
class Message:
    to_address: str
    subject: str
    body: str
    missing: str = ""


def _local(moment: datetime.datetime, time_zone: str) -> str:
    return f"{moment.astimezone(ZoneInfo(time_zone)):%A %d %B %Y at %H:%M} ({time_zone})"


def _link(path: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{path}"


def _address(notification: Notification) -> tuple[str, str]:
    """The recipient's address now, and what is missing if there is none."""
    if notification.audience == Audience.USER:
        user = cast("User", notification.recipient)
        return user.email, f"{user.get_username()} has no e-mail address"
    if notification.audience == Audience.PARTICIPANT:
        contact = ParticipantContact.objects.filter(participant=notification.participant).first()
        return (contact.email if contact else ""), "the participant has no e-mail address"
    sponsor = cast("Trial", notification.trial).sponsor
    return sponsor.safety_contact_email, f"{sponsor.name} has no safety contact e-mail"


def compose(notification: Notification, now: datetime.datetime) -> Message:
    to_address, missing = _address(notification)
    subject, body = COMPOSERS[notification.kind](notification, now)
    return Message(to_address=to_address, subject=subject, body=body, missing=missing)


def _reminder(notification: Notification, now: datetime.datetime) -> tuple[str, str]:
    visit = cast(Visit, notification.visit)
    participant = visit.participant
    site = participant.site
    when = _local(cast(datetime.datetime, visit.starts_at), site.time_zone)  # a booked visit
    if notification.audience == Audience.PARTICIPANT:
        return (
            f"Reminder: your appointment on {when}",
            f"This is a reminder of your appointment at {site.name} on {when}"
            f"{f', room {visit.room}' if visit.room else ''}.\n\n"
            "If you cannot come, please call the study team as soon as you can.\n",
        )
    hours = 48 if notification.kind == Kind.REMINDER_48H else 24
    return (
        f"[Dyad] In {hours} h: {visit.label} for {participant.study_id}",
        f"{visit.label} for {participant.study_id} ({participant.trial.code}, site {site.code}) "
        f"is booked for {when}{f', room {visit.room}' if visit.room else ''}.\n\n"
        f"{_link(f'/participants/{participant.study_id}/')}\n",
    )


def _missed(notification: Notification, now: datetime.datetime) -> tuple[str, str]:
    visit = cast(Visit, notification.visit)
    participant = visit.participant
    return (
        f"[Dyad] Missed: {visit.label} for {participant.study_id}",
        f"The window of {visit.label} for {participant.study_id} ({participant.trial.code}, "
        f"site {participant.site.code}) closed on {visit.window_end:%Y-%m-%d} with nothing "
        "logged. The visit is marked missed.\n\n"
        f"{_link(f'/participants/{participant.study_id}/')}\n",
    )


def _who(notification: Notification) -> str:
    """The participant as this recipient may know them."""
    participant = cast(Participant, notification.participant)
    if notification.audience == Audience.SPONSOR_SAFETY:
        return (
            f"participant {pseudonym(participant.trial.sponsor.pseudonym_secret, participant.pk)}"
        )
    return participant.study_id


def _footer(notification: Notification, path: str) -> str:
    if notification.audience == Audience.SPONSOR_SAFETY:
        return ""
    return f"\n{_link(path)}\n"


def _serious_adverse_event(notification: Notification, now: datetime.datetime) -> tuple[str, str]:
    event = cast(AdverseEvent, notification.adverse_event)
    participant = cast(Participant, notification.participant)
    criteria = ", ".join(event.seriousness_criteria()) or "serious"
    return (
        f"[Dyad] URGENT: serious adverse event, {_who(notification)} ({participant.trial.code})",
        f"A serious adverse event was reported for {_who(notification)} in "
        f"{participant.trial.code} at site {participant.site.code}.\n"
        f"Term: {event.term}\nOnset: {event.onset_at:%Y-%m-%d %H:%M} UTC\n"
        f"Seriousness: {criteria}\nSeverity: {event.get_severity_display()}\n"
        f"Relatedness: {event.get_relatedness_display()}\n"
        + _footer(notification, f"/adverse-events/{event.pk}/"),
    )


def _active_ideation(notification: Notification, now: datetime.datetime) -> tuple[str, str]:
    screen = cast("SuicideRiskScreen", notification.risk_screen)
    participant = cast(Participant, notification.participant)
    return (
        f"[Dyad] URGENT: active suicidal ideation, {_who(notification)} ({participant.trial.code})",
        f"A C-SSRS screen recorded at {screen.assessed_at:%Y-%m-%d %H:%M} UTC for "
        f"{_who(notification)} ({participant.trial.code}, site {participant.site.code}) "
        "indicates active suicidal ideation. Assess the participant now.\n"
        + _footer(notification, f"/participants/{participant.study_id}/"),
    )


def _unblinding(notification: Notification, now: datetime.datetime) -> tuple[str, str]:
    unblinding = cast("Unblinding", notification.unblinding)
    participant = cast(Participant, notification.participant)
    return (
        f"[Dyad] Emergency unblinding in {participant.trial.code}",
        f"An investigator at site {participant.site.code} unblinded {_who(notification)} on "
        f"{unblinding.unblinded_at:%Y-%m-%d %H:%M} UTC.\nReason: {unblinding.reason}\n"
        + _footer(notification, f"/participants/{participant.study_id}/"),
    )


def _credential_expiry(notification: Notification, now: datetime.datetime) -> tuple[str, str]:
    credential = cast("Credential", notification.credential)
    facilitator = credential.facilitator
    what = credential.get_kind_display().lower()
    detail = credential.licence_type or credential.programme
    return (
        f"[Dyad] {facilitator}'s {what} lapses on {credential.expires_on:%Y-%m-%d}",
        f"The {what}{f' ({detail})' if detail else ''} of {facilitator} lapses on "
        f"{credential.expires_on:%Y-%m-%d}. After that day {facilitator} cannot be assigned to "
        "dosing sessions that require it. Record the renewal in Dyad.\n"
        f"{_link(f'/facilitators/{facilitator.pk}/')}\n",
    )


def digest_sections(user_id: int, day: datetime.date) -> list[dict]:
    """What a coordinator's day holds, one section per trial and site they coordinate."""
    sections = []
    memberships = (
        Membership.objects.filter(user_id=user_id, role=Role.COORDINATOR)
        .select_related("trial", "site")
        .order_by("trial__code", "site__code")
    )
    tomorrow = day + datetime.timedelta(days=1)
    for membership in memberships:
        here = {"participant__trial": membership.trial, "participant__site": membership.site}
        visits = Visit.objects.filter(**here).select_related("participant")
        sections.append(
            {
                "trial": membership.trial,
                "site": membership.site,
                "due": visits.due_between(day, tomorrow).order_by("window_end", "participant"),
                "missed": visits.filter(
                    status=Visit.Status.MISSED,
                    window_end__gte=day - datetime.timedelta(days=7),
                ).order_by("-window_end"),
                "reconsents": Participant.objects.filter(
                    trial=membership.trial, site=membership.site
                )
                .filter(needs_reconsent(day))
                .order_by("study_id"),
                "unsigned": AdverseEvent.objects.filter(**here)
                .unsigned()
                .select_related("participant")
                .order_by("onset_at"),
            }
        )
    return sections


def _digest(notification: Notification, now: datetime.datetime) -> tuple[str, str]:
    day = datetime.date.fromisoformat(notification.data["date"])
    body = render_to_string(
        "notifications/daily_digest.txt",
        {
            "day": day,
            "sections": digest_sections(cast(int, notification.recipient_id), day),
            "link": _link("/participants/"),
        },
    )
    return f"[Dyad] Your day, {day:%A %d %B %Y}", body


COMPOSERS: dict[str, Callable[[Notification, datetime.datetime], tuple[str, str]]] = {
    Kind.REMINDER_48H: _reminder,
    Kind.REMINDER_24H: _reminder,
    Kind.PARTICIPANT_REMINDER: _reminder,
    Kind.VISIT_MISSED: _missed,
    Kind.SERIOUS_ADVERSE_EVENT: _serious_adverse_event,
    Kind.ACTIVE_IDEATION: _active_ideation,
    Kind.UNBLINDING: _unblinding,
    Kind.CREDENTIAL_EXPIRY: _credential_expiry,
    Kind.DAILY_DIGEST: _digest,
}
