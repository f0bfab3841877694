"""Reminders, missed visits, safety alerts, credential expiry and digests, in-process.

The same services run in the real worker in tests/celery/; here time is passed in (`now=`) so
the rules can be checked at any moment of a visit's life.
"""

import datetime

import pytest
from django.core import mail
from django.db import connection
from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from tests.factories import LicenceFactory
from trials.enrollment.services import participant_exit
from trials.notifications.models import Delivery, Notification
from trials.notifications.services import (
    credential_expiry_alerts,
    digests_plan,
    notifications_send_due,
    reminders_plan,
    reminders_plan_upcoming,
    visits_mark_missed,
)
from trials.participants.models import ParticipantContact
from trials.safety.models import AdverseEvent, Assessment
from trials.safety.services import adverse_event_report, adverse_event_update
from trials.sessions.models import Visit, VisitFacilitator
from trials.sessions.services import visit_book, visits_schedule_pending
from trials.sponsor_api.pseudonyms import pseudonym

Kind = Notification.Kind
HOUR = datetime.timedelta(hours=1)


def _book(visit, starts_at, team, by, reason="Test booking"):
    return visit_book(
        visit=visit, starts_at=starts_at, room="Room 3", facilitators=team, by=by, reason=reason
    )


@pytest.fixture
def prep1(randomized_site_a):
    return Visit.objects.get(participant=randomized_site_a, event_code="PREP1")


@pytest.fixture
def booked_prep1(prep1, dosing_team_site_a, coordinator_site_a):
    starts_at = timezone.now() + datetime.timedelta(days=3)
    return _book(prep1, starts_at, dosing_team_site_a, coordinator_site_a)


def _rows(visit, **filters):
    return sorted(
        Notification.objects.filter(visit=visit, **filters).values_list(
            "kind", "audience", "recipient__username", "status"
        )
    )


def _sent_to():
    return sorted(address for message in mail.outbox for address in message.to)


# --- Reminders -------------------------------------------------------------------------


def test_a_booking_plans_48h_and_24h_reminders_for_each_facilitator_and_24h_for_the_participant(
    booked_prep1,
):
    assert _rows(booked_prep1) == [
        ("participant_reminder", "participant", None, "pending"),
        ("reminder_24h", "user", "facilitator_a1", "pending"),
        ("reminder_24h", "user", "facilitator_a2", "pending"),
        ("reminder_48h", "user", "facilitator_a1", "pending"),
        ("reminder_48h", "user", "facilitator_a2", "pending"),
    ]
    due = {n.kind: n.due_at for n in Notification.objects.filter(visit=booked_prep1)}
    assert due[Kind.REMINDER_48H] == booked_prep1.starts_at - 48 * HOUR
    assert due[Kind.PARTICIPANT_REMINDER] == booked_prep1.starts_at - 24 * HOUR


def test_no_reminder_for_a_participant_who_did_not_agree_to_be_contacted(
    prep1, dosing_team_site_a, coordinator_site_a
):
    ParticipantContact.objects.filter(participant=prep1.participant).update(may_contact=False)
    _book(
        prep1, timezone.now() + datetime.timedelta(days=3), dosing_team_site_a, coordinator_site_a
    )
    assert Notification.objects.filter(visit=prep1, audience="participant").count() == 0


def test_a_booking_made_30_hours_ahead_gets_only_the_24h_reminders(
    prep1, dosing_team_site_a, coordinator_site_a, randomized_site_a
):
    prep1.window_start = timezone.now().date()
    Visit.objects.filter(pk=prep1.pk).update(window_start=timezone.now().date())
    _book(prep1, timezone.now() + 30 * HOUR, dosing_team_site_a, coordinator_site_a)
    assert {kind for kind, *_ in _rows(prep1)} == {"reminder_24h", "participant_reminder"}


def test_rescheduling_cancels_the_old_reminders_and_plans_new_ones_and_back_again_reinstates(
    booked_prep1, dosing_team_site_a, coordinator_site_a
):
    first = booked_prep1.starts_at
    _book(booked_prep1, first + 2 * HOUR, dosing_team_site_a, coordinator_site_a)
    assert Notification.objects.filter(visit=booked_prep1, status="pending").count() == 5
    cancelled = Notification.objects.filter(visit=booked_prep1, status="cancelled")
    assert cancelled.count() == 5
    assert {n.visit_starts_at for n in cancelled} == {first}
    assert {n.closed_reason for n in cancelled} == {"The booking changed."}
    _book(booked_prep1, first, dosing_team_site_a, coordinator_site_a)
    pending = Notification.objects.filter(visit=booked_prep1, status="pending")
    assert {n.visit_starts_at for n in pending} == {first}
    assert pending.count() == 5
    assert Notification.objects.filter(visit=booked_prep1).count() == 10  # no copies


