"""CSV export of every dosing session and vital sign of a 20,000-participant trial, beside
PostgreSQL's own COPY of the same rows and columns (unreduced, internal ids) in the same run."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.db import connection

from benchmarks.harness import Timing, best_of, report
from trials.sponsor_api import exports
from trials.study.models import Site, Sponsor, Trial, TrialSite
from trials.study.services import protocol_load

PARTICIPANTS = 20_000
VITALS_PER_SESSION = 10
RESOURCES = ("dosing-sessions", "vitals")
PROTOCOL = "trials/protocols/comp360-trd-p3.yaml"


def _seed() -> Trial:
    """The trial, then its participants, dosing visits, sessions and vitals in five statements
    (triggers off for speed: this is a throw-away database)."""
    started = time.perf_counter()
    with open(PROTOCOL, "rb") as protocol:
        version, _ = protocol_load(content=protocol.read(), filename=PROTOCOL, by=None)
    trial = version.trial
    site = Site.objects.create(code="BENCHX", name="Bench", time_zone="UTC")
    TrialSite.objects.create(trial=trial, site=site, is_active=True, activated_on="2026-01-01")
    user = get_user_model().objects.create(username="bench.exports")
    ids = {"trial": trial.pk, "site": site.pk, "user": user.pk, "version": version.pk}
    statements = [
        """INSERT INTO trials_participant (trial_id, site_id, number, study_id, status,
             status_changed_at, created_at, created_by_id, eligibility_data, updated_at)
           SELECT %(trial)s, %(site)s, n, 'BENCHX-' || n, 'in_treatment', now(), now(),
             %(user)s, '{}', now() FROM generate_series(1, %(participants)s) AS n""",
        """INSERT INTO trials_visit (participant_id, protocol_version_id, event_code, kind,
             label, anchor, day, status, room, sequence, target_date, window_start, window_end)
           SELECT id, %(version)s, 'DOSE1', 'dosing', 'Dosing 1', 'randomization', 7,
             'completed', '', 4, date '2026-03-02', date '2026-03-01', date '2026-03-03'
           FROM trials_participant WHERE trial_id = %(trial)s""",
        """INSERT INTO trials_dosingsession (visit_id, participant_id, status, revision,
             eligibility_confirmed, consent_current, medications_stopped, pregnancy_test,
             kit_code, lot_number, route, supplemental_lot_number, interventions,
             rescue_medication, release_alert_and_oriented, release_vitals_stable,
             release_escort_arranged, not_given_reason, notes, started_at, started_by_id,
             updated_at, dosed_at, ended_at, predose_systolic, predose_diastolic,
             predose_heart_rate, predose_temperature)
           SELECT v.id, v.participant_id, 'given', 1, true, true, true, 'negative',
             'K' || v.id, 'LOT-7', 'oral', '', '', '', true, true, true, '', '', now(),
             %(user)s, now(), timestamptz '2026-03-02 09:30:00+00' + v.id * interval '1 min',
             timestamptz '2026-03-02 17:30:00+00' + v.id * interval '1 min', 121, 79, 66, 36.7
           FROM trials_visit v JOIN trials_participant p ON p.id = v.participant_id
           WHERE p.trial_id = %(trial)s""",
        """INSERT INTO trials_vitalsign (dosing_session_id, participant_id, measured_at,
             systolic, diastolic, heart_rate, temperature, recorded_by_id, updated_at)
           SELECT d.id, d.participant_id, d.dosed_at + n * interval '30 min' + interval '7 ms',
             110 + n, 70 + n, 60 + n, 36.5, %(user)s, now()
           FROM trials_dosingsession d, generate_series(1, %(vitals)s) AS n
           WHERE d.participant_id IN
             (SELECT id FROM trials_participant WHERE trial_id = %(trial)s)""",
        "ANALYZE",
    ]
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        for statement in statements:
            cursor.execute(
                statement,
                {**ids, "participants": PARTICIPANTS, "vitals": VITALS_PER_SESSION},
            )
        cursor.execute("SET session_replication_role = DEFAULT")
    print(
        f"  seeded {PARTICIPANTS:,} participants, {PARTICIPANTS:,} dosing sessions, "
        f"{PARTICIPANTS * VITALS_PER_SESSION:,} vitals: {time.perf_counter() - started:.1f} s"
    )
    return trial


def _export(sponsor: Sponsor, trial: Trial) -> int:
    """The API's CSV files of both resources, every byte read."""
    size = 0
    for resource in RESOURCES:
        stream = exports.export_stream(
            sponsor=sponsor, trial=trial, resource=resource, fmt="csv", params={}
        )
        for chunk in stream:
            size += len(chunk)
    return size


def _python_csv(sponsor: Sponsor, trial: Trial) -> int:
    """The same files written by Python's csv over `.values_list().iterator()` (for scale)."""
    size = 0
    for resource in RESOURCES:
        definition = exports.RESOURCES[resource]
        rows = exports.export_rows(sponsor=sponsor, trial=trial, resource=resource, params={})
        for chunk in exports.ExportStream(
            # mypy cannot infer a lambda whose defaults bind the loop's values.
            lambda s, d=definition, r=rows: exports._python_csv(s, d, r)  # type: ignore[misc]
        ):
            size += len(chunk)
    return size


def _copy_baseline(trial: Trial) -> int:
    """PostgreSQL's COPY of the same rows and columns, as stored: no pseudonyms, no reduction."""
    size = 0
    params = exports.ExportParams()
    connection.ensure_connection()
    for resource in RESOURCES:
        definition = exports.RESOURCES[resource]
        queryset = exports.filtered_queryset(definition, trial, params)
        sql, values = exports.row_values(definition, queryset).query.sql_with_params()
        # PostgreSQL's DatabaseOperations has compose_sql; the stubs know only the base class.
        statement = connection.ops.compose_sql(sql, values)  # type: ignore[attr-defined]
        copy_sql = f"COPY ({statement}) TO STDOUT WITH (FORMAT csv, HEADER)"
        with connection.connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for data in copy:
                size += len(data)
    return size


def run() -> None:
    trial = _seed()
    sponsor = trial.sponsor
    rows = PARTICIPANTS * (1 + VITALS_PER_SESSION)
    print(f"\nExports: {rows:,} rows ({', '.join(RESOURCES)}) of {trial.code} as CSV")
    _copy_baseline(trial)
    baseline = best_of(
        "PostgreSQL COPY of the same rows (baseline)", lambda: _copy_baseline(trial), items=rows
    )
    for profile in ("safe_harbor", "limited"):
        Sponsor.objects.filter(pk=sponsor.pk).update(export_profile=profile)
        sponsor.refresh_from_db()
        measured = best_of(
            f"export_stream csv, {profile}", lambda: _export(sponsor, trial), items=rows
        )
        report(
            f"CSV export ({profile} profile), goal under 3x",
            measured,
            baseline,
            note="goal met" if measured.seconds < 3 * baseline.seconds else "GOAL MISSED",
        )
    started = time.perf_counter()
    _python_csv(sponsor, trial)
    python = Timing("Python csv over values_list().iterator()", time.perf_counter() - started, rows)
    report("For scale: the same CSV written row by row in Python (limited)", python, baseline)
