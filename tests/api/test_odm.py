"""GET /api/v1/trials/<code>/odm: CDISC ODM 1.3.2, valid against the official schema."""

import datetime
import gc
import json
import re
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from lxml import etree

from tests.factories import COMP360_ELIGIBLE_DATA, participant_at
from trials.participants.models import Participant
from trials.safety.models import AdverseEvent, Assessment
from trials.sessions.models import DosingSession, Visit, VitalSign
from trials.sponsor_api.models import ExportRequest
from trials.sponsor_api.odm import odm_stream
from trials.sponsor_api.pseudonyms import pseudonym
from trials.study.models import Sponsor

SCHEMA = Path(__file__).resolve().parents[2] / "trials/sponsor_api/schemas/odm-1.3.2/ODM1-3-2.xsd"
NS = {"odm": "http://www.cdisc.org/ns/odm/v1.3"}
URL = "/api/v1/trials/COMP360-TRD-P3/odm"

# Planted where a careless export would pick them up: none may ever leave.
PLANTED = {
    "given name": "Alex",
    "family name": "Vandermolen-Quist",
    "e-mail": "alex.morgan@example.org",
    "phone": "7946",
    "address": "Example Street",
    "birth date": "1984-03-14",
    "dosing notes": "PLANTED-DOSING-NOTE",
    "interventions": "PLANTED-INTERVENTION",
    "AE description": "PLANTED-AE-DESCRIPTION",
    "kit code": "KIT-PLANTED-1",
    "lot number": "LOT-PLANTED-77",
}


@pytest.fixture(scope="module")
def odm_schema():
    parser = etree.XMLParser(no_network=True)
    return etree.XMLSchema(etree.parse(str(SCHEMA), parser))


@pytest.fixture
def clinical_data(randomized_site_a, coordinator_site_a, coordinator_site_b, trial_site_b):
    """A randomized participant with a dosing session, vitals, an assessment and an AE, and a
    candidate at the other site; identifying details and free text planted everywhere."""
    participant = randomized_site_a
    dose_visit = Visit.objects.get(participant=participant, event_code="DOSE1")
    dosed_at = timezone.now().replace(microsecond=0) - datetime.timedelta(hours=6)
    session = DosingSession.objects.create(
        visit=dose_visit,
        participant=participant,
        status=DosingSession.Status.GIVEN,
        eligibility_confirmed=True,
        consent_current=True,
        predose_systolic=128,
        predose_diastolic=82,
        predose_heart_rate=71,
        predose_temperature=Decimal("36.8"),
        kit_code=PLANTED["kit code"],
        lot_number=PLANTED["lot number"],
        dosed_at=dosed_at,
        ended_at=dosed_at + datetime.timedelta(hours=5),
        interventions=PLANTED["interventions"],
        notes=PLANTED["dosing notes"],
        started_by=coordinator_site_a,
    )
    for minutes, systolic in ((30, 131), (90, 142)):
        VitalSign.objects.create(
            dosing_session=session,
            participant=participant,
            measured_at=dosed_at + datetime.timedelta(minutes=minutes),
            systolic=systolic,
            diastolic=85,
            heart_rate=88,
            temperature=Decimal("37.1"),
            recorded_by=coordinator_site_a,
        )
    Assessment.objects.create(
        participant=participant,
        visit=Visit.objects.get(participant=participant, event_code="BASE"),
        instrument="MADRS",
        score=Decimal("31"),
        assessed_at=dosed_at - datetime.timedelta(days=7),
        recorded_by=coordinator_site_a,
    )
    AdverseEvent.objects.create(
        participant=participant,
        dosing_session=session,
        term="Headache",
        onset_at=dosed_at + datetime.timedelta(hours=2),
        severity="mild",
        relatedness="possible",
        action_taken="none",
        outcome="recovered",
        description=PLANTED["AE description"],
        reported_by=coordinator_site_a,
    )
    candidate = participant_at(trial_site_b, coordinator_site_b, given_name="Sam")
    return participant, candidate


def body_of(response) -> bytes:
    return b"".join(response.streaming_content)


def odm_of(client) -> etree._Element:
    response = client.get(URL)
    assert response.status_code == 200, response
    return etree.fromstring(body_of(response))


def assert_valid(schema, document) -> None:
    valid = schema.validate(document)
    assert valid, "\n".join(str(error) for error in schema.error_log)


def values(document, item_oid: str) -> list[str]:
    return document.xpath(f"//odm:ItemData[@ItemOID='{item_oid}']/@Value", namespaces=NS)


def test_odm_is_valid_against_the_odm_1_3_2_schema(sponsor_client, clinical_data, odm_schema):
    response = sponsor_client.get(URL)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    document = etree.fromstring(body_of(response))
    assert_valid(odm_schema, document)
    assert document.get("ODMVersion") == "1.3.2"


