"""Planning, sweeping and delivering reminders and alerts.

Nothing here acts for a user, so no role is checked here: the planners (reminders_plan,
reminders_cancel, safety_alert) run inside the transaction of a service that checked its
user's role, and the sweeps and deliveries run as the system, from tasks and the beat.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
from collections.abc import Iterable, Sequence
from typing import cast
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from trials.audit import audit_context
from trials.enrollment.models import Unblinding
from trials.facilitators.models import Credential
from trials.notifications import messages
from trials.notifications.models import (
    REMINDER_KINDS,
    Audience,
    Delivery,
    Notification,
    NotificationKind,
)
from trials.participants.models import Participant, ParticipantContact
from trials.queue import after_commit
from trials.safety.models import AdverseEvent, Assessment, SuicideRiskScreen
from trials.sessions.models import DosingSession, TherapySession, Visit, VisitFacilitator
from trials.study.models import Membership, Role, Site

logger = logging.getLogger(__name__)
Kind = NotificationKind
Status = Notification.Status

REMINDER_LEAD: dict[str, datetime.timedelta] = {
    Kind.REMINDER_48H: datetime.timedelta(hours=48),
    Kind.REMINDER_24H: datetime.timedelta(hours=24),
    Kind.PARTICIPANT_REMINDER: datetime.timedelta(hours=24),
}
# The reminder planner looks this far ahead (the longest lead, and an hour to spare).
PLANNING_HORIZON = datetime.timedelta(hours=49)
FIRST_RETRY = datetime.timedelta(minutes=1)
LONGEST_RETRY = datetime.timedelta(hours=1)
# A digest not delivered within a day is stale: the next day's replaces it.
DIGEST_LIFETIME = datetime.timedelta(hours=24)
CREDENTIAL_NOTICE = datetime.timedelta(days=30)
DIGEST_HOUR = 6
SEND_BATCH = 200
DELIVER_TASK = "trials.notifications.tasks.deliver_notifications"


def _insert(rows: Sequence[Notification]) -> list[int]:
    """Insert the rows not already made (by key); returns the pks of the pending ones."""
    if not rows:
        return []
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    return list(
        Notification.objects.filter(
            key__in=[row.key for row in rows], status=Status.PENDING
        ).values_list("pk", flat=True)
    )


def _new(key: str, kind: str, due_at: datetime.datetime, **fields: object) -> Notification:
    return Notification(key=key, kind=kind, due_at=due_at, next_attempt_at=due_at, **fields)


def _to(audience: str, user_id: int | None = None) -> str:
    return f"user:{user_id}" if audience == Audience.USER else audience


def _coordinator_ids(trial_id: int, site_id: int) -> list[int]:
    return list(
        Membership.objects.filter(
            trial_id=trial_id, site_id=site_id, role=Role.COORDINATOR, user__is_active=True
        )
        .values_list("user_id", flat=True)
        .distinct()
    )


# --- Reminders ---------------------------------------------------------------------------


def _reminder_rows(visit: Visit, now: datetime.datetime) -> list[Notification]:
    """The reminders the visit's current booking calls for, whose time has not passed."""
    if visit.status != Visit.Status.BOOKED or visit.starts_at is None:
        return []
    stamp = visit.starts_at.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
    team = VisitFacilitator.objects.filter(visit=visit).values_list(
        "facilitator__user_id", flat=True
    )
    wanted: list[tuple[str, str, int | None]] = [
        (kind, Audience.USER, user_id)
        for user_id in team
        for kind in (Kind.REMINDER_48H, Kind.REMINDER_24H)
    ]
    contact = ParticipantContact.objects.filter(participant_id=visit.participant_id).first()
    if contact is not None and contact.may_contact and contact.email:
        wanted.append((Kind.PARTICIPANT_REMINDER, Audience.PARTICIPANT, None))
    rows = []
    for kind, audience, user_id in wanted:
        due_at = visit.starts_at - REMINDER_LEAD[kind]
        if due_at <= now:
            continue  # booked too late for this one
        rows.append(
            _new(
                f"{kind}:visit:{visit.pk}:{stamp}:{_to(audience, user_id)}",
                kind,
                due_at,
                audience=audience,
                recipient_id=user_id,
                trial_id=visit.participant.trial_id,
                participant_id=visit.participant_id,
                visit=visit,
                visit_starts_at=visit.starts_at,
            )
        )
    return rows


