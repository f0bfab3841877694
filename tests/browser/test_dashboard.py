"""The trial dashboard in a real browser: reached from home, charts drawn, scoped to the site."""

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD
from tests.trials.test_dashboards import Cast

pytestmark = [pytest.mark.browser, pytest.mark.slow]
FIGURES = ["consort-figure", "enrollment-figure", "visits-figure"]


@pytest.fixture
def london(comp360_protocol, trial_site_a, coordinator_site_a, investigator_site_a, consent_form):
    return Cast(trial_site_a, coordinator_site_a, investigator_site_a, consent_form)


@pytest.fixture
def new_york(comp360_protocol, trial_site_b, coordinator_site_b, investigator_site_b, consent_form):
    return Cast(trial_site_b, coordinator_site_b, investigator_site_b, consent_form)


def test_monitor_opens_the_dashboard_from_home_and_sees_every_chart(
    visitor, monitor, london, new_york
):
    london.at("randomized")
    london.at("screen_failed")
    new_york.at("consented")
    person = visitor("monitor")
    requested: list[str] = []
    person.page.on("request", lambda request: requested.append(request.url))
    person.log_in("monitor", PASSWORD)
    person.page.click("text=Dashboard")
    person.page.wait_for_load_state()
    person.snap("dashboard")

    expect(person.page.locator("h1")).to_have_text("COMP360-TRD-P3 dashboard")
    for figure in FIGURES:
        chart = person.page.locator(f"svg#{figure}")
        expect(chart).to_be_visible()
        assert chart.bounding_box()["width"] > 500
    randomized = person.page.locator('#consort-numbers tr[data-step="randomized"] td')
    expect(randomized).to_have_text("1")
    expect(person.page.locator("#consort-figure")).to_contain_text("Screen failed")
    expect(person.page.locator("#week-numbers")).to_contain_text("New York (NYC)")
    assert all(url.startswith(person.base_url) for url in requested)


def test_site_coordinator_sees_only_their_sites_numbers(
    visitor, coordinator_site_b, london, new_york
):
    london.at("randomized")
    new_york.at("eligible")
    person = visitor("coordinator_b")
    person.log_in("coordinator_b", PASSWORD)
    person.page.click("text=Dashboard")
    person.page.wait_for_load_state()
    person.snap("dashboard")

    expect(person.page.locator("#scope")).to_contain_text("New York (NYC)")
    expect(person.page.locator('#consort-numbers tr[data-step="eligible"] td')).to_have_text("1")
    expect(person.page.locator('#consort-numbers tr[data-step="randomized"] td')).to_have_text("0")
    expect(person.page.locator("main")).not_to_contain_text("London")