def test_odm_metadata_follows_the_protocol(sponsor_client, clinical_data, odm_schema):
    document = odm_of(sponsor_client)

    events = document.xpath("//odm:StudyEventDef/@OID", namespaces=NS)
    assert events[:2] == ["SE.SCREENING", "SE.BASE"]
    assert {"SE.DOSE1", "SE.DOSE2", "SE.W52", "SE.AE"} <= set(events)
    data_types = dict(
        zip(
            document.xpath("//odm:ItemDef/@OID", namespaces=NS),
            document.xpath("//odm:ItemDef/@DataType", namespaces=NS),
            strict=True,
        )
    )
    assert data_types["IT.SCR.MADRS_TOTAL_SCREENING"] == "integer"
    assert data_types["IT.SCR.MDD_CURRENT_EPISODE"] == "boolean"
    assert data_types["IT.VITALS.SYSBP"] == "integer"
    assert data_types["IT.DOSING.DOSED_AT"] == "partialDate"
    codes = document.xpath(
        "//odm:CodeList[@OID='CL.AE.SEVERITY']/odm:CodeListItem/@CodedValue", namespaces=NS
    )
    assert codes == ["mild", "moderate", "severe"]
    instruments = document.xpath(
        "//odm:CodeList[@OID='CL.ASSESSMENT.INSTRUMENT']/odm:CodeListItem/@CodedValue",
        namespaces=NS,
    )
    assert instruments == ["MADRS", "QIDS-SR16"]


def test_odm_subjects_are_known_by_pseudonym_only(sponsor_client, clinical_data, sponsor):
    participant, candidate = clinical_data

    document = odm_of(sponsor_client)

    keys = document.xpath("//odm:SubjectData/@SubjectKey", namespaces=NS)
    secret = Sponsor.objects.get(pk=sponsor.pk).pseudonym_secret
    # The candidate never consented: counted in the screening log, absent from the ODM.
    assert keys == [pseudonym(secret, participant.pk)]
    text = etree.tostring(document).decode()
    assert participant.study_id not in text and candidate.study_id not in text
    assert pseudonym(secret, candidate.pk) not in text


def test_odm_carries_the_clinical_data(sponsor_client, clinical_data):
    document = odm_of(sponsor_client)

    subject = document.xpath("//odm:SubjectData", namespaces=NS)[0]
    events = subject.xpath("odm:StudyEventData/@StudyEventOID", namespaces=NS)
    assert events == ["SE.SCREENING", "SE.BASE", "SE.DOSE1", "SE.AE"]
    assert values(document, "IT.SCR.MADRS_TOTAL_SCREENING") == ["31"]
    assert values(document, "IT.DOSING.STATUS") == ["given"]
    assert values(document, "IT.DOSING.PREDOSE_TEMP") == ["36.8"]
    assert values(document, "IT.VITALS.SYSBP") == ["131", "142"]
    assert values(document, "IT.ASSESSMENT.INSTRUMENT") == ["MADRS"]
    assert values(document, "IT.ASSESSMENT.SCORE") == ["31"]
    assert values(document, "IT.AE.TERM") == ["Headache"]
    assert values(document, "IT.AE.SEVERITY") == ["mild"]
    repeat_keys = document.xpath(
        "//odm:ItemGroupData[@ItemGroupOID='IG.VITALS']/@ItemGroupRepeatKey", namespaces=NS
    )
    assert repeat_keys == ["1", "2"]


def test_odm_never_holds_identity_or_free_text(sponsor_client, clinical_data):
    text = body_of(sponsor_client.get(URL)).decode()

    leaked = {what: value for what, value in PLANTED.items() if value in text}
    assert leaked == {}


def test_odm_safe_harbor_reduces_every_date_to_its_year(sponsor_client, clinical_data):
    document = odm_of(sponsor_client)

    date_items = document.xpath(
        "//odm:ItemDef[@DataType='partialDate' or @DataType='date' or @DataType='datetime']/@OID",
        namespaces=NS,
    )
    dated = [value for oid in date_items for value in values(document, oid)]
    assert len(dated) >= 6  # dose, end, two vitals, assessment, AE onset
    assert all(re.fullmatch(r"\d{4}", value) for value in dated), dated


def test_odm_limited_profile_keeps_full_dates_and_stays_valid(
    sponsor_client, clinical_data, sponsor, odm_schema
):
    Sponsor.objects.filter(pk=sponsor.pk).update(export_profile="limited")

    document = odm_of(sponsor_client)

    assert_valid(odm_schema, document)
    item = document.xpath("//odm:ItemDef[@OID='IT.DOSING.DOSED_AT']", namespaces=NS)[0]
    assert item.get("DataType") == "datetime"
    dosed_at = DosingSession.objects.get().dosed_at
    expected = dosed_at.astimezone(datetime.UTC).isoformat().replace("+00:00", "Z")
    assert values(document, "IT.DOSING.DOSED_AT") == [expected]


