"""The reminder sweep with 1,000,000 booked sessions in the database, beside 1,000.

Every booked session carries a pending reminder due later; 100 notifications are due now.
The sweep claims and sends those 100 (e-mail to memory), and, the common case every minute,
finds nothing due. With the partial index on pending rows' next attempt, both stay flat as
the table grows a thousandfold. Rows are loaded with INSERT ... SELECT generate_series,
triggers off for the load (session_replication_role), then ANALYZE.
"""

from __future__ import annotations

import time
from typing import cast

from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from benchmarks.harness import Timing, report
from trials.notifications.models import Notification
from trials.notifications.services import notifications_send_due
from trials.participants.models import Participant
from trials.study.models import ProtocolVersion, Site, Trial

SMALL, LARGE = 1_000, 1_000_000
VISITS_PER_PARTICIPANT = 8
DUE = 100
REPEAT = 5
TRIAL = "COMP360-TRD-P3"


def _load(first: int, count: int) -> None:
    """Participants numbered from `first`, 8 booked visits each, one pending reminder each."""
    trial = Trial.objects.get(code=TRIAL)
    site = Site.objects.get(code="LON")
    version = cast(ProtocolVersion, trial.protocol_versions.order_by("-pk").first())  # seeded
    coordinator = Participant.objects.filter(trial=trial).values_list("created_by", flat=True)[0]
    people = count // VISITS_PER_PARTICIPANT
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # no triggers for the load
        cursor.execute(
            """
            INSERT INTO trials_participant (number, study_id, status, status_changed_at,
                created_at, created_by_id, site_id, trial_id, eligibility_data, updated_at)
            SELECT 100000 + n, 'BENCH-' || n, 'in_treatment', now(), now(), %s, %s, %s,
                '{}', now()
            FROM generate_series(%s, %s) AS n
            """,
            [coordinator, site.pk, trial.pk, first, first + people - 1],
        )
        cursor.execute(
            """
            INSERT INTO trials_visit (participant_id, protocol_version_id, event_code, kind,
                label, anchor, day, status, target_date, window_start, window_end, starts_at,
                room, sequence)
            SELECT p.id, %s, 'B' || v, 'integration', 'Integration ' || v, 'randomization',
                v, 'booked', d::date, d::date, d::date, d, '', v
            FROM trials_participant p
            CROSS JOIN generate_series(1, %s) AS v
            CROSS JOIN LATERAL (SELECT now() + make_interval(days => (3 + (p.id + v) %% 60)::int)
                                AS d) AS t
            WHERE p.study_id LIKE 'BENCH-%%' AND p.number >= 100000 + %s
            """,
            [version.pk, VISITS_PER_PARTICIPANT, first],
        )
        cursor.execute(
            """
            INSERT INTO trials_notification (key, kind, status, audience, trial_id,
                participant_id, visit_id, visit_starts_at, data, due_at, next_attempt_at,
                attempts, closed_reason, created_at)
            SELECT 'participant_reminder:visit:' || v.id, 'participant_reminder', 'pending',
                'participant', %s, v.participant_id, v.id, v.starts_at, '{}',
                v.starts_at - interval '24 hours', v.starts_at - interval '24 hours', 0, '',
                now()
            FROM trials_visit v JOIN trials_participant p ON p.id = v.participant_id
            WHERE p.study_id LIKE 'BENCH-%%' AND p.number >= 100000 + %s
            """,
            [trial.pk, first],
        )
        cursor.execute("SET session_replication_role = DEFAULT")
        cursor.execute("ANALYZE trials_participant, trials_visit, trials_notification")


def _plant_due() -> None:
    """100 missed-visit alerts due now, to the site's coordinator (pending again each run)."""
    coordinator = Participant.objects.filter(trial__code=TRIAL).values_list(
        "created_by", flat=True
    )[0]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO trials_notification (key, kind, status, audience, recipient_id,
                trial_id, participant_id, visit_id, data, due_at, next_attempt_at, attempts,
                closed_reason, created_at)
            SELECT 'bench-due:' || v.id, 'visit_missed', 'pending', 'user', %s,
                p.trial_id, v.participant_id, v.id, '{}', now() - interval '1 minute',
                now() - interval '1 minute', 0, '', now()
            FROM trials_visit v JOIN trials_participant p ON p.id = v.participant_id
            WHERE p.study_id LIKE 'BENCH-%%' ORDER BY v.id LIMIT %s
            """,
            [coordinator, DUE],
        )


def _reset_due() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE trials_notification SET status = 'pending', sent_at = NULL,"
            " next_attempt_at = now() - interval '1 minute' WHERE key LIKE 'bench-due:%%'"
        )


def _sweeps(label: str) -> tuple[Timing, Timing]:
    """Best of REPEAT: sending the 100 due, and a sweep that finds nothing due."""
    sending, idle = [], []
    for _ in range(REPEAT):
        _reset_due()
        started = time.perf_counter()
        sent = notifications_send_due(limit=DUE + 1)
        sending.append(time.perf_counter() - started)
        assert sent == DUE, sent
        started = time.perf_counter()
        assert notifications_send_due() == 0
        idle.append(time.perf_counter() - started)
    return (
        Timing(f"sweep sending {DUE} due, {label}", min(sending), DUE),
        Timing(f"sweep finding none due, {label}", min(idle), 1),
    )


def _plan() -> str:
    query = Notification.objects.filter(status="pending", next_attempt_at__lte=timezone.now())
    plan = query.order_by("next_attempt_at")[:1].explain()
    return next((line.strip() for line in plan.splitlines() if "Index" in line), plan)


@override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
def run() -> None:
    started = time.perf_counter()
    call_command("seed_demo", "--quiet")
    _load(1, SMALL)
    _plant_due()
    small_sending, small_idle = _sweeps(f"{SMALL:,} booked sessions")
    _load(SMALL // VISITS_PER_PARTICIPANT + 1, LARGE - SMALL)
    booked = Notification.objects.filter(kind="participant_reminder").count()
    print(
        f"\n  loaded {booked:,} booked sessions with reminders in "
        f"{time.perf_counter() - started:.1f} s; claim plan: {_plan()}"
    )
    large_sending, large_idle = _sweeps(f"{LARGE:,} booked sessions")
    report("Reminder sweep, 1,000,000 sessions vs 1,000: sending", large_sending, small_sending)
    report("Reminder sweep, 1,000,000 sessions vs 1,000: idle", large_idle, small_idle)
