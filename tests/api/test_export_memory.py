"""Exports stream in constant memory: a million CSV rows cost the server process no more
memory than a thousand (within 100 MB), measured in a real server process."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.db import connection

from tests.workers import _database_url, free_port, wait_until
from trials.sessions.models import DosingSession, Visit
from trials.sponsor_api.models import SponsorApiKey

pytestmark = pytest.mark.slow  # a million rows through a real server process
ROOT = Path(__file__).resolve().parents[2]
SMALL, LARGE = 1_000, 1_000_000
MB = 1024 * 1024


def peak_rss(pid: int) -> int:
    """The process's peak resident memory so far (VmHWM), in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def insert_vitals(session: DosingSession, count: int, day: datetime.date) -> None:
    """`count` vitals rows in one statement; triggers (audit, updated_at) are skipped for speed,
    updated_at is written directly."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "INSERT INTO trials_vitalsign (dosing_session_id, participant_id, measured_at,"
            " systolic, diastolic, heart_rate, temperature, recorded_by_id, updated_at)"
            " SELECT %s, %s, %s::timestamptz + n * interval '1 millisecond', 120, 80,"
            " 60 + n %% 40, 36.6, %s, now() FROM generate_series(1, %s) AS n",
            [
                session.pk,
                session.participant_id,
                datetime.datetime.combine(day, datetime.time(9), tzinfo=datetime.UTC),
                session.started_by_id,
                count,
            ],
        )
        cursor.execute("SET session_replication_role = DEFAULT")


@pytest.fixture
def server(transactional_db):
    """`manage.py runserver --noreload` on the test database, in its own process."""
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "memory-test",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "false",
        "SECURE_HSTS_SECONDS": "0",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "PYTHONUNBUFFERED": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runserver", "--noreload", "--nothreading", f"{port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def answers() -> bool:
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
        except OSError as error:
            return getattr(error, "code", None) is not None
        return True

    try:
        wait_until(answers, 30, "the server to answer")
        yield process, f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def stream_rows(url: str, key: str) -> int:
    """Read a streamed CSV to its end, a megabyte at a time; the number of data rows."""
    request = urllib.request.Request(url, headers={"Authorization": f"Api-Key {key}"})
    lines = 0
    with urllib.request.urlopen(request, timeout=120) as response:
        assert response.status == 200
        while chunk := response.read(MB):
            lines += chunk.count(b"\n")
    return lines - 1


def test_a_million_row_csv_export_needs_no_more_memory_than_a_thousand(
    server, randomized_site_a, coordinator_site_a, sponsor
):
    process, base = server
    visit = Visit.objects.get(participant=randomized_site_a, event_code="DOSE1")
    session = DosingSession.objects.create(
        visit=visit, participant=randomized_site_a, started_by=coordinator_site_a
    )
    insert_vitals(session, SMALL, datetime.date(2025, 6, 1))
    insert_vitals(session, LARGE - SMALL, datetime.date(2026, 2, 1))
    key = SponsorApiKey.objects.create_key(sponsor=sponsor, name="Memory")[1]
    url = f"{base}/api/v1/trials/{randomized_site_a.trial.code}/vitals/?format=csv"

    assert stream_rows(f"{url}&date_to=2025-12-31", key) == SMALL  # a whole year: Safe Harbor
    after_small = peak_rss(process.pid)
    assert stream_rows(url, key) == LARGE
    after_large = peak_rss(process.pid)

    grown = (after_large - after_small) / MB
    print(
        f"server peak RSS: {after_small / MB:.0f} MB after {SMALL:,} rows, "
        f"{after_large / MB:.0f} MB after {LARGE:,} rows (+{grown:.1f} MB)"
    )
    assert grown < 100

    # The Python path (rows from a server-side cursor, one JSON line each) streams too.
    assert stream_rows(url.replace("format=csv", "format=ndjson"), key) == LARGE - 1
    grown = (peak_rss(process.pid) - after_small) / MB
    print(f"after {LARGE:,} NDJSON rows: +{grown:.1f} MB")
    assert grown < 100