def test_odm_reports_ages_from_90_as_one_category(sponsor_client, clinical_data, odm_schema):
    participant, _ = clinical_data
    data = {**participant.eligibility_data, "age_years": 93}
    Participant.objects.filter(pk=participant.pk).update(eligibility_data=data)

    document = odm_of(sponsor_client)

    assert_valid(odm_schema, document)
    assert values(document, "IT.SCR.AGE_YEARS") == ["90+"]


def test_odm_query_count_does_not_grow_with_participants(
    sponsor_client, clinical_data, trial_site_b, coordinator_site_b
):
    with CaptureQueriesContext(connection) as few:
        body_of(sponsor_client.get(URL))
    for _ in range(3):
        participant_at(trial_site_b, coordinator_site_b)

    with CaptureQueriesContext(connection) as more:
        body_of(sponsor_client.get(URL))

    assert len(more) == len(few)


def test_odm_of_another_sponsors_trial_is_404(other_sponsor_client, clinical_data):
    assert other_sponsor_client.get(URL).status_code == 404


def test_odm_of_an_unknown_trial_is_404(sponsor_client, db):
    assert sponsor_client.get("/api/v1/trials/NOPE/odm").status_code == 404


def test_odm_without_a_key_is_401(client, clinical_data):
    assert client.get(URL).status_code == 401


def test_odm_is_for_sponsor_keys_only(api_client_of, clinical_data, coordinator_site_a):
    assert api_client_of(coordinator_site_a).get(URL).status_code == 403


def test_odm_download_is_logged_with_its_subject_count(sponsor_client, clinical_data, sponsor):
    body_of(sponsor_client.get(URL))

    logged = ExportRequest.objects.get()
    assert (logged.sponsor, logged.resource, logged.format) == (sponsor, "odm", "xml")
    assert (logged.status_code, logged.rows) == (200, 1)  # the consented participant
    assert logged.api_key is not None and logged.finished_at is not None


def test_odm_answers_a_client_asking_for_xml(sponsor_client, clinical_data, odm_schema):
    response = sponsor_client.get(URL, HTTP_ACCEPT="application/xml")

    assert response.status_code == 200
    assert_valid(odm_schema, etree.fromstring(body_of(response)))


def insert_participants(trial_site, by, count: int, first_number: int) -> None:
    """`count` screened participants in one statement (audit triggers skipped for speed)."""
    data = json.dumps(COMP360_ELIGIBLE_DATA)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        cursor.execute(
            "INSERT INTO trials_participant (trial_id, site_id, number, study_id, status,"
            " status_changed_at, created_at, created_by_id, eligibility_data, updated_at)"
            " SELECT %s, %s, n, 'BULK-' || n, 'eligible', now(), now(), %s, %s::jsonb, now()"
            " FROM generate_series(%s, %s) AS n",
            [
                trial_site.trial_id,
                trial_site.site_id,
                by.pk,
                data,
                first_number,
                first_number + count - 1,
            ],
        )
        # Each consented: only consented participants' data are in the ODM.
        cursor.execute(
            "INSERT INTO trials_consent (participant_id, form_version_id, consented_at,"
            " participant_confirmed, recorded_at, obtained_by_id, recorded_by_id, updated_at)"
            " SELECT p.id, f.id, now(), true, now(), %s, %s, now()"
            " FROM trials_participant p, trials_consentformversion f"
            " WHERE p.study_id LIKE 'BULK-%%' AND p.number >= %s AND f.trial_id = %s",
            [by.pk, by.pk, first_number, trial_site.trial_id],
        )
        cursor.execute("SET session_replication_role = DEFAULT")


def peak_memory_of(stream) -> int:
    """Peak Python memory while the stream is read chunk by chunk and thrown away."""
    gc.collect()
    tracemalloc.start()
    try:
        for _ in stream:
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow  # 10,000 participants
def test_odm_memory_does_not_grow_with_the_trial(
    comp360_protocol, consent_form, trial_site_b, coordinator_site_b, sponsor, trial
):
    insert_participants(trial_site_b, coordinator_site_b, 2_500, 1)
    small = peak_memory_of(odm_stream(sponsor=sponsor, trial=trial))
    insert_participants(trial_site_b, coordinator_site_b, 7_500, 2_501)

    stream = odm_stream(sponsor=sponsor, trial=trial)
    large = peak_memory_of(stream)

    assert stream.rows == 10_000
    # Four times the subjects: a document built in memory would need about four times as much.
    assert large < small * 2, (small, large)