def test_a_facilitator_taken_off_the_visit_gets_no_reminder(
    booked_prep1, dosing_team_site_a, coordinator_site_a
):
    _book(booked_prep1, booked_prep1.starts_at, dosing_team_site_a[:1], coordinator_site_a)
    assert {
        (kind, user) for kind, _, user, status in _rows(booked_prep1) if status == "pending"
    } == {
        ("reminder_48h", "facilitator_a1"),
        ("reminder_24h", "facilitator_a1"),
        ("participant_reminder", None),
    }


def test_the_sweep_sends_what_is_due_once_and_records_the_delivery(booked_prep1):
    at_24h = booked_prep1.starts_at - 24 * HOUR + datetime.timedelta(minutes=1)
    assert notifications_send_due(now=at_24h) == 5
    assert notifications_send_due(now=at_24h) == 0
    assert len(mail.outbox) == 5
    assert _sent_to() == [
        "alex.morgan@example.org",
        "facilitator_a1@example.org",
        "facilitator_a1@example.org",
        "facilitator_a2@example.org",
        "facilitator_a2@example.org",
    ]
    deliveries = Delivery.objects.filter(notification__visit=booked_prep1)
    assert {(d.attempt, d.outcome) for d in deliveries} == {(1, "sent")}
    assert len({d.message_id for d in deliveries}) == 5
    assert all(m.extra_headers["Message-ID"] for m in mail.outbox)


def test_nothing_is_sent_before_it_is_due(booked_prep1):
    assert notifications_send_due(now=booked_prep1.starts_at - 49 * HOUR) == 0
    assert notifications_send_due(now=booked_prep1.starts_at - 47 * HOUR) == 2  # the 48 h pair
    assert _sent_to() == ["facilitator_a1@example.org", "facilitator_a2@example.org"]


def test_the_participant_reminder_names_neither_the_trial_nor_the_treatment(booked_prep1):
    notifications_send_due(now=booked_prep1.starts_at - 23 * HOUR)
    (to_participant,) = [m for m in mail.outbox if m.to == ["alex.morgan@example.org"]]
    text = to_participant.subject + to_participant.body  # type: ignore[operator]  # str, not lazy
    assert "London" in text and "Room 3" in text
    for secret in ("COMP360", "psilocybin", "Preparation", booked_prep1.participant.study_id):
        assert secret.lower() not in text.lower()


def test_a_reminder_for_a_visit_cancelled_by_withdrawal_is_never_sent(
    booked_prep1, coordinator_site_a
):
    participant_exit(
        participant=booked_prep1.participant,
        kind="withdrawn",
        reason="withdrew_consent",
        details="",
        exited_on=timezone.localdate(),
        by=coordinator_site_a,
    )
    assert notifications_send_due(now=booked_prep1.starts_at - HOUR) == 0
    assert mail.outbox == []
    assert {status for *_, status in _rows(booked_prep1)} == {"cancelled"}


def test_a_reminder_whose_visit_changed_behind_its_back_is_cancelled_when_due(booked_prep1):
    # Even a change that bypassed the booking service cannot make a stale reminder go out.
    Visit.objects.filter(pk=booked_prep1.pk).update(starts_at=booked_prep1.starts_at + HOUR)
    notifications_send_due(now=booked_prep1.starts_at - 23 * HOUR)
    assert mail.outbox == []
    assert set(
        Notification.objects.filter(visit=booked_prep1).values_list("closed_reason", flat=True)
    ) == {"The visit was rescheduled."}


def test_a_failed_delivery_is_recorded_and_retried_with_backoff(booked_prep1, settings):
    settings.EMAIL_BACKEND = "tests.trials.test_notifications.RefusingBackend"
    due = booked_prep1.starts_at - 47 * HOUR
    assert notifications_send_due(now=due) == 2
    failed = Notification.objects.filter(visit=booked_prep1, attempts=1)
    assert {(n.status, n.next_attempt_at) for n in failed} == {
        ("pending", due + datetime.timedelta(minutes=1))
    }
    assert notifications_send_due(now=due + datetime.timedelta(seconds=30)) == 0
    assert notifications_send_due(now=due + datetime.timedelta(minutes=1)) == 2
    assert {n.next_attempt_at for n in failed.model.objects.filter(attempts=2)} == {
        due + datetime.timedelta(minutes=1) + datetime.timedelta(minutes=2)
    }
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert notifications_send_due(now=due + datetime.timedelta(minutes=3)) == 2
    outcomes = Delivery.objects.filter(notification__kind=Kind.REMINDER_48H).values_list(
        "attempt", "outcome", "error"
    )
    assert sorted(set(outcomes)) == [
        (1, "failed", "The mail server refused the connection."),
        (2, "failed", "The mail server refused the connection."),
        (3, "sent", ""),
    ]


