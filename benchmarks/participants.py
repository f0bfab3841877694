"""Participant list and dashboard render times for 20,000 participants, beside a minimal view."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse

from benchmarks.harness import Timing, best_of, report
from registry import urls as registry_urls
from trials.participants.models import Participant

PARTICIPANTS = 20_000
TRIAL = "COMP360-TRD-P3"
READERS = [("coordinator.lon", "the LON coordinator"), ("monitor", "the monitor (all sites)")]


def minimal(request: HttpRequest) -> HttpResponse:
    """The baseline: Django's request cycle and middleware, and nothing else."""
    return HttpResponse("ok")


urlpatterns = [path("bench/minimal", minimal), *registry_urls.urlpatterns]


def _get(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, f"{url}: {response.status_code}"


def _queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        _get(client, url)
    return len(captured.captured_queries)


def _seed() -> None:
    started = time.perf_counter()
    call_command("seed_demo", "--participants", str(PARTICIPANTS), "--quiet")
    total = Participant.objects.filter(trial__code=TRIAL).count()
    print(f"  seed_demo --participants {PARTICIPANTS:,}: {time.perf_counter() - started:.1f} s")
    print(f"  {TRIAL}: {total:,} participants")


def _page(client: Client, label: str, url: str, baseline: Timing) -> None:
    _get(client, url)
    measured = best_of(label, lambda: _get(client, url), items=1, repeat=5)
    report(label, measured, baseline, note=f"{_queries(client, url)} queries")


def run() -> None:
    _seed()
    pages = [
        ("participant list, LON", reverse("participant_list", args=[TRIAL, "LON"])),
        ("dashboard", reverse("trial_dashboard", args=[TRIAL])),
    ]
    with override_settings(ROOT_URLCONF=__name__):
        for username, reader in READERS:
            client = Client()
            client.force_login(get_user_model().objects.get(username=username))
            _get(client, "/bench/minimal")
            baseline = best_of(
                "minimal Django view (baseline)",
                # mypy cannot infer a lambda whose default binds the loop's client.
                lambda client=client: _get(client, "/bench/minimal"),  # type: ignore[misc]
                items=1,
                repeat=5,
            )
            for label, url in pages:
                _page(client, f"{label}, as {reader}", url, baseline)