def reminders_plan(visit: Visit, now: datetime.datetime | None = None) -> int:
    """Bring a visit's reminders in line with its booking; call it in the booking's transaction.

    Reminders for another time or for someone no longer on the visit are cancelled; those the
    booking calls for are made, or reinstated if a reschedule had cancelled them (booked back
    to the same time). Returns how many are now pending.
    """
    now = now or timezone.now()
    rows = _reminder_rows(visit, now)
    keys = [row.key for row in rows]
    planned = Notification.objects.filter(visit=visit, kind__in=REMINDER_KINDS)
    planned.filter(status=Status.PENDING).exclude(key__in=keys).update(
        status=Status.CANCELLED, closed_reason="The booking changed."
    )
    planned.filter(status=Status.CANCELLED, key__in=keys).update(
        status=Status.PENDING, closed_reason=""
    )
    return len(_insert(rows))


def reminders_cancel(visits: Iterable[int], reason: str) -> int:
    """Cancel the pending reminders of visits that will not take place as booked."""
    return Notification.objects.filter(
        visit_id__in=list(visits), kind__in=REMINDER_KINDS, status=Status.PENDING
    ).update(status=Status.CANCELLED, closed_reason=reason)


def reminders_plan_upcoming(now: datetime.datetime | None = None) -> int:
    """Reconciliation: every visit booked to start within the horizon has its reminders.

    Inserts only what is missing, so a reminder a reschedule cancelled stays cancelled.
    """
    now = now or timezone.now()
    made = 0
    planned = Notification.objects.filter(
        visit=OuterRef("pk"), kind__in=REMINDER_KINDS, visit_starts_at=OuterRef("starts_at")
    )
    # Bookings whose reminders were never planned (the booking writes them; a visit booked
    # before reminders existed, or by a path that forgot, has none for its time).
    visits = (
        Visit.objects.filter(
            status=Visit.Status.BOOKED, starts_at__gt=now, starts_at__lte=now + PLANNING_HORIZON
        )
        .exclude(Exists(planned))
        .select_related("participant")
    )
    for visit in visits.iterator(chunk_size=500):
        made += len(_insert(_reminder_rows(visit, now)))
    return made


def _reminder_obsolete(notification: Notification, now: datetime.datetime) -> str:
    """Why a reminder must not go out any more, or '' if it still should."""
    visit = notification.visit
    if visit is None:
        return "The visit is gone."
    if visit.status != Visit.Status.BOOKED:
        return f"The visit is {visit.get_status_display().lower()}."
    if visit.starts_at != notification.visit_starts_at:
        return "The visit was rescheduled."
    if cast(datetime.datetime, visit.starts_at) <= now:  # a booked visit has its time
        return "The visit has started."
    if (
        notification.audience == Audience.USER
        and not VisitFacilitator.objects.filter(
            visit=visit, facilitator__user_id=cast(int, notification.recipient_id)
        ).exists()
    ):
        return "No longer assigned to the visit."
    if notification.audience == Audience.PARTICIPANT:
        contact = ParticipantContact.objects.filter(participant_id=visit.participant_id).first()
        if contact is None or not contact.may_contact:
            return "The participant no longer agrees to be contacted."
    return ""


# --- Missed visits -----------------------------------------------------------------------

MISSED_ACTOR = "Dyad (missed-visit sweep)"


def _logged() -> Q:
    """A visit with something recorded at it took place, even if nobody closed it."""
    return Q(
        Exists(DosingSession.objects.filter(visit=OuterRef("pk")))
        | Exists(TherapySession.objects.filter(visit=OuterRef("pk")))
        | Exists(Assessment.objects.filter(visit=OuterRef("pk")))
    )


