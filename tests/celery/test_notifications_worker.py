"""Reminders and alerts through real Celery workers and beats, a real Redis and PostgreSQL.

Each test commits its data (transactional database), starts the processes it needs and
waits for what they must do; e-mail lands as files (tests/mailbox.py) carrying the
notification's key in an X-Dyad-Notification header.
"""

import collections
import datetime
import threading
import time
import zoneinfo

import pytest
from django.db import connections
from django.urls import reverse
from django.utils import timezone

from tests.trials.test_safety_pages import AE_FORM
from tests.trials.test_session_pages import CHECKLIST, _form
from tests.workers import wait_until
from trials.notifications.models import Delivery, Notification
from trials.notifications.services import reminders_plan
from trials.sessions.models import Visit
from trials.sessions.services import visit_book

pytestmark = pytest.mark.slow  # real Celery workers and beats, a real Redis
HOUR = datetime.timedelta(hours=1)
LONDON = zoneinfo.ZoneInfo("Europe/London")
BOOKABLE = ("BASE", "PREP1", "PREP2", "DOSE1")


def _book_all_due_for_reminders(participant, team, by):
    """Book the participant's visits 23 h ahead and plan their 24 h reminders as if booked
    two hours ago: each is due now (2 facilitators and the participant, per visit)."""
    starts_at = timezone.now() + 23 * HOUR
    keys: list[str] = []
    for code in BOOKABLE:
        visit = visit_book(
            visit=Visit.objects.get(participant=participant, event_code=code),
            starts_at=starts_at,
            room="",
            facilitators=team,
            by=by,
            reason="Test",
        )
        reminders_plan(visit, now=timezone.now() - 2 * HOUR)
        keys += Notification.objects.filter(visit=visit).values_list("key", flat=True)
    assert len(keys) == 3 * len(BOOKABLE)
    return set(keys)


def _keys_sent(mail):
    # A long header is folded over lines; a key has no spaces.
    return collections.Counter("".join(message["X-Dyad-Notification"].split()) for message in mail)


def _all_sent(keys):
    return lambda: Notification.objects.filter(key__in=keys, status="sent").count() == len(keys)


def test_a_worker_killed_mid_send_leaves_every_reminder_sent_exactly_once(
    celery, randomized_site_a, dosing_team_site_a, coordinator_site_a
):
    keys = _book_all_due_for_reminders(randomized_site_a, dosing_team_site_a, coordinator_site_a)
    celery.beat()
    worker = celery.worker(MAILBOX_DELAY="0.4")
    wait_until(lambda: len(celery.mail()) >= 3, 60, "three reminders to go out")
    time.sleep(0.15)  # inside the pause before the next message: mid-send
    celery.kill(worker)
    sent_before_restart = len(celery.mail())
    assert 3 <= sent_before_restart < len(keys), "the worker was not killed mid-batch"

    celery.worker()
    wait_until(_all_sent(keys), 60, "every reminder to be sent after the restart")
    reminders_sent = {k: n for k, n in _keys_sent(celery.mail()).items() if k in keys}
    assert reminders_sent == dict.fromkeys(keys, 1)
    assert Delivery.objects.filter(notification__key__in=keys, outcome="sent").count() == len(keys)


def test_two_beats_at_once_make_and_send_each_notification_once(
    celery, randomized_site_a, dosing_team_site_a, coordinator_site_a, investigator_site_a
):
    keys = _book_all_due_for_reminders(randomized_site_a, dosing_team_site_a, coordinator_site_a)
    # Work the beats' own tasks create: a visit whose window has closed, a lapsing licence.
    Visit.objects.filter(participant=randomized_site_a, event_code="PREP2").update(
        status="scheduled",
        starts_at=None,
        target_date=timezone.now().date() - datetime.timedelta(days=3),
        window_start=timezone.now().date() - datetime.timedelta(days=3),
        window_end=timezone.now().date() - datetime.timedelta(days=2),
    )
    licence = dosing_team_site_a[0].credentials.get(kind="licence")
    licence.expires_on = timezone.now().date() + datetime.timedelta(days=20)
    licence.save()
    celery.worker(concurrency=2)
    celery.worker(concurrency=2)
    celery.beat()
    celery.beat()
    missed = {
        f"visit_missed:visit:{randomized_site_a.visits.get(event_code='PREP2').pk}:user:"
        f"{coordinator_site_a.pk}"
    }
    expiring = {
        f"credential_expiry:{licence.pk}:{licence.expires_on}:user:{user.pk}"
        for user in (dosing_team_site_a[0].user, coordinator_site_a)
    }
    prep2_reminders = set(
        Notification.objects.filter(visit__event_code="PREP2").values_list("key", flat=True)
    )
    expected = (keys - prep2_reminders) | missed | expiring
    wait_until(_all_sent(expected), 90, "the reminders and alerts to be sent")
    time.sleep(3)  # several more ticks of both beats: nothing new may appear
    for process in celery.processes:
        celery.kill(process)
    sent = _keys_sent(celery.mail())
    assert {key: count for key, count in sent.items() if count > 1} == {}
    assert expected <= set(sent)
    digests = Notification.objects.filter(kind="daily_digest")
    assert set(sent) == expected | set(digests.values_list("key", flat=True))
    assert digests.count() <= 3  # one per coordinator at most, whoever planned it
    assert len(set(digests.values_list("recipient", flat=True))) == digests.count()