def test_a_reminder_still_failing_when_the_visit_starts_is_closed_unsent(booked_prep1, settings):
    settings.EMAIL_BACKEND = "tests.trials.test_notifications.RefusingBackend"
    starts = booked_prep1.starts_at
    assert notifications_send_due(now=starts - 23 * HOUR) == 5
    assert notifications_send_due(now=starts - datetime.timedelta(minutes=1)) == 5
    assert set(Notification.objects.values_list("status", "attempts")) == {("pending", 2)}
    assert notifications_send_due(now=starts + datetime.timedelta(minutes=5)) == 5
    assert set(Notification.objects.values_list("status", "attempts", "closed_reason")) == {
        ("cancelled", 2, "The visit has started.")
    }
    assert Delivery.objects.filter(outcome="sent").count() == 0


def test_the_reconciliation_plans_reminders_only_for_bookings_without_them(
    booked_prep1, randomized_site_a, dosing_team_site_a, coordinator_site_a
):
    Notification.objects.filter(visit=booked_prep1, kind=Kind.REMINDER_48H).update(
        status="cancelled"
    )
    before = list(Notification.objects.filter(visit=booked_prep1).values())
    # A booking written without its reminders (say, before reminders existed).
    prep2 = Visit.objects.get(participant=randomized_site_a, event_code="PREP2")
    Visit.objects.filter(pk=prep2.pk).update(
        status="booked", starts_at=booked_prep1.starts_at + HOUR
    )
    VisitFacilitator.objects.create(
        visit=prep2,
        facilitator=dosing_team_site_a[0],
        participant=randomized_site_a,
        assigned_by=coordinator_site_a,
    )
    at = booked_prep1.starts_at - 40 * HOUR
    assert reminders_plan_upcoming(now=at) == 2  # 24 h: the facilitator and the participant
    assert _rows(prep2) == [
        ("participant_reminder", "participant", None, "pending"),
        ("reminder_24h", "user", "facilitator_a1", "pending"),
    ]
    assert list(Notification.objects.filter(visit=booked_prep1).values()) == before
    assert reminders_plan_upcoming(now=at) == 0


def test_planning_again_changes_nothing(booked_prep1):
    before = list(Notification.objects.filter(visit=booked_prep1).values())
    reminders_plan(booked_prep1)
    reminders_plan_upcoming()
    assert list(Notification.objects.filter(visit=booked_prep1).values()) == before


def test_the_sweep_finds_due_rows_through_the_partial_index(db):
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        query = Notification.objects.filter(
            status="pending", next_attempt_at__lte=timezone.now()
        ).order_by("next_attempt_at")[:1]
        plan = query.explain()
    assert "notification_due_idx" in plan


# --- Anchored visits -------------------------------------------------------------------


def test_the_reconciliation_dates_anchored_visits_whose_task_was_lost(booked_dosing_site_a):
    from tests.trials.test_sessions import _ready
    from trials.sessions.services import dosing_session_give_dose, dosing_session_start

    facilitator = booked_dosing_site_a.facilitators.first().user
    session = dosing_session_start(visit=booked_dosing_site_a, by=facilitator)
    _ready(session, facilitator)
    # No commit callback runs here: the task's message is "lost".
    dosing_session_give_dose(
        session=session,
        kit_code=booked_dosing_site_a.participant.allocation.kit_code,
        lot_number="L1",
        route="oral",
        dosed_at=timezone.now() - HOUR,
        by=facilitator,
    )
    waiting = Visit.objects.filter(participant=booked_dosing_site_a.participant, anchor="DOSE1")
    assert set(waiting.values_list("status", flat=True)) == {"awaiting_dosing"}
    scheduled = visits_schedule_pending()
    assert scheduled == waiting.count() > 0
    assert set(waiting.values_list("status", flat=True)) == {"scheduled"}
    assert visits_schedule_pending() == 0


# --- Missed visits ---------------------------------------------------------------------