def visits_mark_missed(now: datetime.datetime | None = None) -> int:
    """Mark missed every visit whose window closed (at its site) with nothing logged.

    The site's coordinators are alerted once per visit; pending reminders are cancelled.
    """
    now = now or timezone.now()
    marked = 0
    for site in Site.objects.all():
        today = now.astimezone(ZoneInfo(site.time_zone)).date()
        with transaction.atomic():
            closed = list(
                Visit.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(
                    status__in=[Visit.Status.SCHEDULED, Visit.Status.BOOKED],
                    window_end__lt=today,
                    participant__site=site,
                )
                .exclude(_logged())
                .select_related("participant")
            )
            if not closed:
                continue
            with audit_context(by=None, reason="Window closed, nothing logged", actor=MISSED_ACTOR):
                Visit.objects.filter(pk__in=[visit.pk for visit in closed]).update(
                    status=Visit.Status.MISSED
                )
            reminders_cancel([visit.pk for visit in closed], "The visit was missed.")
            rows = [
                _new(
                    f"{Kind.VISIT_MISSED}:visit:{visit.pk}:user:{user_id}",
                    Kind.VISIT_MISSED,
                    now,
                    audience=Audience.USER,
                    recipient_id=user_id,
                    trial_id=visit.participant.trial_id,
                    participant_id=visit.participant_id,
                    visit=visit,
                )
                for visit in closed
                for user_id in _coordinator_ids(visit.participant.trial_id, site.pk)
            ]
            after_commit(DELIVER_TASK, _insert(rows))
            marked += len(closed)
    return marked


# --- Safety alerts -----------------------------------------------------------------------


def _investigator_ids(participant: Participant) -> list[int]:
    return list(
        Membership.objects.filter(
            trial_id=participant.trial_id,
            site_id=participant.site_id,
            role=Role.INVESTIGATOR,
            user__is_active=True,
        )
        .values_list("user_id", flat=True)
        .distinct()
    )


def safety_alert(
    *,
    kind: str,
    participant: Participant,
    adverse_event: AdverseEvent | None = None,
    risk_screen: SuicideRiskScreen | None = None,
    unblinding: Unblinding | None = None,
) -> list[int]:
    """Alert the site's investigators and the sponsor's safety contact; sent after commit.

    Call it inside the transaction that records the event. Each recipient gets one row, sent
    at once by a task and retried with backoff by the sweep until delivered.
    """
    event = adverse_event or risk_screen or unblinding
    if event is None:
        raise ValueError("A safety alert is about an adverse event, a screen or an unblinding.")
    now = timezone.now()
    recipients: list[tuple[Audience, int | None]] = [
        (Audience.USER, user_id) for user_id in _investigator_ids(participant)
    ]
    recipients.append((Audience.SPONSOR_SAFETY, None))
    if len(recipients) == 1:
        logger.error(
            "No investigator at %s to alert about %s (%s)",
            participant.site_id,
            participant.study_id,
            kind,
        )
    rows = [
        _new(
            f"{kind}:{event.pk}:{_to(audience, user_id)}",
            kind,
            now,
            audience=audience,
            recipient_id=user_id,
            trial_id=participant.trial_id,
            participant=participant,
            adverse_event=adverse_event,
            risk_screen=risk_screen,
            unblinding=unblinding,
        )
        for audience, user_id in recipients
    ]
    pks = _insert(rows)
    after_commit(DELIVER_TASK, pks)
    return pks


# --- Credentials and digests -------------------------------------------------------------


def credential_expiry_alerts(now: datetime.datetime | None = None) -> int:
    """Alert facilitators and their sites' coordinators 30 days before a credential lapses.

    Once per credential and expiry date: a renewed credential with a new date alerts again.
    """
    now = now or timezone.now()
    today = now.date()
    expiring = Credential.objects.filter(
        expires_on__gte=today, expires_on__lte=today + CREDENTIAL_NOTICE
    ).select_related("facilitator")
    rows: list[Notification] = []
    for credential in expiring:
        user_id = credential.facilitator.user_id
        memberships = Membership.objects.filter(user_id=user_id, role=Role.FACILITATOR)
        recipients = {user_id}
        for trial_id, site_id in memberships.values_list("trial_id", "site_id"):
            recipients.update(_coordinator_ids(trial_id, site_id))
        rows.extend(
            _new(
                f"{Kind.CREDENTIAL_EXPIRY}:{credential.pk}:{credential.expires_on}:user:{uid}",
                Kind.CREDENTIAL_EXPIRY,
                now,
                audience=Audience.USER,
                recipient_id=uid,
                credential=credential,
            )
            for uid in sorted(recipients)
        )
    return len(_insert(rows))


