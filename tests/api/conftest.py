"""The API's cast: the trial's protocol loaded, callers with sessions or sponsor keys."""

import json
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests import factories
from tests.factories import MembershipFactory, SponsorFactory, TrialFactory, UserFactory
from trials.sponsor_api.models import SponsorApiKey
from trials.study.models import ProtocolVersion, Role
from trials.study.services import protocol_load

BROAD_CRITERIA = 200
# One generated field (and criterion) of each type, round and round.
GENERATED_FIELDS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"type": "integer", "min": 0, "max": 100}, {"op": "ge", "value": 10}),
    ({"type": "decimal", "min": 0, "max": 10}, {"op": "le", "value": 5.5}),
    ({"type": "boolean"}, {"op": "is_true"}),
    ({"type": "date"}, {"op": "ge", "value": "2000-01-01"}),
    ({"type": "choice", "choices": ["low", "mid", "high"]}, {"op": "in", "value": ["low", "mid"]}),
    ({"type": "text"}, {"op": "ne", "value": "excluded"}),
]


def protocol_document(filename: str) -> dict:
    """An example protocol file, parsed (once per session), ready to be changed by a test."""
    return factories.protocol_document(filename)


def load_document(document: dict, filename: str) -> ProtocolVersion:
    """Load a protocol document through the real service, as JSON."""
    version, _ = protocol_load(content=json.dumps(document), filename=filename, by=None)
    return version


def broad_document(code: str, sponsor: str, count: int) -> dict:
    """MAPP1's protocol under another code, grown to `count` criteria over fields of every type."""
    document = protocol_document("mapp1.yaml")
    document["trial"].update(code=code, sponsor=sponsor, title=f"{count} criteria")
    screening = document["screening"]
    for index in range(count - len(screening["criteria"])):
        field, rule = GENERATED_FIELDS[index % len(GENERATED_FIELDS)]
        name = f"item_{index:03d}"
        screening["fields"].append({"name": name, "label": f"Item {index}", **field})
        screening["criteria"].append(
            {"id": f"G{index}", "kind": "inclusion", "text": name, "rule": {"field": name, **rule}}
        )
    return document


@pytest.fixture
def comp360_protocol(trial):
    """The cast's trial (COMP360-TRD-P3) with its protocol file loaded as version 1."""
    return load_document(protocol_document("comp360-trd-p3.yaml"), "comp360-trd-p3.yaml")


@pytest.fixture
def mapp1_protocol(db):
    """MAPP1 (16 criteria), sponsored by MAPS; not to be combined with the cast's other_trial."""
    return load_document(protocol_document("mapp1.yaml"), "mapp1.yaml")


@pytest.fixture
def broad_protocol(sponsor):
    """A generated trial of the cast's sponsor with 200 criteria over fields of every type."""
    document = broad_document("BROAD-200", sponsor.name, BROAD_CRITERIA)
    return load_document(document, "broad-200.json")


@pytest.fixture
def api_client_of():
    """An API client logged in (session) as the given user; CSRF not enforced."""

    def login(user):
        client = APIClient()
        client.force_login(user)
        return client

    return login


@pytest.fixture
def key_client_of():
    """An API client sending the given key as `Authorization: Api-Key <key>`."""

    def with_key(key):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        return client

    return with_key


@pytest.fixture
def sponsor_key(sponsor):
    """A working API key of the cast's sponsor (Compass Pathways)."""
    return SponsorApiKey.objects.create_key(sponsor=sponsor, name="Nightly export")[1]


@pytest.fixture
def sponsor_client(key_client_of, sponsor_key):
    return key_client_of(sponsor_key)


@pytest.fixture
def other_sponsor_client(key_client_of, db):
    """A client with the key of another sponsor, who has a trial of their own."""
    other = SponsorFactory(name="Usona Institute")
    TrialFactory(code="USONA-MDD", sponsor=other)
    return key_client_of(SponsorApiKey.objects.create_key(sponsor=other, name="Usona")[1])


@pytest.fixture
def user_without_trials(db):
    return UserFactory(username="no_trials")


