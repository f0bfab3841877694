"""A coordinator registers a candidate in a real browser; other sites cannot see them."""

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD
from trials.participants.models import Participant, ParticipantContact

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.smoke  # the one browser journey
def test_coordinator_registers_a_candidate_and_sees_the_audit_trail(visitor, coordinator_site_a):
    coordinator = visitor("coordinator_a")
    coordinator.log_in("coordinator_a", PASSWORD)
    expect(coordinator.page.locator("h1")).to_have_text("Your trials")

    coordinator.page.click("text=Participants")
    coordinator.snap()
    coordinator.page.click("text=New candidate")
    coordinator.snap()
    coordinator.page.fill("#id_given_name", "Robin")
    coordinator.page.fill("#id_family_name", "Castellanos")
    coordinator.page.fill("#id_date_of_birth", "1987-07-21")
    coordinator.page.fill("#id_email", "robin@example.org")
    coordinator.page.check("#id_may_contact")
    coordinator.page.click("text=Register candidate")
    coordinator.page.wait_for_load_state()
    coordinator.snap()

    expect(coordinator.page.locator("h1")).to_contain_text("COMP360-TRD-P3-LON-0001")
    expect(coordinator.page.locator(".identity")).to_contain_text("Robin Castellanos")
    contact = ParticipantContact.objects.get(participant__study_id="COMP360-TRD-P3-LON-0001")
    assert contact.email == "robin@example.org"

    coordinator.page.click("text=Audit trail")
    coordinator.snap()
    expect(coordinator.page.locator("table.audit")).to_contain_text("Candidate registered")


def test_bad_date_shows_a_field_error_and_keeps_what_was_typed(visitor, coordinator_site_a):
    coordinator = visitor("coordinator_a")
    coordinator.log_in("coordinator_a", PASSWORD)
    coordinator.goto("/trials/COMP360-TRD-P3/sites/LON/participants/new")
    coordinator.page.fill("#id_given_name", "Robin")
    coordinator.page.fill("#id_family_name", "Castellanos")
    # A browser date input cannot hold an impossible date; a script or old browser can send one.
    coordinator.page.evaluate("document.querySelector('#id_date_of_birth').type = 'text'")
    coordinator.page.fill("#id_date_of_birth", "1987-02-30")
    coordinator.page.click("text=Register candidate")
    coordinator.page.wait_for_load_state()
    coordinator.snap("bad-date")

    expect(coordinator.page.locator("#date_of_birth-error")).to_have_text("Enter a valid date.")
    expect(coordinator.page.locator("#id_family_name")).to_have_value("Castellanos")
    assert not Participant.objects.exists()


def test_coordinator_of_another_site_gets_not_found(
    visitor, participant_site_a, coordinator_site_b
):
    other = visitor("coordinator_b")
    other.log_in("coordinator_b", PASSWORD)
    other.goto(f"/participants/{participant_site_a.study_id}/")
    assert other.status == 404
    expect(other.page.locator("h1")).to_have_text("Not found")
    expect(other.page.locator("body")).not_to_contain_text("Vandermolen-Quist")


def test_wrong_password_locks_after_five_attempts(visitor, coordinator_site_a):
    person = visitor("someone")
    for _ in range(5):
        person.goto("/accounts/login/")
        person.page.fill("#id_username", "coordinator_a")
        person.page.fill("#id_password", "not the password")
        person.page.click("button[type=submit]")
        person.page.wait_for_load_state()
    person.log_in("coordinator_a", PASSWORD)
    expect(person.page.locator("h1")).to_have_text("Account locked")
