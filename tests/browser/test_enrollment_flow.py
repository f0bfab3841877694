"""The coordinator's whole path in a real browser: candidate to first booked visit."""

import datetime

import pytest
from playwright.sync_api import expect

from tests.browser.test_screening_pages import BOOLEANS, NUMBERS
from tests.factories import PASSWORD, FacilitatorFactory
from trials.participants.models import Participant
from trials.sessions.models import Visit

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_candidate_to_booked_first_visit(
    visitor,
    comp360_protocol,
    consent_form,
    coordinator_site_a,
    investigator_site_a,
    facilitator_site_a,
    coordinator_site_b,
):
    FacilitatorFactory(user=facilitator_site_a)
    coordinator = visitor("coordinator_a")
    coordinator.log_in("coordinator_a", PASSWORD)
    coordinator.goto("/trials/COMP360-TRD-P3/sites/LON/participants/new")
    coordinator.page.fill("#id_given_name", "Noor")
    coordinator.page.fill("#id_family_name", "Haddad-Lindqvist")
    coordinator.page.fill("#id_date_of_birth", "1981-04-09")
    coordinator.page.click("text=Register candidate")
    coordinator.page.wait_for_load_state()
    coordinator.snap()
    study_id = "COMP360-TRD-P3-LON-0001"
    expect(coordinator.page.locator("h1")).to_contain_text(study_id)

    coordinator.page.click("text=Start screening")
    coordinator.page.wait_for_load_state()
    coordinator.page.fill("#id_data-age_years", "44")
    for name, value in BOOLEANS.items():
        coordinator.page.select_option(f"#id_data-{name}", value)
    for name, value in NUMBERS.items():
        coordinator.page.fill(f"#id_data-{name}", value)
    expect(coordinator.page.locator("#verdict .verdict")).to_have_attribute(
        "data-result", "eligible"
    )
    coordinator.page.click("text=Save screening data")
    coordinator.page.wait_for_load_state()
    coordinator.snap()

    investigator = visitor("investigator_a")
    investigator.log_in("investigator_a", PASSWORD)
    investigator.goto(f"/participants/{study_id}/")
    investigator.page.click("text=Open screening")
    investigator.page.wait_for_load_state()
    investigator.page.fill("#id_password", PASSWORD)
    investigator.page.click("text=Sign: eligibility confirmed")
    investigator.page.wait_for_load_state()
    investigator.snap()

    coordinator.goto(f"/participants/{study_id}/")
    expect(coordinator.page.locator("#screening .signature")).to_contain_text(
        "Eligibility confirmed"
    )
    coordinator.page.click("text=Record consent to ICF v1")
    coordinator.page.wait_for_load_state()
    coordinator.snap()
    coordinator.page.fill("#id_consented_at", "2026-02-03T10:15")
    coordinator.page.check("#id_participant_confirmed")
    coordinator.page.click("button:has-text('Record consent')")
    coordinator.page.wait_for_load_state()
    coordinator.snap()
    expect(coordinator.page.locator("h1 .status")).to_have_text("Consented")

    coordinator.page.click("button:has-text('Randomize')")
    coordinator.page.wait_for_load_state()
    coordinator.snap()
    expect(coordinator.page.locator(".messages")).to_contain_text("Randomized: kit K-")
    expect(coordinator.page.locator("#allocation .kit")).to_contain_text("K-")
    expect(coordinator.page.locator("#allocation")).not_to_contain_text("COMP360 25 mg")
    expect(coordinator.page.locator("#schedule tr.visit")).to_have_count(13)

    coordinator.page.locator("#schedule tr[data-event='BASE'] a", has_text="Book").click()
    coordinator.page.wait_for_load_state()
    coordinator.snap()
    base = Visit.objects.get(participant__study_id=study_id, event_code="BASE")
    coordinator.page.fill("#id_starts_at", f"{base.target_date.isoformat()}T09:30")
    coordinator.page.fill("#id_room", "Dosing suite 1")
    coordinator.page.select_option("#id_facilitators", label=str(facilitator_site_a.facilitator))
    coordinator.page.click("button:has-text('Book visit')")
    coordinator.page.wait_for_load_state()
    coordinator.snap()
    booked = coordinator.page.locator("#schedule tr[data-event='BASE']")
    expect(booked).to_contain_text("Booked")
    expect(booked).to_contain_text("Dosing suite 1")
    assert Participant.objects.get(study_id=study_id).status == "randomized"

    other = visitor("coordinator_b")
    other.log_in("coordinator_b", PASSWORD)
    other.goto(f"/participants/{study_id}/")
    assert other.status == 404


def test_booking_outside_the_window_shows_the_reason_error(
    visitor, comp360_protocol, consent_form, eligible_site_a, coordinator_site_a
):
    from tests.trials.test_enrollment import _consent
    from trials.enrollment.services import participant_randomize

    _consent(eligible_site_a, consent_form, coordinator_site_a)
    participant_randomize(participant=eligible_site_a, by=coordinator_site_a)
    visit = Visit.objects.get(participant=eligible_site_a, event_code="PREP1")
    coordinator = visitor("coordinator_a")
    coordinator.log_in("coordinator_a", PASSWORD)
    coordinator.goto(f"/participants/{eligible_site_a.study_id}/visits/PREP1/book")
    late = visit.window_end + datetime.timedelta(days=2)
    coordinator.page.fill("#id_starts_at", f"{late.isoformat()}T09:30")
    coordinator.page.click("button:has-text('Book visit')")
    coordinator.page.wait_for_load_state()
    coordinator.snap("outside-window")
    expect(coordinator.page.locator("#reason-error")).to_contain_text("outside the window")
