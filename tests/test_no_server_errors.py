"""No page answers 500: every URL, as every role, with missing, wrong-typed and hostile input.

A 500 is a bug: bad input must get a field error (or a 4xx), and leave nothing half-written.
"""

import itertools
import uuid
from typing import cast

import pytest
from django.urls import URLResolver, get_resolver, reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trials.safety.services import adverse_event_report
from trials.sessions.services import dosing_session_start

pytestmark = pytest.mark.slow  # every URL as every role, and fuzzed forms
ROLES = [
    "coordinator_site_a",
    "facilitator_a1",
    "investigator_site_a",
    "monitor",
    "sponsor_user",
    "coordinator_site_b",
]
FIELD_NAMES = [
    "action",
    "reason",
    "password",
    "statement",
    "consented_at",
    "obtained_by",
    "participant_confirmed",
    "starts_at",
    "room",
    "facilitators",
    "kind",
    "details",
    "exited_on",
    "kit_code",
    "lot_number",
    "route",
    "dosed_at",
    "measured_at",
    "systolic",
    "diastolic",
    "heart_rate",
    "temperature",
    "predose_systolic",
    "washout_days",
    "pregnancy_test",
    "ended_at",
    "instrument",
    "score",
    "term",
    "onset_at",
    "severity",
    "relatedness",
    "outcome",
    "action_taken",
    "dosing_session",
    "attended",
    "duration_minutes",
    "facilitator",
    "given_name",
    "family_name",
    "date_of_birth",
    "email",
    "data-age_years",
    "q",
    "status",
    "result",
    "criterion",
    "page",
    "sign_password",
    "override_password",
    "override_reason",
    "suicidal_thoughts",
    "wish_to_be_dead",
]
HOSTILE = [
    "",
    " ",
    "x" * 5000,
    "-1",
    "1e309",
    "NaN",
    "2026-02-30",
    "2026-13-01T25:61",
    "<script>alert(1)</script>",
    "'; DROP TABLE trials_participant; --",
    "\u0000",
    "999999999999999999999",
    "on",
    "yes",
    "start",
    "dose",
    "sign",
    "vital",
    "predose",
    "correct",
    "review",
    "0",
    "1.5",
    "K-AAAAAAAA",
]
ACTIONS = [
    "start",
    "predose",
    "day",
    "dose",
    "supplement",
    "not_given",
    "vital",
    "override",
    "sign",
    "correct",
    "review",
    "bogus",
]


@pytest.fixture
def world(
    request,
    booked_dosing_site_a,
    dosing_team_site_a,
    investigator_site_a,
    monitor,
    sponsor_user,
    coordinator_site_b,
    comp360_protocol,
):
    """A participant with every kind of record, so every URL has something to act on."""
    from django.contrib.auth import get_user_model

    participant = booked_dosing_site_a.participant
    session = dosing_session_start(visit=booked_dosing_site_a, by=dosing_team_site_a[0].user)
    from django.utils import timezone

    event = adverse_event_report(
        participant=participant,
        by=investigator_site_a,
        values={
            "term": "Headache",
            "onset_at": timezone.now(),
            "severity": "mild",
            "relatedness": "possible",
            "action_taken": "none",
            "outcome": "recovered",
        },
    )
    screening = participant.screenings.first()
    users = {name: request.getfixturevalue(name) for name in ROLES if name != "facilitator_a1"}
    users["facilitator_a1"] = get_user_model().objects.get(username="facilitator_a1")
    return {
        "users": users,
        "kwargs": {
            "study_id": participant.study_id,
            "event_code": "DOSE1",
            "code": "COMP360-TRD-P3",
            "trial_code": "COMP360-TRD-P3",
            "site_code": "LON",
            "token": "no-such-token",
            "job_id": uuid.UUID(int=1),  # no such export job
            "pk": None,
        },
        "pks": {
            "screening": screening.pk,
            "adverse_event": event.pk,
            "facilitator": dosing_team_site_a[0].pk,
        },
        "session": session,
    }


def _urls(world) -> list[str]:
    urls = []
    for pattern in get_resolver().url_patterns:
        if str(pattern.pattern).startswith("admin"):
            continue  # Django's own admin
        for entry in getattr(pattern, "url_patterns", [pattern]):
            name = entry.name
            if not name:
                continue
            keys = list(entry.pattern.converters)
            kwargs = {key: world["kwargs"][key] for key in keys}
            if "pk" in keys:
                kwargs["pk"] = world["pks"][
                    "screening"
                    if name.startswith("screening")
                    else "adverse_event"
                    if name.startswith("adverse")
                    else "facilitator"
                ]
            # Only a URLResolver has a namespace.
            prefix = (
                f"{cast(URLResolver, pattern).namespace}:"
                if getattr(pattern, "namespace", None)
                else ""
            )
            urls.append(reverse(prefix + name, kwargs=kwargs))
    return urls


def test_every_url_answers_without_a_server_error_for_every_role(client, world):
    urls = _urls(world)
    assert len(urls) >= 30
    for role, url in itertools.product(ROLES, urls):
        client.force_login(world["users"][role])
        assert client.get(url).status_code < 500, (role, "GET", url)
        for action in ACTIONS:
            response = client.post(url, {"action": action})
            assert response.status_code < 500, (role, "POST", url, action)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    fields=st.dictionaries(
        st.sampled_from(FIELD_NAMES), st.sampled_from(HOSTILE) | st.text(max_size=30), max_size=12
    ),
    action=st.sampled_from(ACTIONS),
    which=st.integers(min_value=0, max_value=1000),
)
def test_hostile_form_input_never_gets_a_server_error(client, world, fields, action, which):
    urls = _urls(world)
    url = urls[which % len(urls)]
    role = ROLES[which % 3]  # the site care team: the people whose forms do the most
    client.force_login(world["users"][role])
    response = client.post(url, {**fields, "action": fields.get("action", action)})
    assert response.status_code < 500, (role, url, fields)