def test_a_visit_whose_window_closed_unlogged_is_missed_and_coordinators_told_once(
    randomized_site_a, coordinator_site_a
):
    base = Visit.objects.get(participant=randomized_site_a, event_code="BASE")
    after_window = timezone.now() + datetime.timedelta(days=2)
    assert visits_mark_missed(now=after_window) == 1
    base.refresh_from_db()
    assert base.status == "missed"
    notifications_send_due(now=after_window)
    assert _rows(base) == [("visit_missed", "user", "coordinator_a", "sent")]
    assert mail.outbox[0].to == [coordinator_site_a.email]
    assert "Baseline" in mail.outbox[0].subject
    assert visits_mark_missed(now=after_window) == 0
    notifications_send_due(now=after_window)
    assert len(mail.outbox) == 1


def test_a_visit_still_in_its_window_at_the_site_is_not_missed(randomized_site_a):
    base = Visit.objects.get(participant=randomized_site_a, event_code="BASE")
    last_day = datetime.datetime.combine(
        base.window_end, datetime.time(23, 30), tzinfo=datetime.UTC
    )  # 23:30 UTC is still the same day in London in winter, the next day in summer
    in_london = last_day.astimezone(__import__("zoneinfo").ZoneInfo("Europe/London")).date()
    visits_mark_missed(now=last_day)
    base.refresh_from_db()
    assert base.status == ("missed" if in_london > base.window_end else "scheduled")


def test_a_visit_with_an_assessment_logged_is_not_missed(randomized_site_a, coordinator_site_a):
    from trials.safety.services import assessment_record

    base = Visit.objects.get(participant=randomized_site_a, event_code="BASE")
    assessment_record(
        visit=base,
        instrument="MADRS",
        score=30,
        assessed_at=timezone.now() - HOUR,
        by=coordinator_site_a,
    )
    assert Assessment.objects.filter(visit=base).exists()
    visits_mark_missed(now=timezone.now() + datetime.timedelta(days=2))
    base.refresh_from_db()
    assert base.status != "missed"


# --- Safety alerts ---------------------------------------------------------------------

AE = {
    "term": "Hypertensive urgency",
    "onset_at": None,
    "severity": "severe",
    "relatedness": "probable",
    "action_taken": "none",
    "outcome": "recovering",
}


def test_a_serious_adverse_event_alerts_investigator_and_sponsor_once(
    randomized_site_a, coordinator_site_a, investigator_site_a
):
    values = {**AE, "onset_at": timezone.now() - HOUR, "hospitalization": True}
    with TestCase.captureOnCommitCallbacks(execute=True):
        event = adverse_event_report(
            participant=randomized_site_a, values=values, by=coordinator_site_a
        )
    assert _sent_to() == ["investigator_a@example.org", "safety@example.org"]
    to_sponsor = next(m for m in mail.outbox if m.to == ["safety@example.org"])
    code = pseudonym(randomized_site_a.trial.sponsor.pseudonym_secret, randomized_site_a.pk)
    assert code in to_sponsor.subject
    assert randomized_site_a.study_id not in to_sponsor.subject + to_sponsor.body  # type: ignore[operator]  # str, not lazy
    assert "hospitalization" in to_sponsor.body.lower()
    with TestCase.captureOnCommitCallbacks(execute=True):
        adverse_event_update(
            event=event,
            values={"outcome": "recovered"},
            reason="Follow-up call",
            by=coordinator_site_a,
        )
    assert len(mail.outbox) == 2
    assert Notification.objects.filter(adverse_event=event).count() == 2


def test_an_event_becoming_serious_on_follow_up_alerts_then(
    randomized_site_a, coordinator_site_a, investigator_site_a
):
    values = {**AE, "onset_at": timezone.now() - HOUR}
    with TestCase.captureOnCommitCallbacks(execute=True):
        event = adverse_event_report(
            participant=randomized_site_a, values=values, by=coordinator_site_a
        )
    assert mail.outbox == []
    with TestCase.captureOnCommitCallbacks(execute=True):
        adverse_event_update(
            event=event,
            values={"life_threatening": True},
            reason="Admitted overnight",
            by=coordinator_site_a,
        )
    assert _sent_to() == ["investigator_a@example.org", "safety@example.org"]


