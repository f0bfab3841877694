"""The dosing session in a real browser: two facilitators, the vitals grid, the safety gate."""

import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.factories import PASSWORD
from trials.safety.models import AdverseEvent
from trials.sessions.models import DosingSession, SessionSignature

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHECKLIST_BOXES = ("eligibility_confirmed", "consent_current", "medications_stopped")


def _checklist(page, systolic: str) -> None:
    for name in CHECKLIST_BOXES:
        page.check(f"#id_{name}")
    page.fill("#id_washout_days", "14")
    page.select_option("#id_pregnancy_test", "negative")
    page.fill("#id_predose_systolic", systolic)
    page.fill("#id_predose_diastolic", "84")
    page.fill("#id_predose_heart_rate", "76")
    page.click("#predose button")
    page.wait_for_load_state()


def _ago(hours: float) -> str:
    """A time just past at the London site, as the form's inputs take it."""
    moment = datetime.datetime.now(ZoneInfo("Europe/London")) - datetime.timedelta(hours=hours)
    return moment.strftime("%Y-%m-%dT%H:%M")


def _dose(person, kit: str) -> None:
    person.page.fill("#id_kit_code", kit)
    person.page.fill("#id_lot_number", "LOT-2291")
    person.page.fill("#id_dosed_at", _ago(5))
    person.page.click("text=Record dose given")
    person.page.wait_for_load_state()


def test_two_facilitators_log_a_full_dosing_session(
    visitor, booked_dosing_site_a, dosing_team_site_a
):
    participant = booked_dosing_site_a.participant
    url = f"/participants/{participant.study_id}/visits/DOSE1/dosing"
    first = visitor("facilitator_a1")
    first.log_in("facilitator_a1", PASSWORD)
    first.goto(url)
    first.page.click("text=Start the dosing session log")
    first.page.wait_for_load_state()
    _checklist(first.page, "128")
    first.snap("checklist")
    _dose(first, participant.allocation.kit_code)
    expect(first.page.locator("#dose .kit")).to_have_text(participant.allocation.kit_code)

    for hours, systolic, rate in ((4, "138", "92"), (3.5, "171", "118"), (3, "142", "96")):
        first.page.fill("#id_measured_at", _ago(hours))
        first.page.fill("#id_systolic", systolic)
        first.page.fill("#id_diastolic", "88")
        first.page.fill("#id_heart_rate", rate)
        if systolic == "171":
            # Flagged as it is typed, before anything is sent.
            expect(first.page.locator("#id_systolic:out-of-range")).to_have_count(1)
        first.page.click("text=Add reading")
        first.page.wait_for_load_state()
    expect(first.page.locator("table.vitals tbody tr")).to_have_count(3)
    expect(first.page.locator("table.vitals td.high")).to_have_count(2)
    first.snap("vitals-grid")

    first.page.fill("#id_ended_at", _ago(0.5))
    for name in ("release_alert_and_oriented", "release_vitals_stable", "release_escort_arranged"):
        first.page.check(f"#id_{name}")
    first.page.fill("#id_notes", "Peak at T+2h; brief anxiety, settled with music.")
    first.page.click("#day button")
    first.page.wait_for_load_state()

    first.page.click("text=Report an adverse event")
    first.page.wait_for_load_state()
    expect(first.page.locator("#id_dosing_session option:checked")).to_have_text("Administration 1")
    first.page.fill("#id_term", "Transient hypertension")
    # Adverse events are reported as they happen: times in the past, at the site.
    first.page.fill("#id_onset_at", _ago(3.5))
    first.page.fill("#id_ended_at", _ago(2))
    first.page.select_option("#id_severity", "moderate")
    first.page.select_option("#id_relatedness", "probable")
    first.page.select_option("#id_action_taken", "none")
    first.page.select_option("#id_outcome", "recovered")
    first.page.click("button:has-text('Report adverse event')")
    first.page.wait_for_load_state()
    first.snap("adverse-event")
    assert AdverseEvent.objects.get().dosing_session.visit == booked_dosing_site_a
    first.goto(url)
    first.page.fill("#id_sign_password", PASSWORD)
    first.page.click("button:has-text('Sign the log')")
    first.page.wait_for_load_state()

    second = visitor("facilitator_a2")
    second.log_in("facilitator_a2", PASSWORD)
    second.goto(url)
    second.page.fill("#id_sign_password", PASSWORD)
    second.page.click("button:has-text('Sign the log')")
    second.page.wait_for_load_state()
    second.snap("signed")
    expect(second.page.locator("#signatures .signature")).to_have_count(2)
    session = DosingSession.objects.get(visit=booked_dosing_site_a)
    assert session.status == "given"
    assert SessionSignature.objects.filter(dosing_session=session, revision=1).count() == 2


def test_high_predose_blood_pressure_blocks_until_an_investigator_overrides(
    visitor, booked_dosing_site_a, dosing_team_site_a, investigator_site_a
):
    participant = booked_dosing_site_a.participant
    url = f"/participants/{participant.study_id}/visits/DOSE1/dosing"
    facilitator = visitor("facilitator_a1")
    facilitator.log_in("facilitator_a1", PASSWORD)
    facilitator.goto(url)
    facilitator.page.click("text=Start the dosing session log")
    facilitator.page.wait_for_load_state()
    _checklist(facilitator.page, "174")
    expect(facilitator.page.locator("#blocking")).to_contain_text("An investigator must override")
    _dose(facilitator, participant.allocation.kit_code)
    facilitator.snap("blocked")
    expect(facilitator.page.locator("#dose")).to_contain_text(
        "Pre-dose systolic blood pressure 174 is above the limit of 160."
    )
    assert DosingSession.objects.get(visit=booked_dosing_site_a).status == "in_progress"

    investigator = visitor("investigator_a")
    investigator.log_in("investigator_a", PASSWORD)
    investigator.goto(url)
    investigator.page.fill("#id_override_reason", "Repeat 152/88 after rest; anxious on arrival")
    investigator.page.fill("#id_override_password", PASSWORD)
    investigator.page.click("text=Sign: permit dosing")
    investigator.page.wait_for_load_state()
    investigator.snap("override")
    expect(investigator.page.locator("#out-of-range .signature")).to_contain_text(
        "Dosing permitted despite pre-dose vitals"
    )

    facilitator.goto(url)
    _dose(facilitator, participant.allocation.kit_code)
    expect(facilitator.page.locator("h1 .status")).to_have_text("Dose given")
