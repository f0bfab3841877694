"""Screening in a real browser: the verdict follows the typing, an investigator signs."""

import pytest
from playwright.sync_api import expect

from screening.models import Screening
from tests.factories import PASSWORD
from tests.screening.conftest import COMP360
from trials.participants.models import Participant
from trials.study.services import protocol_load

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BOOLEANS = {
    "mdd_current_episode": "yes",
    "mdd_with_psychotic_features": "no",
    "first_lifetime_episode": "no",
    "lifetime_excluded_personality_disorder": "no",
    "ongoing_serious_psychiatric_comorbidity": "no",
}
NUMBERS = {
    "current_episode_duration_months": "14",
    "madrs_total_screening": "31",
    "madrs_total_baseline": "29",
    "failed_adequate_treatments_current_episode": "3",
}


@pytest.fixture
def comp360(trial):
    return protocol_load(content=COMP360, filename="comp360-trd-p3.yaml", by=None)[0]


def test_screening_verdict_updates_as_fields_are_filled_then_investigator_signs(
    visitor, comp360, participant_site_a, coordinator_site_a, investigator_site_a
):
    coordinator = visitor("coordinator_a")
    coordinator.log_in("coordinator_a", PASSWORD)
    coordinator.goto(f"/participants/{participant_site_a.study_id}/")
    coordinator.page.click("text=Start screening")
    coordinator.page.wait_for_load_state()
    coordinator.snap()
    verdict = coordinator.page.locator("#verdict .verdict")
    expect(verdict).to_have_attribute("data-result", "incomplete")

    coordinator.page.fill("#id_data-age_years", "16")
    expect(verdict).to_have_attribute("data-result", "ineligible")
    expect(verdict).to_contain_text("Aged 18 or over at screening")
    coordinator.snap("verdict-ineligible-as-typed")

    coordinator.page.fill("#id_data-age_years", "34")
    for name, value in BOOLEANS.items():
        coordinator.page.select_option(f"#id_data-{name}", value)
    for name, value in NUMBERS.items():
        coordinator.page.fill(f"#id_data-{name}", value)
    expect(verdict).to_have_attribute("data-result", "eligible")
    coordinator.snap("verdict-eligible-as-typed")
    assert Screening.objects.get().data == {}  # nothing saved while typing

    coordinator.page.click("text=Save screening data")
    coordinator.page.wait_for_load_state()
    coordinator.snap()
    expect(coordinator.page.locator(".messages")).to_contain_text("Screening data saved")
    assert Participant.objects.get(pk=participant_site_a.pk).status == "eligible"

    investigator = visitor("investigator_a")
    investigator.log_in("investigator_a", PASSWORD)
    investigator.goto(f"/screenings/{Screening.objects.get().pk}/")
    investigator.page.fill("#id_password", PASSWORD)
    investigator.page.click("text=Sign: eligibility confirmed")
    investigator.page.wait_for_load_state()
    investigator.snap()
    expect(investigator.page.locator(".signature")).to_contain_text(
        f"Eligibility confirmed — signed by {investigator_site_a.get_full_name()}"
    )
