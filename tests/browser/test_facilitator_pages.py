"""A facilitator's sessions and calendar link, and a coordinator's dosing team, in a browser."""

import datetime

import icalendar
import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD, FacilitatorFactory, LicenceFactory, TrainingFactory
from tests.trials.test_facilitators import _book, _facilitator, _randomize

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def lead_facilitator_a(facilitator_site_a):
    facilitator = FacilitatorFactory(user=facilitator_site_a)
    LicenceFactory(
        facilitator=facilitator, expires_on=datetime.date.today() + datetime.timedelta(days=900)
    )
    TrainingFactory(facilitator=facilitator, hours=120)
    return facilitator


@pytest.fixture
def co_facilitator_a(trial_site_a):
    return _facilitator("co_facilitator_a", "Jonas", "Eriksen", trial_site_a)


@pytest.fixture
def lapsed_facilitator_a(trial_site_a):
    lapsed = datetime.date.today() - datetime.timedelta(days=10)
    return _facilitator(
        "lapsed_facilitator_a", "Robin", "Okafor", trial_site_a, licence_expires=lapsed
    )


@pytest.fixture
def randomized_site_a(eligible_site_a, consent_form, coordinator_site_a):
    return _randomize(eligible_site_a, consent_form, coordinator_site_a)


def test_facilitator_sees_their_dosing_session_and_subscribes_to_the_calendar(
    visitor, randomized_site_a, coordinator_site_a, lead_facilitator_a, co_facilitator_a
):
    dosing = _book(
        randomized_site_a, "DOSE1", coordinator_site_a, [lead_facilitator_a, co_facilitator_a]
    )
    study_id = randomized_site_a.study_id
    facilitator = visitor("facilitator_a")
    facilitator.log_in("facilitator_a", PASSWORD)
    facilitator.page.click("text=My sessions")
    facilitator.page.wait_for_load_state()
    facilitator.snap()
    row = facilitator.page.locator("#sessions tr.session-dosing")
    expect(row).to_contain_text(study_id)
    expect(row).to_contain_text(f"{dosing.window_start:%Y-%m-%d} – {dosing.window_end:%Y-%m-%d}")
    expect(row).to_contain_text("Jonas Eriksen")
    facilitator.page.click("text=My credentials")
    facilitator.page.wait_for_load_state()
    facilitator.snap()
    expect(facilitator.page.locator("#trials tr[data-trial='COMP360-TRD-P3']")).to_contain_text(
        "Qualified"
    )
    facilitator.page.click("text=My sessions")
    facilitator.page.wait_for_load_state()

    facilitator.page.click("button:has-text('Create calendar link')")
    facilitator.page.wait_for_load_state()
    facilitator.snap("calendar-link")
    first_url = facilitator.page.input_value("#calendar-url")
    calendar_app = visitor("calendar_app").page.request
    feed = calendar_app.get(first_url)
    assert feed.status == 200
    assert feed.headers["content-type"].startswith("text/calendar")
    (event,) = icalendar.Calendar.from_ical(feed.body()).events
    assert str(event["SUMMARY"]) == f"Dosing: {study_id}"
    assert event.start == dosing.starts_at

    facilitator.page.click("button:has-text('Replace the link')")
    facilitator.page.wait_for_load_state()
    facilitator.snap("calendar-link-replaced")
    expect(facilitator.page.locator(".messages")).to_contain_text("old link no longer works")
    second_url = facilitator.page.input_value("#calendar-url")
    assert second_url != first_url
    assert calendar_app.get(first_url).status == 404
    assert calendar_app.get(second_url).status == 200


def test_coordinator_cannot_put_a_facilitator_with_a_lapsed_licence_on_a_dosing_session(
    visitor, randomized_site_a, coordinator_site_a, lead_facilitator_a, lapsed_facilitator_a
):
    dose1 = randomized_site_a.visits.get(event_code="DOSE1")
    coordinator = visitor("coordinator_a")
    coordinator.log_in("coordinator_a", PASSWORD)
    coordinator.goto(f"/participants/{randomized_site_a.study_id}/visits/DOSE1/book")
    coordinator.page.fill("#id_starts_at", f"{dose1.target_date.isoformat()}T09:30")
    coordinator.page.fill("#id_room", "Dosing suite 1")
    coordinator.page.select_option(
        "#id_facilitators", label=[str(lead_facilitator_a), "Robin Okafor"]
    )
    coordinator.page.click("button:has-text('Book visit')")
    coordinator.page.wait_for_load_state()
    coordinator.snap("lapsed-licence")
    lapsed = datetime.date.today() - datetime.timedelta(days=10)
    expect(coordinator.page.locator("#facilitators-error")).to_have_text(
        f"Robin Okafor cannot be assigned: licence lapsed on {lapsed:%Y-%m-%d}."
    )
    dose1.refresh_from_db()
    assert dose1.status == "scheduled"