def digests_plan(now: datetime.datetime | None = None) -> int:
    """Each coordinator's digest for their day, made once from 06:00 at their first site."""
    now = now or timezone.now()
    first_site: dict[int, str] = {}
    coordinators = (
        Membership.objects.filter(role=Role.COORDINATOR, user__is_active=True)
        .select_related("site")
        .order_by("user_id", "site__code")
    )
    for membership in coordinators:
        # A coordinator's membership is at a site.
        first_site.setdefault(membership.user_id, cast(Site, membership.site).time_zone)
    rows = []
    for user_id, time_zone in first_site.items():
        local = now.astimezone(ZoneInfo(time_zone))
        if local.hour < DIGEST_HOUR:
            continue
        rows.append(
            _new(
                f"{Kind.DAILY_DIGEST}:user:{user_id}:{local.date()}",
                Kind.DAILY_DIGEST,
                now,
                audience=Audience.USER,
                recipient_id=user_id,
                data={"date": local.date().isoformat(), "time_zone": time_zone},
            )
        )
    return len(_insert(rows))


# --- Sending -----------------------------------------------------------------------------


def _due(now: datetime.datetime) -> QuerySet[Notification]:
    return (
        Notification.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(status=Status.PENDING, next_attempt_at__lte=now)
        # What composing any kind reads, in the same query (only the claimed row is locked).
        .select_related(
            "recipient",
            "trial__sponsor",
            "participant__site",
            "visit__participant__site",
            "visit__participant__trial",
        )
    )


def notifications_send_due(limit: int = SEND_BATCH, now: datetime.datetime | None = None) -> int:
    """Send up to `limit` due notifications, one row-locked transaction each; returns how many."""
    handled = 0
    while handled < limit:
        with transaction.atomic():
            notification = _due(now or timezone.now()).order_by("next_attempt_at").first()
            if notification is None:
                break
            _deliver_locked(notification, now or timezone.now())
        handled += 1
    return handled


def notifications_deliver(pks: Iterable[int]) -> int:
    """Send these notifications now if they are pending and due (the safety fast path)."""
    handled = 0
    for pk in pks:
        with transaction.atomic():
            notification = _due(timezone.now()).filter(pk=pk).first()
            if notification is not None:
                _deliver_locked(notification, timezone.now())
                handled += 1
    return handled


def _retry_delay(attempts: int) -> datetime.timedelta:
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_RETRY)


def _give_up(notification: Notification, now: datetime.datetime) -> str:
    """Why a failed notification will not be retried, or '' to retry.

    A reminder is retried until its visit starts, when the next attempt closes it instead.
    """
    if notification.kind == Kind.DAILY_DIGEST and now - notification.due_at > DIGEST_LIFETIME:
        return "The digest is out of date."
    return ""  # alerts are retried until delivered


def message_id(notification: Notification) -> str:
    """The same Message-ID on every attempt, so a receiving server can drop a duplicate."""
    digest = hashlib.sha256(notification.key.encode()).hexdigest()[:32]
    return f"<{digest}@{settings.NOTIFICATION_MESSAGE_DOMAIN}>"


def _deliver_locked(notification: Notification, now: datetime.datetime) -> None:
    if notification.kind in REMINDER_KINDS:
        obsolete = _reminder_obsolete(notification, now)
        if obsolete:
            notification.status, notification.closed_reason = Status.CANCELLED, obsolete
            notification.save(update_fields=["status", "closed_reason"])
            return
    notification.attempts += 1
    delivery = Delivery(
        notification=notification,
        attempt=notification.attempts,
        attempted_at=now,
        message_id=message_id(notification),
    )
    try:
        message = messages.compose(notification, now)
        delivery.sent_to, delivery.subject = message.to_address, message.subject[:255]
        if not message.to_address:
            raise messages.NoAddress(message.missing)
        EmailMessage(
            subject=message.subject,
            body=message.body,
            to=[message.to_address],
            headers={"Message-ID": delivery.message_id, "X-Dyad-Notification": notification.key},
        ).send()
    except Exception as error:  # an SMTP error, a refused address, a missing address...
        delivery.outcome, delivery.error = Delivery.Outcome.FAILED, f"{error}"[:2000] or repr(error)
        given_up = _give_up(notification, now)
        if given_up:
            notification.status, notification.closed_reason = Status.FAILED, given_up
        else:
            notification.next_attempt_at = now + _retry_delay(notification.attempts)
        logger.warning(
            "Notification %s attempt %s failed: %s",
            notification.key,
            notification.attempts,
            delivery.error,
        )
    else:
        delivery.outcome = Delivery.Outcome.SENT
        notification.status, notification.sent_at = Status.SENT, now
    delivery.save()
    notification.save(
        update_fields=["attempts", "status", "sent_at", "next_attempt_at", "closed_reason"]
    )
