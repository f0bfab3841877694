"""Consent, randomization, booking and exits through the web pages."""

import datetime
import re
import zoneinfo

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.factories import PASSWORD, FacilitatorFactory
from tests.trials.test_enrollment import _consent
from trials.enrollment.models import Consent
from trials.participants.models import Participant
from trials.sessions.models import Visit
from trials.study.models import Trial

OUTSIDERS = ["coordinator_site_b", "investigator_site_b", "sponsor_user", "coordinator_other_trial"]
PAGES = [
    ("get", "consent_record", []),
    ("post", "consent_record", []),
    ("post", "participant_randomize", []),
    ("get", "participant_unblind", []),
    ("post", "participant_unblind", []),
    ("get", "visit_book", ["BASE"]),
    ("post", "visit_book", ["BASE"]),
    ("get", "participant_exit", []),
    ("post", "participant_exit", []),
]


@pytest.mark.parametrize(("method", "name", "extra"), PAGES)
@pytest.mark.parametrize("outsider", OUTSIDERS)
def test_enrollment_pages_of_another_site_are_not_found(
    request, client_of, randomized_site_a, outsider, method, name, extra
):
    client = client_of(request.getfixturevalue(outsider))
    url = reverse(name, args=[randomized_site_a.study_id, *extra])
    assert getattr(client, method)(url).status_code == 404


def test_coordinator_records_consent_through_the_form(
    client_of, eligible_site_a, consent_form, coordinator_site_a
):
    client = client_of(coordinator_site_a)
    url = reverse("consent_record", args=[eligible_site_a.study_id])
    assert "ICF v1" in client.get(url).text
    response = client.post(
        url,
        {
            "consented_at": "2026-02-03T10:15",
            "obtained_by": coordinator_site_a.pk,
            "participant_confirmed": "on",
        },
    )
    assert response.status_code == 302
    consent = Consent.objects.get()
    # Typed at the London site in winter: 10:15 local is 10:15 UTC.
    assert consent.consented_at == datetime.datetime(2026, 2, 3, 10, 15, tzinfo=datetime.UTC)


def test_consent_form_errors_name_the_field(
    client_of, eligible_site_a, consent_form, coordinator_site_a
):
    url = reverse("consent_record", args=[eligible_site_a.study_id])
    response = client_of(coordinator_site_a).post(
        url,
        {
            "consented_at": "2026-13-40T10:15",
            "obtained_by": coordinator_site_a.pk,
        },
    )
    errors = response.context["form"].errors
    assert errors["consented_at"] == ["Enter a valid date/time."]
    assert errors["participant_confirmed"] == ["This field is required."]
    assert not Consent.objects.exists()


def test_randomize_button_shows_the_kit_code_never_the_arm(
    client_of, eligible_site_a, consent_form, coordinator_site_a
):
    _consent(eligible_site_a, consent_form, coordinator_site_a)
    client = client_of(coordinator_site_a)
    response = client.post(
        reverse("participant_randomize", args=[eligible_site_a.study_id]), follow=True
    )
    kit = eligible_site_a.allocation.kit_code
    assert kit in response.text
    assert eligible_site_a.allocation.arm.label not in response.text
    assert 'class="arm"' not in response.text


@pytest.mark.parametrize(("open_label", "sees_arm"), [(False, False), (True, True)])
def test_monitors_see_arms_only_in_open_label_trials(
    client_of, randomized_site_a, monitor, trial, open_label, sees_arm
):
    Trial.objects.filter(pk=trial.pk).update(open_label=open_label)
    page = client_of(monitor).get(reverse("participant_detail", args=[randomized_site_a.study_id]))
    assert ('class="arm"' in page.text) is sees_arm


def test_investigator_sees_the_arm_after_emergency_unblinding(
    client_of, randomized_site_a, investigator_site_a
):
    client = client_of(investigator_site_a)
    url = reverse("participant_detail", args=[randomized_site_a.study_id])
    assert 'class="arm"' not in client.get(url).text
    response = client.post(
        reverse("participant_unblind", args=[randomized_site_a.study_id]),
        {"reason": "Hypertensive crisis", "password": PASSWORD},
    )
    assert response.status_code == 302
    assert randomized_site_a.allocation.arm.label in client.get(url).text


