"""Safety data in a real browser: a score, a C-SSRS with active ideation, a serious adverse event
reported by the coordinator and signed by the investigator."""

import pytest
from django.core import mail
from playwright.sync_api import expect

from tests.factories import PASSWORD
from trials.safety.models import AdverseEvent, Assessment

pytestmark = [pytest.mark.browser, pytest.mark.slow]

QUESTIONS = (
    "wish_to_be_dead",
    "suicidal_thoughts",
    "thoughts_with_method",
    "intent",
    "plan",
    "recent_behaviour",
)


def test_coordinator_records_safety_data_and_investigator_signs_the_adverse_event(
    visitor, randomized_site_a, coordinator_site_a, investigator_site_a
):
    participant_url = f"/participants/{randomized_site_a.study_id}/"
    coordinator = visitor("coordinator_a")
    coordinator.log_in("coordinator_a", PASSWORD)
    coordinator.goto(participant_url)
    safety = coordinator.page.locator("#safety")
    expect(safety).to_contain_text("No rating-scale totals recorded.")

    safety.locator("tr[data-event=BASE] a:has-text('Record')").click()
    coordinator.page.wait_for_load_state()
    coordinator.page.select_option("#id_instrument", "MADRS")
    coordinator.page.fill("#id_score", "32")
    coordinator.snap("madrs-form")
    coordinator.page.click("button:has-text('Record score')")
    coordinator.page.wait_for_load_state()
    coordinator.snap("after-madrs")
    expect(coordinator.page.locator(".messages")).to_contain_text("MADRS recorded.")
    point = coordinator.page.locator("#scores-chart g[data-instrument=MADRS] circle")
    expect(point).to_have_count(1)
    expect(point.locator("title")).to_contain_text("MADRS 32 at Baseline")
    assert Assessment.objects.get().score == 32

    coordinator.page.click("text=Record a C-SSRS screen")
    coordinator.page.wait_for_load_state()
    for name in QUESTIONS:
        answer = "yes" if name in ("wish_to_be_dead", "suicidal_thoughts") else "no"
        coordinator.page.check(f"input[name={name}][value={answer}]")
    coordinator.snap("cssrs-form")
    coordinator.page.click("button:has-text('Record screen')")
    coordinator.page.wait_for_load_state()
    coordinator.snap("after-cssrs")
    expect(coordinator.page.locator(".messages .warning")).to_contain_text(
        "Active suicidal ideation"
    )
    expect(coordinator.page.locator("#safety [data-flag=active-ideation]")).to_be_visible()
    assert sorted(message.to[0] for message in mail.outbox) == sorted(
        [investigator_site_a.email, "safety@example.org"]
    )

    coordinator.page.click("text=Report an adverse event")
    coordinator.page.wait_for_load_state()
    coordinator.page.fill("#id_term", "Hypertensive crisis")
    coordinator.page.fill("#id_onset_at", "2026-07-01T14:30")
    coordinator.page.select_option("#id_severity", "severe")
    coordinator.page.check("#id_hospitalization")
    coordinator.page.select_option("#id_relatedness", "probable")
    coordinator.page.select_option("#id_action_taken", "hospitalized")
    coordinator.page.select_option("#id_outcome", "recovering")
    coordinator.snap("ae-form")
    coordinator.page.click("button:has-text('Report adverse event')")
    coordinator.page.wait_for_load_state()
    coordinator.snap("ae-detail")
    expect(coordinator.page.locator("h1")).to_contain_text("Expedited reporting")
    expect(coordinator.page.locator("h1")).to_contain_text("Awaiting investigator signature")
    expect(coordinator.page.locator(".adverse-event-facts")).to_contain_text("2026-07-01 14:30")
    event = AdverseEvent.objects.get()
    assert event.is_serious

    investigator = visitor("investigator_a")
    investigator.log_in("investigator_a", PASSWORD)
    investigator.goto(participant_url)
    investigator.page.click("#safety >> text=Hypertensive crisis")
    investigator.page.wait_for_load_state()
    investigator.page.fill("#id_password", PASSWORD)
    investigator.page.click("text=Sign: adverse event reviewed")
    investigator.page.wait_for_load_state()
    investigator.snap("ae-signed")
    name = investigator_site_a.get_full_name()
    expect(investigator.page.locator("#review .signature")).to_contain_text(
        f"Adverse event reviewed — signed by {name}"
    )
    expect(investigator.page.locator("h1")).not_to_contain_text("Awaiting investigator signature")

    coordinator.goto(participant_url)
    expect(coordinator.page.locator("#safety .adverse-event")).to_contain_text(
        f"reviewed by {name}"
    )
    expect(coordinator.page.locator("#safety .adverse-event")).to_contain_text(
        "Expedited reporting"
    )