@pytest.fixture
def coordinator_of(site_a):
    """Makes a coordinator at the London site of a trial outside the cast (MAPP1, BROAD-200)."""

    def coordinator(trial):
        user = UserFactory(username=f"coordinator_{trial.code.lower()}")
        MembershipFactory(user=user, trial=trial, site=site_a, role=Role.COORDINATOR)
        return user

    return coordinator


@pytest.fixture
def protocol_amendment():
    """Loads an example protocol file, changed by `edit`, as its trial's next version."""

    def amend(filename, edit):
        document = protocol_document(filename)
        edit(document)
        return load_document(document, f"amended-{filename}.json")

    return amend


# --- sponsor exports -------------------------------------------------------------------------

# Identifying text planted in every record that can hold it: no export may ever carry it.
PLANTED = {
    "given_name": "Zebulon",
    "family_name": "Quaternion-Smythe",
    "email": "zebulon.qs@planted.example",
    "phone": "+44 20 7946 0999",
    "address": "99 Planted Lane, Wapping",
    "date_of_birth": "1931-02-28",
    "note": "PLANTED-NOTE-Z9Q",
}


@pytest.fixture
def export_data(randomized_site_a, coordinator_site_a, dosing_team_site_a):
    """One randomized participant (born 1931: 90+) with a record of every exported kind,
    each free-text field holding planted identifying text."""
    import datetime

    from django.utils import timezone

    from trials.enrollment.models import StudyExit
    from trials.participants.models import ParticipantContact
    from trials.safety.models import AdverseEvent, Assessment
    from trials.sessions.models import DosingSession, TherapySession, Visit, VitalSign

    participant = randomized_site_a
    note = PLANTED["note"]
    ParticipantContact.objects.filter(participant=participant).update(
        given_name=PLANTED["given_name"],
        family_name=PLANTED["family_name"],
        email=PLANTED["email"],
        phone=PLANTED["phone"],
        address=PLANTED["address"],
        date_of_birth=datetime.date.fromisoformat(PLANTED["date_of_birth"]),
    )
    visits = {v.event_code: v for v in Visit.objects.filter(participant=participant)}
    dosed = datetime.datetime(2026, 3, 2, 9, 30, 15, tzinfo=datetime.UTC)
    session = DosingSession.objects.create(
        visit=visits["DOSE1"],
        participant=participant,
        status="given",
        kit_code="KIT-PLANTED",
        lot_number="LOT-1",
        dosed_at=dosed,
        ended_at=dosed + datetime.timedelta(hours=7),
        interventions=note,
        rescue_medication=note,
        not_given_reason=note,
        notes=note,
        started_by=coordinator_site_a,
    )
    for minutes in (0, 30, 60):
        VitalSign.objects.create(
            dosing_session=session,
            participant=participant,
            measured_at=dosed + datetime.timedelta(minutes=minutes, microseconds=minutes),
            systolic=120,
            diastolic=80,
            heart_rate=70,
            temperature="36.6",
            recorded_by=coordinator_site_a,
        )
    for code, attended in (("INT1A", True), ("INT1B", False), ("PREP1", True)):
        TherapySession.objects.create(
            visit=visits[code],
            participant=participant,
            attended=attended,
            started_at=dosed + datetime.timedelta(days=1) if attended else None,
            duration_minutes=60 if attended else None,
            facilitator=dosing_team_site_a[0] if attended else None,
            participant_state=note,
            themes=note,
            plan=note,
            missed_reason="" if attended else note,
            recorded_by=coordinator_site_a,
        )
    Assessment.objects.create(
        participant=participant,
        visit=visits["W3"],
        instrument="MADRS",
        score="21.50",
        assessed_at=dosed + datetime.timedelta(days=21),
        recorded_by=coordinator_site_a,
    )
    AdverseEvent.objects.create(
        participant=participant,
        dosing_session=session,
        term="Headache",
        onset_at=dosed + datetime.timedelta(hours=2),
        severity="mild",
        relatedness="possible",
        action_taken="none",
        outcome="recovered",
        description=note,
        reported_by=coordinator_site_a,
    )
    StudyExit.objects.create(
        participant=participant,
        kind="withdrawn",
        reason="other",
        details=note,
        exited_on=timezone.now().date(),
        recorded_by=coordinator_site_a,
    )
    return participant