def test_booking_outside_the_window_needs_a_reason(
    client_of, randomized_site_a, coordinator_site_a
):
    visit = Visit.objects.get(participant=randomized_site_a, event_code="PREP1")
    url = reverse("visit_book", args=[randomized_site_a.study_id, "PREP1"])
    late = (visit.window_end + datetime.timedelta(days=3)).isoformat() + "T09:00"
    client = client_of(coordinator_site_a)
    response = client.post(url, {"starts_at": late, "room": "Suite 2"})
    assert "outside the window" in response.context["form"].errors["reason"][0]
    response = client.post(url, {"starts_at": late, "room": "Suite 2", "reason": "Participant ill"})
    assert response.status_code == 302
    assert Visit.objects.get(pk=visit.pk).status == "booked"


def test_booking_with_facilitators_of_the_site(
    client_of, randomized_site_a, coordinator_site_a, facilitator_site_a
):
    facilitator = FacilitatorFactory.create(user=facilitator_site_a)
    visit = Visit.objects.get(participant=randomized_site_a, event_code="PREP1")
    url = reverse("visit_book", args=[randomized_site_a.study_id, "PREP1"])
    starts = f"{visit.target_date.isoformat()}T14:30"
    response = client_of(coordinator_site_a).post(
        url, {"starts_at": starts, "room": "Room 3", "facilitators": [facilitator.pk]}
    )
    assert response.status_code == 302
    visit.refresh_from_db()
    assert list(visit.facilitators.all()) == [facilitator]
    london = zoneinfo.ZoneInfo("Europe/London")
    assert visit.starts_at == datetime.datetime.combine(
        visit.target_date, datetime.time(14, 30), tzinfo=london
    )


def test_bad_booking_date_is_a_field_error(client_of, randomized_site_a, coordinator_site_a):
    url = reverse("visit_book", args=[randomized_site_a.study_id, "PREP1"])
    response = client_of(coordinator_site_a).post(url, {"starts_at": "2026-02-31T09:00"})
    assert response.context["form"].errors["starts_at"] == ["Enter a valid date/time."]


def test_visits_awaiting_dosing_cannot_be_booked(client_of, randomized_site_a, coordinator_site_a):
    url = reverse("visit_book", args=[randomized_site_a.study_id, "INT1A"])
    response = client_of(coordinator_site_a).post(url, {"starts_at": "2026-12-01T09:00"})
    assert "cannot be booked" in response.text


def test_withdrawal_through_the_form(client_of, randomized_site_a, coordinator_site_a):
    url = reverse("participant_exit", args=[randomized_site_a.study_id])
    response = client_of(coordinator_site_a).post(
        url,
        {
            "kind": "withdrawn",
            "reason": "adverse_event",
            "details": "Persistent anxiety",
            "exited_on": timezone.now().date().isoformat(),
        },
    )
    assert response.status_code == 302
    assert Participant.objects.get(pk=randomized_site_a.pk).status == "withdrawn"
    page = client_of(coordinator_site_a).get(
        reverse("participant_detail", args=[randomized_site_a.study_id])
    )
    assert "Withdrawn" in page.text and "Persistent anxiety" in page.text


def test_participant_page_shows_the_timeline_and_schedule(
    client_of, randomized_site_a, coordinator_site_a
):
    page = client_of(coordinator_site_a).get(
        reverse("participant_detail", args=[randomized_site_a.study_id])
    )
    timeline = re.findall(r"<li><time>.*?</li>", page.text, re.S)
    reasons = " ".join(timeline)
    for step in (
        "Candidate registered",
        "Screening started",
        "Eligibility confirmed",
        "Informed consent recorded",
        "Randomized",
    ):
        assert step in reasons
    assert page.text.count('class="visit ') == 13


def test_participant_page_queries_do_not_grow_with_history(
    client_of, randomized_site_a, coordinator_site_a, django_assert_max_num_queries
):
    from trials.participants.services import participant_contact_update

    client = client_of(coordinator_site_a)
    url = reverse("participant_detail", args=[randomized_site_a.study_id])
    with django_assert_max_num_queries(30) as before:
        client.get(url)
    for number in range(10):
        participant_contact_update(
            participant=randomized_site_a,
            changes={"phone": str(number)},
            reason=f"Correction {number}",
            by=coordinator_site_a,
        )
    with django_assert_max_num_queries(len(before.captured_queries)):
        client.get(url)