def test_an_alert_without_an_address_is_retried_until_one_is_there(
    randomized_site_a, coordinator_site_a, investigator_site_a
):
    sponsor = randomized_site_a.trial.sponsor
    sponsor.safety_contact_email = ""
    sponsor.save()
    values = {**AE, "onset_at": timezone.now() - HOUR, "hospitalization": True}
    with TestCase.captureOnCommitCallbacks(execute=True):
        adverse_event_report(participant=randomized_site_a, values=values, by=coordinator_site_a)
    alert = Notification.objects.get(audience="sponsor_safety")
    assert (alert.status, alert.attempts) == ("pending", 1)
    assert "has no safety contact e-mail" in alert.deliveries.get().error
    sponsor.safety_contact_email = "pv@example.org"
    sponsor.save()
    notifications_send_due(now=timezone.now() + datetime.timedelta(minutes=2))
    alert.refresh_from_db()
    assert (alert.status, alert.attempts) == ("sent", 2)
    assert mail.outbox[-1].to == ["pv@example.org"]


# --- Credentials and digests -----------------------------------------------------------


def test_a_credential_lapsing_within_30_days_alerts_the_facilitator_and_coordinators_once(
    dosing_team_site_a, coordinator_site_a
):
    facilitator = dosing_team_site_a[0]
    licence = facilitator.credentials.get(kind="licence")
    licence.expires_on = timezone.now().date() + datetime.timedelta(days=30)
    licence.save()
    assert credential_expiry_alerts() == 2
    assert credential_expiry_alerts() == 2  # the same rows, still pending: nothing new
    assert Notification.objects.filter(credential=licence).count() == 2
    notifications_send_due()
    assert _sent_to() == ["coordinator_a@example.org", "facilitator_a1@example.org"]
    assert f"{licence.expires_on:%Y-%m-%d}" in mail.outbox[0].subject
    LicenceFactory(
        facilitator=facilitator, expires_on=timezone.now().date() + datetime.timedelta(days=400)
    )
    licence.expires_on = timezone.now().date() + datetime.timedelta(days=29)
    licence.save()  # corrected date: a new alert for it
    credential_expiry_alerts()
    assert Notification.objects.filter(credential=licence).count() == 4


def test_a_credential_lapsing_later_is_not_alerted_yet(dosing_team_site_a):
    licence = dosing_team_site_a[0].credentials.get(kind="licence")
    licence.expires_on = timezone.now().date() + datetime.timedelta(days=31)
    licence.save()
    assert credential_expiry_alerts() == 0


def test_the_daily_digest_lists_the_coordinators_day_once(
    booked_prep1, coordinator_site_a, investigator_site_a
):
    AdverseEvent.objects.create(
        participant=booked_prep1.participant,
        reported_by=coordinator_site_a,
        **{**AE, "onset_at": timezone.now() - HOUR},
    )
    day = booked_prep1.starts_at.date() - datetime.timedelta(days=1)
    six_in_london = datetime.datetime.combine(day, datetime.time(6, 5)).replace(
        tzinfo=__import__("zoneinfo").ZoneInfo("Europe/London")
    )
    assert digests_plan(now=six_in_london - datetime.timedelta(minutes=10)) == 0
    assert digests_plan(now=six_in_london) == 1
    assert digests_plan(now=six_in_london + HOUR) == 1  # the same row
    assert Notification.objects.filter(kind=Kind.DAILY_DIGEST).count() == 1
    notifications_send_due(now=six_in_london + HOUR)
    (digest,) = [message for message in mail.outbox if "Your day" in message.subject]
    assert digest.to == [coordinator_site_a.email]
    assert "Preparation session 1" in digest.body
    assert "Hypertensive urgency" in digest.body
    assert "COMP360-TRD-P3, LON" in digest.body


class RefusingBackend:
    """An e-mail backend whose server refuses every message."""

    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("The mail server refused the connection.")


def test_the_session_page_shows_each_reminder_and_every_delivery_attempt(
    booked_prep1, settings, client_of, coordinator_site_a
):
    settings.EMAIL_BACKEND = "tests.trials.test_notifications.RefusingBackend"
    due = booked_prep1.starts_at - 47 * HOUR
    notifications_send_due(now=due)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    notifications_send_due(now=due + datetime.timedelta(minutes=1))
    url = reverse("therapy_session", args=[booked_prep1.participant.study_id, "PREP1"])
    page = client_of(coordinator_site_a).get(url).text
    assert page.count('data-notification="reminder_48h" data-status="sent"') == 2
    assert page.count('data-notification="reminder_24h" data-status="pending"') == 2
    assert page.count('data-delivery="failed"') == 2
    assert page.count('data-delivery="sent"') == 2
    assert "The mail server refused the connection." in page
