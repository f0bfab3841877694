"""The dosing session log and therapy session pages through HTTP."""

import datetime
import zoneinfo

import pytest
from django.urls import reverse

from tests.factories import PASSWORD
from tests.trials.test_sessions import CHECKLIST, RELEASE
from trials.sessions.models import DosingSession, SessionSignature, TherapySession, Visit
from trials.sessions.services import dosing_session_start

LONDON = zoneinfo.ZoneInfo("Europe/London")


def _ago(hours: float) -> str:
    """A time just past at the London site, as its form fields take it."""
    moment = datetime.datetime.now(LONDON) - datetime.timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M")


OUTSIDERS = ["coordinator_site_b", "investigator_site_b", "sponsor_user", "coordinator_other_trial"]


def _url(participant, code="DOSE1", name="dosing_session"):
    return reverse(name, args=[participant.study_id, code])


def _form(values, prefix=""):
    return {
        name: ("on" if value is True else value)
        for name, value in values.items()
        if value is not False
    }


@pytest.fixture
def session(booked_dosing_site_a, dosing_team_site_a):
    return dosing_session_start(visit=booked_dosing_site_a, by=dosing_team_site_a[0].user)


@pytest.fixture
def facilitator_client(client_of, dosing_team_site_a):
    return client_of(dosing_team_site_a[0].user)


@pytest.mark.parametrize("name", ["dosing_session", "therapy_session"])
@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_session_pages_of_another_site_are_not_found(request, client_of, session, outsider, name):
    client = client_of(request.getfixturevalue(outsider))
    url = _url(session.participant, "DOSE1" if name == "dosing_session" else "PREP1", name)
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "start"}).status_code == 404


def test_monitors_read_the_log_but_cannot_write(client_of, monitor, session):
    client = client_of(monitor)
    assert client.get(_url(session.participant)).status_code == 200
    response = client.post(_url(session.participant), {"action": "predose", **_form(CHECKLIST)})
    assert response.status_code == 403


def test_facilitator_starts_the_log_of_a_booked_dosing_visit(
    client_of, booked_dosing_site_a, dosing_team_site_a
):
    client = client_of(dosing_team_site_a[0].user)
    url = _url(booked_dosing_site_a.participant)
    assert "Start the dosing session log" in client.get(url).text
    assert client.post(url, {"action": "start"}).status_code == 302
    assert DosingSession.objects.filter(visit=booked_dosing_site_a).exists()


def test_checklist_then_dose_then_release_then_both_sign(client_of, session, dosing_team_site_a):
    first = client_of(dosing_team_site_a[0].user)
    url = _url(session.participant)
    assert first.post(url, {"action": "predose", **_form(CHECKLIST)}).status_code == 302
    kit = session.participant.allocation.kit_code
    response = first.post(
        url,
        {
            "action": "dose",
            "kit_code": kit,
            "lot_number": "L-7",
            "route": "oral",
            "dosed_at": _ago(4),
        },
    )
    assert response.status_code == 302
    for time, bp in ((_ago(3), (142, 91)), (_ago(2), (151, 96))):
        first.post(
            url,
            {
                "action": "vital",
                "measured_at": time,
                "systolic": bp[0],
                "diastolic": bp[1],
                "heart_rate": 98,
                "temperature": "37.2",
            },
        )
    first.post(
        url,
        {
            "action": "day",
            **_form(RELEASE),
            "ended_at": _ago(0.5),
            "notes": "Tearful at T+2h; settled with music.",
        },
    )
    assert first.post(url, {"action": "sign", "sign_password": PASSWORD}).status_code == 302
    second = client_of(dosing_team_site_a[1].user)  # the same browser, the other facilitator
    assert second.post(url, {"action": "sign", "sign_password": PASSWORD}).status_code == 302
    page = second.get(url).text
    assert page.count("Dosing session log signed — signed by") == 2
    assert DosingSession.objects.get(pk=session.pk).vitals.count() == 2
    assert SessionSignature.objects.filter(revision=1).count() == 2


def test_wrong_kit_is_a_field_error_that_reveals_no_arm(facilitator_client, session):
    url = _url(session.participant)
    facilitator_client.post(url, {"action": "predose", **_form(CHECKLIST)})
    response = facilitator_client.post(
        url,
        {
            "action": "dose",
            "kit_code": "K-ZZZZZZZZ",
            "lot_number": "L-7",
            "route": "oral",
            "dosed_at": _ago(4),
        },
    )
    assert response.context["forms"]["dose"].errors["kit_code"] == [
        "This is not the kit allocated to the participant."
    ]
    arm = session.participant.allocation.arm
    assert arm.label not in response.text and arm.code not in response.text.replace("K-", "")


def test_high_blood_pressure_is_shown_and_blocks_the_dose(facilitator_client, session):
    url = _url(session.participant)
    facilitator_client.post(
        url, {"action": "predose", **_form({**CHECKLIST, "predose_systolic": 171})}
    )
    page = facilitator_client.get(url).text
    assert "Pre-dose systolic blood pressure 171 is above the limit of 160." in page
    assert 'max="160"' in page  # the input flags it as it is typed
    assert "An investigator must override before dosing." in page


def test_vitals_row_errors_name_the_field(facilitator_client, session):
    response = facilitator_client.post(
        _url(session.participant),
        {
            "action": "vital",
            "measured_at": "not a time",
            "systolic": "abc",
            "diastolic": 80,
            "heart_rate": 70,
        },
    )
    errors = response.context["forms"]["vital"].errors
    assert set(errors) >= {"measured_at", "systolic"}


def test_log_page_queries_do_not_grow_with_vitals(
    facilitator_client, session, dosing_team_site_a, django_assert_max_num_queries
):
    from django.utils import timezone

    from trials.sessions.services import vital_sign_add

    url = _url(session.participant)
    with django_assert_max_num_queries(40) as before:
        facilitator_client.get(url)
    for minutes in range(25):
        vital_sign_add(
            session=session,
            by=dosing_team_site_a[0].user,
            values={
                "measured_at": timezone.now(),
                "systolic": 120 + minutes,
                "diastolic": 80,
                "heart_rate": 70,
            },
        )
    with django_assert_max_num_queries(len(before.captured_queries)):
        page = facilitator_client.get(url)
    assert page.text.count("<td>") >= 25


def test_preparation_session_is_logged_through_its_form(
    client_of, randomized_site_a, dosing_team_site_a, coordinator_site_a
):
    url = _url(randomized_site_a, "PREP1", "therapy_session")
    visit = Visit.objects.get(participant=randomized_site_a, event_code="PREP1")
    response = client_of(coordinator_site_a).post(
        url,
        {
            "attended": "yes",
            "started_at": f"{visit.target_date.isoformat()}T10:00",
            "duration_minutes": 90,
            "facilitator": dosing_team_site_a[0].pk,
            "themes": "Expectations and fears",
        },
    )
    assert response.status_code == 302
    assert TherapySession.objects.get().themes == "Expectations and fears"


def test_integration_before_dosing_is_refused_on_the_page(
    client_of, randomized_site_a, dosing_team_site_a, coordinator_site_a
):
    url = _url(randomized_site_a, "INT1A", "therapy_session")
    response = client_of(coordinator_site_a).post(
        url,
        {
            "attended": "yes",
            "started_at": "2026-12-01T10:00",
            "duration_minutes": 60,
            "facilitator": dosing_team_site_a[0].pk,
        },
    )
    assert "follows DOSE1, which has not been given yet" in response.text
    assert not TherapySession.objects.exists()