def _in_time(request, timeout=30):
    """Run a web request in a thread; fail if it hangs instead of answering."""
    outcome = {}

    def run():
        try:
            outcome["response"] = request()
        finally:
            connections.close_all()  # this thread's own connection

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        pytest.fail(f"A web request hung for {timeout} s with Redis stopped")
    return outcome["response"]


def test_with_redis_stopped_the_site_keeps_working_and_nothing_is_lost(
    celery, client_of, booked_dosing_site_a, coordinator_site_a, investigator_site_a
):
    participant = booked_dosing_site_a.participant
    team = list(booked_dosing_site_a.facilitators.all())
    facilitator = client_of(team[0].user)
    dosing_url = reverse("dosing_session", args=[participant.study_id, "DOSE1"])
    celery.redis.stop()

    # A facilitator logs the dose; a coordinator books a visit and reports a serious event.
    assert _in_time(lambda: facilitator.post(dosing_url, {"action": "start"})).status_code == 302
    response = _in_time(
        lambda: facilitator.post(dosing_url, {"action": "predose", **_form(CHECKLIST)})
    )
    assert response.status_code == 302
    dose = {
        "action": "dose",
        "kit_code": participant.allocation.kit_code,
        "lot_number": "L-7",
        "route": "oral",
        "dosed_at": f"{(timezone.now() - HOUR).astimezone(LONDON):%Y-%m-%dT%H:%M}",
    }
    assert _in_time(lambda: facilitator.post(dosing_url, dose)).status_code == 302
    coordinator = client_of(coordinator_site_a)
    ae_url = reverse("adverse_event_report", args=[participant.study_id])
    ae = {**AE_FORM, "hospitalization": "on"}
    assert _in_time(lambda: coordinator.post(ae_url, ae)).status_code == 302
    prep_url = reverse("visit_book", args=[participant.study_id, "PREP2"])
    in_three_days = timezone.now() + 72 * HOUR
    booking = {
        "starts_at": f"{in_three_days.astimezone(LONDON):%Y-%m-%dT%H:%M}",
        "room": "Room 3",
        "facilitators": [facilitator.pk for facilitator in team],
        "reason": "Whatever the window says",
    }
    assert _in_time(lambda: coordinator.post(prep_url, booking)).status_code == 302
    reminders = Notification.objects.filter(visit__event_code="PREP2", status="pending")
    assert reminders.count() == 5  # two facilitators at 48 h and 24 h, the participant at 24 h

    waiting = Visit.objects.filter(participant=participant, anchor="DOSE1")
    assert set(waiting.values_list("status", flat=True)) == {"awaiting_dosing"}
    alerts = Notification.objects.filter(kind="serious_adverse_event")
    assert alerts.count() == 2 and set(alerts.values_list("status", flat=True)) == {"pending"}

    # Redis is back, and so are a worker and a beat: the reconciliation and the sweep catch up.
    celery.redis.start()
    celery.worker()
    celery.beat()
    wait_until(
        lambda: not waiting.filter(status="awaiting_dosing").exists(),
        60,
        "the visits anchored on the dose to be scheduled",
    )
    wait_until(lambda: alerts.filter(status="sent").count() == 2, 60, "the alerts to be sent")
    assert set(waiting.values_list("status", flat=True)) == {"scheduled"}
    assert Visit.objects.filter(participant=participant).count() == len(
        participant.visits.values_list("event_code", flat=True).distinct()
    )
    assert reminders.count() == 5  # still planned once, whatever the beat reconciled
    alert_mail = [m for m in celery.mail() if "serious" in m["X-Dyad-Notification"]]
    assert sorted(m["To"] for m in alert_mail) == sorted(
        [investigator_site_a.email, "safety@example.org"]
    )
