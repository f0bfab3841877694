"""GET /api/v1/trials/<code>/fhir: a FHIR R4B Bundle that fhir.resources accepts."""

import json
from typing import cast

from django.db import connection
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.researchstudy import ResearchStudy

from tests.api import test_odm
from tests.api.test_odm import PLANTED, body_of
from tests.factories import participant_at
from trials.sponsor_api.models import ExportRequest
from trials.sponsor_api.pseudonyms import pseudonym
from trials.study.models import Sponsor, Trial

URL = "/api/v1/trials/COMP360-TRD-P3/fhir"
# The same cast of clinical data as the ODM tests.
clinical_data = test_odm.clinical_data


def bundle_of(client) -> tuple[Bundle, dict]:
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    body = body_of(response)
    return Bundle.model_validate_json(body), json.loads(body)


def subjects(bundle: Bundle) -> list:
    return [e.resource for e in bundle.entry if e.resource.get_resource_type() == "ResearchSubject"]


def test_fhir_bundle_parses_as_r4b(sponsor_client, clinical_data):
    bundle, _ = bundle_of(sponsor_client)

    assert bundle.type == "collection"
    kinds = [entry.resource.get_resource_type() for entry in bundle.entry]
    assert kinds == ["ResearchStudy", "ResearchSubject", "ResearchSubject"]
    study = cast(ResearchStudy, bundle.entry[0].resource)
    assert study.identifier[0].value == "COMP360-TRD-P3"
    assert all(s.study.reference == bundle.entry[0].fullUrl for s in subjects(bundle))


def test_fhir_subjects_carry_pseudonym_status_and_consent(sponsor_client, clinical_data, sponsor):
    participant, candidate = clinical_data
    secret = Sponsor.objects.get(pk=sponsor.pk).pseudonym_secret

    bundle, _ = bundle_of(sponsor_client)

    randomized, registered = subjects(bundle)
    assert randomized.identifier[0].value == pseudonym(secret, participant.pk)
    assert randomized.individual.identifier.value == pseudonym(secret, participant.pk)
    assert randomized.status == "on-study"
    assert registered.identifier[0].value == pseudonym(secret, candidate.pk)
    assert registered.status == "candidate"
    consent = randomized.contained[0]
    assert consent.get_resource_type() == "Consent"
    assert randomized.consent.reference == "#consent"
    assert registered.contained is None and registered.consent is None


def test_fhir_safe_harbor_dates_are_years(sponsor_client, clinical_data):
    _, raw = bundle_of(sponsor_client)

    subject = raw["entry"][1]["resource"]
    assert len(subject["period"]["start"]) == 4
    assert len(subject["contained"][0]["dateTime"]) == 4


def test_fhir_hides_the_arm_of_a_blinded_trial(sponsor_client, clinical_data):
    bundle, raw = bundle_of(sponsor_client)

    assert all(s.assignedArm is None and s.actualArm is None for s in subjects(bundle))
    assert "arm" not in raw["entry"][0]["resource"]


def test_fhir_shows_the_arm_of_an_open_label_trial(sponsor_client, clinical_data, trial):
    participant, _ = clinical_data
    Trial.objects.filter(pk=trial.pk).update(open_label=True)

    bundle, _ = bundle_of(sponsor_client)

    arm = participant.allocation.arm.code
    randomized, registered = subjects(bundle)
    assert randomized.assignedArm == arm and randomized.actualArm == arm
    assert registered.assignedArm is None
    assert arm in [a.name for a in cast(ResearchStudy, bundle.entry[0].resource).arm]


def test_fhir_never_holds_identity_or_internal_ids(sponsor_client, clinical_data):
    participant, candidate = clinical_data

    text = body_of(sponsor_client.get(URL)).decode()

    leaked = {what: value for what, value in PLANTED.items() if value in text}
    assert leaked == {}
    assert participant.study_id not in text and candidate.study_id not in text


def test_fhir_query_count_does_not_grow_with_participants(
    sponsor_client, clinical_data, trial_site_b, coordinator_site_b
):
    with CaptureQueriesContext(connection) as few:
        body_of(sponsor_client.get(URL))
    for _ in range(3):
        participant_at(trial_site_b, coordinator_site_b)

    with CaptureQueriesContext(connection) as more:
        body_of(sponsor_client.get(URL))

    assert len(more) == len(few)


def test_fhir_answers_a_client_asking_for_fhir_json(sponsor_client, clinical_data):
    response = sponsor_client.get(URL, HTTP_ACCEPT="application/fhir+json")

    assert response.status_code == 200
    Bundle.model_validate_json(body_of(response))


def test_fhir_of_another_sponsors_trial_is_404(other_sponsor_client, clinical_data):
    assert other_sponsor_client.get(URL).status_code == 404


def test_fhir_without_a_key_is_401(client, clinical_data):
    assert client.get(URL).status_code == 401


def test_fhir_download_is_logged_with_its_subject_count(sponsor_client, clinical_data):
    body_of(sponsor_client.get(URL))

    logged = ExportRequest.objects.get()
    assert (logged.resource, logged.format, logged.rows) == ("fhir", "fhir", 2)


def test_fhir_is_for_sponsor_keys_only(api_client_of, clinical_data, coordinator_site_a):
    assert api_client_of(coordinator_site_a).get(URL).status_code == 403
